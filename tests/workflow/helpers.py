"""Shared set-up for the process tests: any tenant config, an injected clock, store reads.

``tests/workflow/conftest.py`` gives one tenant (``fixtures/process.json``);
these helpers start a tenant from any config with the same users, move the
clock the service and the worker read, and look at what a write left behind
(audit entries, outbox messages, timers, approvals) without going around the
service for the writes themselves.
"""

from __future__ import annotations

import contextlib
import copy
import functools
from collections.abc import AsyncIterator, Callable, Mapping
from datetime import datetime
from typing import Any

import httpx

from core.context import CallContext, Principal
from core.metadata import TenantModel
from core.runtime import Runtime
from core.security import hash_password, issue_token
from core.store import Database
from core.worker import Worker
from tests.api_helpers import make_runtime
from tests.worker.helpers import TEST_ENV
from tests.workflow.conftest import USERS, Clock, ProcApi, process_config

__all__ = [
    "ORDER",
    "Clock",
    "TenantApi",
    "audit",
    "count_rows",
    "create_order",
    "outbox",
    "process_config",
    "record",
    "start_tenant",
    "tasks",
    "timers",
    "transition",
    "use_clock",
    "worker",
]

ORDER = "id version status priority discount total { amount } customer { id } shipDate"


def use_clock(runtime: Runtime, clock: Callable[[], datetime]) -> None:
    """Make every request served by ``runtime`` read ``clock`` as its "now"."""

    def context(model: TenantModel, principal: Principal) -> CallContext:
        return CallContext(model=model, principal=principal, clock=clock)

    runtime.context = context  # type: ignore[method-assign]


@functools.cache
def _password_hash() -> str:
    # Argon2 is slow by design; the tests log in with tokens, one hash serves every user.
    return hash_password("x" * 8)


class TenantApi(ProcApi):
    """``ProcApi`` for any tenant key."""

    def __init__(self, runtime: Runtime, key: str) -> None:
        super().__init__(runtime)
        self.key = key

    async def as_(
        self, who: str, query: str, variables: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        return await self.gql(self.key, self.tokens[who], query, variables)


async def start_tenant(
    db: Database,
    doc: Mapping[str, Any] | None = None,
    *,
    users: Mapping[str, list[str]] = USERS,
    managers: Mapping[str, str] | None = None,
    clock: Callable[[], datetime] | None = None,
) -> TenantApi:
    """A tenant from ``doc`` (default ``fixtures/process.json``) with named users and tokens."""
    doc = copy.deepcopy(dict(doc if doc is not None else process_config()))
    api = TenantApi(await make_runtime(db), str(doc["tenant"]))
    if clock is not None:
        use_clock(api.runtime, clock)
    await api.runtime.apply_config(doc)
    tenant = doc["tenant"]
    api.tokens, api.ids = {}, {}
    for name, roles in users.items():
        uid = await db.add_user(
            tenant, f"{name}@{tenant}.test", name, _password_hash(), roles, "en"
        )
        api.ids[name] = uid
        api.tokens[name] = await issue_token(db, tenant, uid)
    for who, manager in (managers if managers is not None else {"rep": "boss"}).items():
        if who in api.ids and manager in api.ids:
            await db.set_manager(tenant, api.ids[who], api.ids[manager])
    return api


@contextlib.asynccontextmanager
async def worker(runtime: Runtime, clock: Callable[[], datetime]) -> AsyncIterator[Worker]:
    """A worker on ``clock`` that logs emails and whose webhooks go nowhere (POSTs answer 204)."""
    transport = httpx.MockTransport(lambda _request: httpx.Response(204))
    async with (
        httpx.AsyncClient(transport=transport) as http,
        Worker(runtime, clock=clock, http=http, env=TEST_ENV) as w,
    ):
        yield w


# -- GraphQL --------------------------------------------------------------------------


def _body(body: dict[str, Any], name: str) -> dict[str, Any]:
    assert "errors" not in body, body
    return dict(body["data"][name])


async def create_order(api: ProcApi, who: str = "rep", **values: Any) -> dict[str, Any]:
    body = await api.as_(
        who,
        f"mutation($i: OrderCreateInput!) {{ createOrder(input: $i) {{ {ORDER} }} }}",
        {"i": {"title": "Order 1", **values}},
    )
    return _body(body, "createOrder")


async def transition(
    api: ProcApi, who: str, id: str, name: str, comment: str | None = None, **values: Any
) -> dict[str, Any]:
    """The raw response of ``transitionOrder`` (errors included)."""
    return await api.as_(
        who,
        "mutation($id: ID!, $t: String!, $c: String, $i: OrderUpdateInput) { "
        f"transitionOrder(id: $id, transition: $t, comment: $c, input: $i) {{ {ORDER} }} }}",
        {"id": id, "t": name, "c": comment, "i": values or None},
    )


async def record(
    api: ProcApi, id: str, entity: str = "order", fields: str = ORDER
) -> dict[str, Any]:
    body = await api.as_(
        "admin", f"query($id: ID!) {{ {entity}(id: $id) {{ {fields} }} }}", {"id": id}
    )
    return _body(body, entity)


async def tasks(
    api: ProcApi, fields: str = "subject relatedId dueAt done source owner { email }"
) -> list[dict[str, Any]]:
    body = await api.as_("admin", f"{{ tasks(first: 100) {{ edges {{ node {{ {fields} }} }} }} }}")
    return [e["node"] for e in _body(body, "tasks")["edges"]]


# -- what the store holds -------------------------------------------------------------


def _tenant(api: ProcApi) -> str:
    return api.key if isinstance(api, TenantApi) else "proc"


async def audit(api: ProcApi, record_id: str) -> list[dict[str, Any]]:
    return await api.runtime.db.audit_for(_tenant(api), record_id)


async def outbox(api: ProcApi, topic: str | None = None) -> list[dict[str, Any]]:
    rows = await api.runtime.db.pending_outbox(_tenant(api), limit=1000)
    return [r for r in rows if topic is None or r["topic"] == topic]


async def timers(
    api: ProcApi, record_id: str, status: str | None = "pending"
) -> list[dict[str, Any]]:
    rows = await api.runtime.db.jobs.timers_for(_tenant(api), record_id)
    return [r for r in rows if status is None or r["status"] == status]


async def count_rows(api: ProcApi, table: str) -> int:
    tenant = _tenant(api)
    rows = await api.runtime.db._fetch_as(
        tenant, f"SELECT count(*) AS n FROM {table} WHERE tenant_id = {{}}", tenant
    )
    return int(rows[0]["n"])
