"""Resolvers of the per-tenant fields, made per entity and field by small factories.

Every service call goes through ``info.context`` (a :class:`GraphQLContext`);
relations and users are loaded in batches (see :mod:`core.graphql.loaders`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import strawberry
from graphql import GraphQLResolveInfo

from core.context import Record
from core.errors import BadRequest, LimitExceeded, Problem
from core.graphql.context import GraphQLContext
from core.graphql.inputs import to_filter, to_order, to_values
from core.graphql.leaves import StoredValue, SystemValue
from core.graphql.limits import Limits
from core.graphql.loaders import load_record, load_records, load_user
from core.graphql.static import AuditEntry
from core.metadata import EntityDef
from core.query import Filter, Page

__all__ = [
    "DEFAULT_PAGE_SIZE",
    "Connection",
    "StoredValue",
    "SystemValue",
    "audit",
    "create",
    "delete",
    "field_value",
    "get_list",
    "get_one",
    "relation",
    "relation_list",
    "system_value",
    "update",
    "user_ref",
]

Resolver = Callable[..., Any]

#: Rows per page when ``first`` is not given.
DEFAULT_PAGE_SIZE = 50


def _ctx(info: GraphQLResolveInfo) -> GraphQLContext:
    ctx: GraphQLContext = info.context
    return ctx


@dataclass(frozen=True, slots=True)
class Connection:
    """The source of a ``<Type>Connection``: one page plus what ``totalCount`` needs."""

    entity: str
    filter: Filter | None
    records: list[Record]
    page: Page

    def edges(self) -> list[tuple[str, Record]]:
        return list(zip(self.page.cursors, self.records, strict=True))

    def page_info(self) -> dict[str, Any]:
        return {"has_next_page": self.page.has_next, "end_cursor": self.page.end_cursor}

    async def total_count(self, info: GraphQLResolveInfo) -> int:
        ctx = _ctx(info)
        return await ctx.service.count(ctx.call, self.entity, self.filter)


def field_value(key: str) -> Resolver:
    return StoredValue(key)


def system_value(attr: str) -> Resolver:
    return SystemValue(attr)


def relation(key: str, target: str) -> Resolver:
    async def resolve(rec: Record, info: GraphQLResolveInfo) -> Record | None:
        ref = rec.data.get(key)
        return await load_record(_ctx(info), target, ref) if ref else None

    return resolve


def relation_list(key: str, target: str) -> Resolver:
    async def resolve(rec: Record, info: GraphQLResolveInfo) -> list[Record]:
        refs = rec.data.get(key) or []
        return await load_records(_ctx(info), target, list(refs)) if refs else []

    return resolve


def user_ref(get_id: Callable[[Record], str | None]) -> Resolver:
    async def resolve(rec: Record, info: GraphQLResolveInfo) -> dict[str, Any] | None:
        ref = get_id(rec)
        return await load_user(_ctx(info), ref) if ref else None

    return resolve


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date | datetime):
        return value.isoformat()
    return value


def _instant(value: Any) -> datetime:
    return datetime.fromisoformat(value) if isinstance(value, str) else value


def audit(entity: str) -> Resolver:
    async def resolve(rec: Record, info: GraphQLResolveInfo) -> list[AuditEntry]:
        ctx = _ctx(info)
        entries = await ctx.service.audit(ctx.call, entity, rec.id)
        return [
            AuditEntry(
                at=_instant(e["at"]),
                actor_id=strawberry.ID(e["actor"]) if e.get("actor") else None,
                action=str(e["action"]),
                diff=_jsonable(e.get("diff")),
            )
            for e in entries
        ]

    return resolve


def get_one(entity: str) -> Resolver:
    async def resolve(_root: Any, info: GraphQLResolveInfo, id: str) -> Record:
        ctx = _ctx(info)
        return await ctx.service.get(ctx.call, entity, id)

    return resolve


def get_list(entity: str, limits: Limits) -> Resolver:
    async def resolve(
        _root: Any,
        info: GraphQLResolveInfo,
        first: int | None = DEFAULT_PAGE_SIZE,
        filter: Mapping[str, Any] | None = None,
        orderBy: list[Mapping[str, Any]] | None = None,
        after: str | None = None,
    ) -> Connection:
        if first is None:  # an explicit null means the default
            first = DEFAULT_PAGE_SIZE
        ctx = _ctx(info)
        # A tenant may lower the page size (a governor), never raise it.
        tenant_limit = (ctx.call.model.config.get("limits") or {}).get("page_size")
        most = min(limits.max_page_size, int(tenant_limit or limits.max_page_size))
        if first > most:
            raise LimitExceeded(
                f"first is {first}; at most {most} rows per page",
                [Problem("LIMIT_EXCEEDED", f"at most {most}", "first")],
            )
        if first < 0:
            raise BadRequest(
                "first must not be negative", [Problem("MIN", "must be >= 0", "first")]
            )
        condition = to_filter(filter)
        records, page = await ctx.service.list(
            ctx.call, entity, condition, to_order(orderBy), first, after
        )
        return Connection(entity, condition, records, page)

    return resolve


def create(edef: EntityDef) -> Resolver:
    async def resolve(_root: Any, info: GraphQLResolveInfo, input: Mapping[str, Any]) -> Record:
        ctx = _ctx(info)
        values = to_values(edef, ctx.call.model, input)
        return await ctx.service.create(ctx.call, edef.key, values)

    return resolve


def update(edef: EntityDef) -> Resolver:
    async def resolve(
        _root: Any,
        info: GraphQLResolveInfo,
        id: str,
        input: Mapping[str, Any],
        expectedVersion: int | None = None,
    ) -> Record:
        ctx = _ctx(info)
        values = to_values(edef, ctx.call.model, input)
        return await ctx.service.update(ctx.call, edef.key, id, values, expectedVersion)

    return resolve


def transition(edef: EntityDef) -> Resolver:
    async def resolve(
        _root: Any,
        info: GraphQLResolveInfo,
        id: str,
        transition: str,
        comment: str | None = None,
        input: Mapping[str, Any] | None = None,
    ) -> Record:
        ctx = _ctx(info)
        values = to_values(edef, ctx.call.model, input) if input else {}
        return await ctx.service.transition(ctx.call, edef.key, id, transition, comment, values)

    return resolve


def my_tasks(limits: Limits) -> Resolver:
    async def resolve(
        _root: Any, info: GraphQLResolveInfo, due: Any = "today", first: int | None = None
    ) -> list[Record]:
        ctx = _ctx(info)
        if first is not None and first < 0:
            raise BadRequest(
                "first must not be negative", [Problem("MIN", "must be >= 0", "first")]
            )
        size = min(first if first is not None else DEFAULT_PAGE_SIZE, limits.max_page_size)
        window = getattr(due, "value", due)
        return await ctx.service.processes.my_tasks(ctx.call, str(window), size)

    return resolve


def delete(edef: EntityDef) -> Resolver:
    async def resolve(_root: Any, info: GraphQLResolveInfo, id: str) -> Record:
        ctx = _ctx(info)
        return await ctx.service.delete(ctx.call, edef.key, id)

    return resolve
