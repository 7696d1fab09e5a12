"""What a GraphQL request carries: the call context, the service, per-request caches."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from core.context import CallContext, Record
from core.query import Filter, OrderBy, Page

__all__ = ["GraphQLContext", "RecordService", "call_context"]

# Aliases taken before the protocol's ``list`` method shadows the builtin.
_AuditEntries = list[dict[str, Any]]
_Users = list[dict[str, Any]]
_Records = list[Record]


class RecordService(Protocol):
    """The one read/write path (core.service) as the GraphQL API uses it."""

    #: Workflows, approvals, reminders (core.workflow.engine.ProcessEngine).
    processes: Any

    async def transition(
        self,
        ctx: CallContext,
        entity: str,
        id: str,
        transition: str,
        comment: str | None = None,
        values: dict[str, Any] | None = None,
    ) -> Record: ...

    async def get(self, ctx: CallContext, entity: str, id: str) -> Record: ...

    async def get_many(
        self, ctx: CallContext, entity: str, ids: Sequence[str]
    ) -> dict[str, Record]: ...

    async def list(
        self,
        ctx: CallContext,
        entity: str,
        filter: Filter | None,
        order: Sequence[OrderBy],
        first: int,
        after: str | None,
    ) -> tuple[_Records, Page]: ...

    async def count(self, ctx: CallContext, entity: str, filter: Filter | None) -> int: ...

    async def create(self, ctx: CallContext, entity: str, values: dict[str, Any]) -> Record: ...

    async def update(
        self,
        ctx: CallContext,
        entity: str,
        id: str,
        values: dict[str, Any],
        expected_version: int | None,
    ) -> Record: ...

    async def delete(self, ctx: CallContext, entity: str, id: str) -> Record: ...

    async def audit(self, ctx: CallContext, entity: str, id: str) -> _AuditEntries: ...

    async def user_names(
        self, ctx: CallContext, ids: Sequence[str]
    ) -> dict[str, dict[str, Any]]: ...

    async def search_users(self, ctx: CallContext, search: str | None, first: int) -> _Users: ...


@dataclass
class GraphQLContext:
    """Per request. ``loaders`` holds batch loaders keyed by what they load."""

    call: CallContext
    service: RecordService
    loaders: dict[Any, Any] = field(default_factory=dict)


def call_context(info: Any) -> CallContext:
    """A plugin resolver's call context (``info`` is strawberry's): the caller's, with
    the service reachable as ``ctx.extra["service"]``, as in stage hooks."""
    call: CallContext = info.context.call
    call.extra.setdefault("service", info.context.service)
    return call
