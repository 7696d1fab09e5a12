"""A benchmark HTTP server: ``python server.py DATABASE_URL tessera|floor PORT``.

``tessera`` serves ``core.http.create_app`` exactly as ``crm serve`` does
(uvicorn, one process). ``floor`` serves the same work done directly, on the
same server stack (uvicorn, h11, asyncio): a bare ASGI callable that parses
the body with orjson, runs the raw SQL the store would run (same statement,
same database, same role, the row-level security setting in the same
transaction) and encodes the answer with orjson. No authentication, no
GraphQL, no validation: that is what the ratio to the floor measures.

Floor routes (JSON bodies):

- ``POST /floor/list`` ``{"tenant", "stage", "first"}``: the page query of
  ``ent00List(filter: {stage: {eq}}, orderBy: [{field: code}], first)``;
- ``POST /floor/create`` ``{"tenant", "values"}``: one record row, its audit
  row and its outbox row, in one transaction;
- ``POST /floor/typename``: ``{"data": {"__typename": "Query"}}``.
"""

from __future__ import annotations

import asyncio
import re
import sys
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from core.metadata import NUMBER_SLOTS, TEXT_SLOTS, EntityDef
from core.query import Condition, OrderBy
from core.runtime import Runtime
from core.store.database import keep_session
from core.store.querying import compile_order
from core.store.values import bind_number, bind_time
from tests.benchmarks.generator import MAIN_ENTITY

Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]

#: The node fields the benchmark's list query selects.
NODE_FIELDS = ("code", "stage", "due", "quantity", "amount", "title", "price", "active", "email")


def _numbered(sql: str, dialect: str) -> str:
    """piccolo's ``{}`` placeholders as the driver's own."""
    if dialect == "sqlite":
        return sql.replace("{}", "?")
    counter = iter(range(1, 10_000))
    return re.sub(r"\{\}", lambda _: f"${next(counter)}", sql)


class Floor:
    """The direct way: one driver connection (pool), raw SQL, orjson."""

    def __init__(self, url: str, entity: EntityDef, page_sql: Callable[[str, str, int], Any]):
        self.url = url
        self.entity = entity
        self.page_sql = page_sql
        self.dialect = "sqlite" if url.startswith("sqlite") else "postgresql"
        self.pool: Any = None
        self.conn: Any = None
        self.write_lock = asyncio.Lock()
        self.slots = {f.slot: key for key, f in entity.fields.items() if f.slot}

    async def start(self) -> None:
        if self.dialect == "postgresql":
            import asyncpg

            self.pool = await asyncpg.create_pool(
                self.url, min_size=1, max_size=10, reset=keep_session
            )
        else:
            import aiosqlite

            self.conn = await aiosqlite.connect(self.url.removeprefix("sqlite:///"))
            self.conn.row_factory = aiosqlite.Row

    async def stop(self) -> None:
        if self.pool is not None:
            await self.pool.close()
        if self.conn is not None:
            await self.conn.close()

    async def list(self, body: dict[str, Any]) -> bytes:
        tenant, first = body["tenant"], int(body.get("first", 50))
        sql = self.page_sql(tenant, body["stage"], first + 1)
        text = _numbered(sql.text, self.dialect)
        if self.pool is not None:
            async with self.pool.acquire() as conn, conn.transaction():
                await conn.execute("SELECT set_config('tessera.tenant', $1, true)", tenant)
                rows = [dict(r) for r in await conn.fetch(text, *sql.args)]
        else:
            async with self.conn.execute(text, sql.args) as cur:
                rows = [dict(r) for r in await cur.fetchall()]
        edges = []
        for row in rows[:first]:
            data = orjson.loads(row["data"]) if isinstance(row["data"], str) else row["data"]
            node = {"id": row["id"], **{k: data.get(k) for k in NODE_FIELDS}}
            edges.append({"cursor": row["id"], "node": node})
        page = {
            "hasNextPage": len(rows) > first,
            "endCursor": edges[-1]["cursor"] if edges else None,
        }
        return orjson.dumps({"data": {"list": {"edges": edges, "pageInfo": page}}})

    async def create(self, body: dict[str, Any]) -> bytes:
        tenant, values = body["tenant"], body["values"]
        now = datetime.now(UTC)
        at = bind_time(self.dialect, now)  # type: ignore[arg-type]
        rid = f"{now.timestamp():020.6f}{uuid.uuid4().hex[:8]}"
        slots = []
        for slot in (*TEXT_SLOTS, *NUMBER_SLOTS):
            key = self.slots.get(slot)
            value = values.get(key) if key else None
            if isinstance(value, dict):
                value = value.get("amount")
            if value is not None and slot in NUMBER_SLOTS:
                value = bind_number(self.dialect, value)  # type: ignore[arg-type]
            slots.append(value)
        data = orjson.dumps(values).decode()
        record = (tenant, rid, self.entity.key, 1, data, at, "u", at, "u", False, *slots)
        audit = (tenant, uuid.uuid4().hex, rid, self.entity.key, "create", "u", at, data)
        payload = orjson.dumps({"id": rid}).decode()
        outbox = (tenant, uuid.uuid4().hex, "record.created", payload, uuid.uuid4().hex, at, at, 0)
        record_sql = (
            "INSERT INTO record (tenant_id, id, entity, version, data, created_at, created_by, "
            f"updated_at, updated_by, archived, {', '.join((*TEXT_SLOTS, *NUMBER_SLOTS))}) "
            "VALUES ({})".format(", ".join("{}" for _ in record))
        )
        audit_sql = (
            "INSERT INTO audit (tenant_id, id, record_id, entity, action, actor, at, diff) "
            "VALUES ({}, {}, {}, {}, {}, {}, {}, {})"
        )
        outbox_sql = (
            "INSERT INTO outbox (tenant_id, id, topic, payload, idempotency_key, created_at, "
            "available_at, attempts) VALUES ({}, {}, {}, {}, {}, {}, {}, {})"
        )
        statements = [
            (_numbered(s, self.dialect), a)
            for s, a in ((record_sql, record), (audit_sql, audit), (outbox_sql, outbox))
        ]
        if self.pool is not None:
            async with self.pool.acquire() as conn, conn.transaction():
                await conn.execute("SELECT set_config('tessera.tenant', $1, true)", tenant)
                for text, args in statements:
                    await conn.execute(text, *args)
        else:
            async with self.write_lock:
                await self.conn.execute("BEGIN IMMEDIATE")
                for text, args in statements:
                    await self.conn.execute(text, args)
                await self.conn.commit()
        return orjson.dumps({"data": {"create": {"id": rid, "version": 1}}})

    async def __call__(self, scope: MutableMapping[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await self.start()
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await self.stop()
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        path = scope["path"]
        if path == "/healthz":
            out = b'{"status":"ok"}'
        else:
            payload = orjson.loads(body)
            if path == "/floor/list":
                out = await self.list(payload)
            elif path == "/floor/create":
                out = await self.create(payload)
            else:
                out = orjson.dumps({"data": {"__typename": "Query"}})
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(out)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": out})


def floor_for(db: Any, model: Any) -> Floor:
    """The floor app for ``model``'s main entity on ``db`` (not started)."""
    entity = model.entities[MAIN_ENTITY]
    keys = compile_order(db.dialect, entity, [OrderBy("code")])

    def page_sql(tenant: str, stage: str, limit: int) -> Any:
        # The store's own statement text and arguments: the floor runs the same SQL.
        return db._page_sql(tenant, entity, Condition("stage", "eq", stage), keys, limit, None)

    return Floor(db.url, entity, page_sql)


async def _floor_app(url: str) -> Floor:
    rt = await Runtime.open(url, migrate=False)
    try:
        tenants = [t["tenant_id"] for t in await rt.db.list_tenants()]
        model = await rt.model(next(t for t in tenants if t.startswith("bench-")))
    finally:
        await rt.close()
    return floor_for(rt.db, model)


async def _serve(url: str, app_name: str, port: int) -> None:
    """Open everything on the server's own event loop (asyncpg pools are bound to it)."""
    import uvicorn

    if app_name == "floor":
        app: Any = await _floor_app(url)
    else:
        from core.http import create_app

        rt = await Runtime.open(url, migrate=False)
        app = create_app(rt)
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    await uvicorn.Server(config).serve()


def main() -> None:
    asyncio.run(_serve(sys.argv[1], sys.argv[2], int(sys.argv[3])))


if __name__ == "__main__":
    main()
