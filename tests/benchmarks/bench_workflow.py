"""What processes cost on the write path, against the floor of raw SQL.

Run: ``python tests/benchmarks/bench_workflow.py [--rounds N]``. Uses a
SQLite file in a temporary directory, and PostgreSQL when
``TESSERA_BENCH_POSTGRES_URL`` names a database the benchmark may fill
(e.g. ``postgresql://postgres@127.0.0.1:5432/test``; its tables are
created if missing). Prints a Markdown table of medians per operation.

Measured, all through ``RecordService`` (the path GraphQL takes, minus HTTP):

- ``update``: a plain edit of an order with a rule (the floor of a write);
- ``transition``: ``confirm`` with a guard reading ``related.customer``, two
  actions (set a field, create a task with a business-day due date) and the
  field_changed automation that queues a notification;
- ``approval``: a transition that opens a two-step approval, then both steps
  approved (three service calls);
- ``floor``: raw SQL doing the minimum a transition writes — update the
  record row, insert an audit row and an outbox row — in one transaction.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from core.context import CallContext, Principal
from core.plugins import PluginHost
from core.runtime import Runtime
from core.security import hash_password
from core.store import open_database
from core.store.values import dump_json

CONFIG = Path(__file__).resolve().parents[1] / "fixtures" / "process.json"


async def _timed(fn: Callable[[], Awaitable[Any]], rounds: int) -> list[float]:
    out: list[float] = []
    for _ in range(rounds):
        start = time.perf_counter()
        await fn()
        out.append((time.perf_counter() - start) * 1000)
    return out


async def run(url: str, rounds: int) -> dict[str, float]:
    db = await open_database(url)
    await db.migrate()
    rt = Runtime(db, PluginHost.from_entry_points())
    doc = json.loads(CONFIG.read_text())
    doc["tenant"] = f"bench{int(time.time() * 1000) % 10**8}"
    tenant = doc["tenant"]
    await rt.apply_config(doc)
    users: dict[str, Principal] = {}
    for name, roles in (("rep", ["rep"]), ("boss", ["manager"]), ("fin", ["finance"])):
        uid = await db.add_user(tenant, f"{name}@b.test", name, hash_password("x" * 8), roles, "en")
        users[name] = Principal(
            tenant=tenant, user_id=uid, email=f"{name}@b.test", roles=tuple(roles)
        )
    model = await rt.model(tenant)

    def ctx(who: str) -> CallContext:
        return CallContext(model=model, principal=users[who])

    svc = rt.service
    customer = await svc.create(ctx("rep"), "customer", {"name": "ACME"})

    async def new_order(discount: str = "0") -> str:
        rec = await svc.create(
            ctx("rep"),
            "order",
            {
                "title": "Order",
                "customer": customer.id,
                "total": {"amount": "100", "currency": "EUR"},
                "discount": discount,
            },
        )
        return rec.id

    orders = [await new_order() for _ in range(rounds)]
    approvals = [await new_order("20") for _ in range(rounds)]
    edit_target = await new_order()
    counter = iter(range(10**9))

    async def update() -> None:
        await svc.update(ctx("rep"), "order", edit_target, {"notes": f"n{next(counter)}"}, None)

    pending = iter(orders)

    async def transition() -> None:
        await svc.transition(ctx("rep"), "order", next(pending), "confirm")

    waiting = iter(approvals)

    async def approval() -> None:
        rid = next(waiting)
        await svc.transition(ctx("rep"), "order", rid, "confirm")
        [row] = await db.approvals.inbox(tenant, users["boss"].user_id)
        await svc.processes.decide(ctx("boss"), row["id"], True, "ok")
        await svc.processes.decide(ctx("fin"), row["id"], True, "ok")

    raw_id = await new_order()

    async def floor() -> None:
        n = next(counter)
        async with db.tenant_scope(tenant), db.transaction():
            await db.execute(
                "UPDATE record SET data = {}, version = version + 1 WHERE tenant_id = {} AND id = {}",
                dump_json({"title": f"Order {n}", "status": "confirmed"}),
                tenant,
                raw_id,
            )
            await db.execute(
                "INSERT INTO audit (tenant_id, id, record_id, entity, action, actor, at, diff) "
                "VALUES ({}, {}, {}, 'order', 'update', 'x', {}, {})",
                tenant,
                f"b{n}{time.time_ns()}",
                raw_id,
                db._time(datetime.now(UTC)),
                dump_json({"status": ["draft", "confirmed"]}),
            )
            await db.execute(
                "INSERT INTO outbox (tenant_id, id, topic, payload, idempotency_key, created_at, "
                "available_at, attempts) VALUES ({}, {}, 'record.updated', {}, {}, {}, {}, 0)",
                tenant,
                f"o{n}{time.time_ns()}",
                dump_json({"id": raw_id}),
                f"k{n}{time.time_ns()}",
                db._time(datetime.now(UTC)),
                db._time(datetime.now(UTC)),
            )

    results: dict[str, float] = {}
    for name, fn in (
        ("floor", floor),
        ("update", update),
        ("transition", transition),
        ("approval", approval),
    ):
        results[name] = statistics.median(await _timed(fn, rounds))
    await db.close()
    return results


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=60)
    args = parser.parse_args()
    engines: list[tuple[str, str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        engines.append(("SQLite", f"sqlite:///{tmp}/bench.db"))
        pg = os.environ.get("TESSERA_BENCH_POSTGRES_URL")
        if pg:
            engines.append(("PostgreSQL", pg))
        rows = {label: await run(url, args.rounds) for label, url in engines}
    print(f"| operation (median of {args.rounds}) | " + " | ".join(rows) + " |")
    print("|---|" + "---|" * len(rows))
    for op in ("floor", "update", "transition", "approval"):
        cells = []
        for res in rows.values():
            ratio = res[op] / res["floor"]
            cells.append(f"{res[op]:.2f} ms ({ratio:.1f}× floor)")
        print(f"| {op} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    asyncio.run(main())
