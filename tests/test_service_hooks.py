"""A failing plugin hook leaves no trace; stage hooks see and shape the write."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from core.context import CallContext, Operation, Record
from core.hookspecs import hookimpl
from core.store import Database
from tests.api_helpers import Api, acme_config, error_codes, make_runtime, plugin_manifest


class Strict:
    """A tenant plugin: titles are upper-cased; the title 'BOOM' fails after persisting."""

    TESSERA_MANIFEST = plugin_manifest("strict")

    @hookimpl
    def tessera_pre_operation(self, ctx: CallContext, operation: Operation) -> None:
        title = operation.values.get("title")
        if isinstance(title, str):
            operation.values["title"] = title.upper()

    @hookimpl
    async def tessera_post_operation(
        self, ctx: CallContext, operation: Operation, record: Record
    ) -> None:
        if record.data.get("title") == "BOOM":
            raise RuntimeError("the ledger refused this widget")


@pytest.fixture
async def api(db: Database) -> AsyncIterator[Api]:
    api = Api(await make_runtime(db, [Strict()]))
    yield api
    await api.close()


async def _counts(db: Database, tenant: str) -> dict[str, int]:
    out = {}
    async with db.tenant_scope(tenant):
        for table in ("record", "audit", "outbox", "unique_value"):
            rows = await db.fetch(
                f"SELECT COUNT(*) AS n FROM {table} WHERE tenant_id = {{}}", tenant
            )
            out[table] = int(rows[0]["n"])
    return out


async def test_failing_post_operation_hook_leaves_no_trace(api: Api) -> None:
    doc: dict[str, Any] = acme_config()
    doc["plugins"] = ["strict"]
    token = await api.tenant(doc)
    before = await _counts(api.runtime.db, "acme")
    body = await api.gql(
        "acme",
        token,
        'mutation { createWidget(input: {title: "boom", serial: "SN-0001"}) { id } }',
    )
    assert error_codes(body) == ["PLUGIN_ERROR"]
    assert "ledger refused" in body["errors"][0]["message"]
    assert await _counts(api.runtime.db, "acme") == before
    # The unique value was not left claimed either: the same serial is free.
    ok = await api.gql(
        "acme",
        token,
        'mutation { createWidget(input: {title: "fine", serial: "SN-0001"}) { title } }',
    )
    assert ok["data"]["createWidget"]["title"] == "FINE"


async def test_hooks_of_a_plugin_the_tenant_does_not_enable_never_run(api: Api) -> None:
    token = await api.tenant(acme_config())  # plugins: []
    body = await api.gql(
        "acme", token, 'mutation { createWidget(input: {title: "boom"}) { title } }'
    )
    assert body["data"]["createWidget"]["title"] == "boom"


class Slow:
    """Takes its time in the write transaction (a remote call that hangs, say)."""

    TESSERA_MANIFEST = plugin_manifest("slow")

    @hookimpl
    async def tessera_pre_operation(self, ctx: CallContext, operation: Operation) -> None:
        if operation.values.get("name") == "slow":
            await asyncio.sleep(5)


async def test_a_request_past_the_tenants_wall_time_is_stopped_and_rolled_back(
    db: Database,
) -> None:
    api = Api(await make_runtime(db, [Slow()]))
    doc = acme_config("timed")
    doc["plugins"] = ["slow"]
    doc["limits"] = {"request_seconds": 0.5}
    token = await api.tenant(doc)
    create = "mutation($n: String!) { createPart(input: {name: $n}) { id } }"
    started = time.perf_counter()
    body = await api.gql("timed", token, create, {"n": "slow"})
    assert time.perf_counter() - started < 3
    assert body["_status"] == 503
    assert error_codes(body) == ["TIMEOUT"]
    assert body["errors"][0]["extensions"]["errors"][0]["code"] == "REQUEST_TIMEOUT"
    # Nothing was saved, and the server goes on serving.
    body = await api.gql("timed", token, create, {"n": "quick"})
    assert "errors" not in body, body
    body = await api.gql("timed", token, "{ parts { totalCount edges { node { name } } } }")
    assert body["data"]["parts"]["totalCount"] == 1
    await api.close()


async def test_a_tenant_may_lower_the_page_size(db: Database) -> None:
    api = Api(await make_runtime(db))
    doc = acme_config("paged")
    doc["limits"] = {"page_size": 20}
    token = await api.tenant(doc)
    body = await api.gql("paged", token, "{ parts(first: 21) { totalCount } }")
    assert error_codes(body) == ["LIMIT_EXCEEDED"] and "at most 20" in body["errors"][0]["message"]
    body = await api.gql("paged", token, "{ parts(first: 20) { totalCount } }")
    assert body["data"] == {"parts": {"totalCount": 0}}
    await api.close()
