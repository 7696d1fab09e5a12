"""The API benchmarks of the "Performance" issue: P1, P2, P4, P6 and P7, on both engines.

Run: ``python tests/benchmarks/bench_api.py`` (``make bench`` runs it). Options:
``--records N`` (the big tenant, default 1,000,000), ``--engines sqlite,postgresql``,
``--fresh`` (regenerate the cached databases), ``--quick`` (fewer samples),
``--profile`` (cProfile of P1 and P2 in-process, top functions),
``--only P1,P4`` (default: all; P6 re-indexes the big tenant twice, about
15 minutes on both engines, ``--only P1,P2,P4,P7`` leaves it out). PostgreSQL at ``TESSERA_BENCH_POSTGRES_SERVER`` (default
``postgresql://postgres@127.0.0.1:5432/postgres``); if it is unreachable only
SQLite runs.

Every line is: median (p99, lowest–highest run median), the floor measured the
same way, and the ratio of the medians. HTTP measurements drive a uvicorn
subprocess with a minimal keep-alive client (common.RawClient); the floor is ``server.py floor`` on the same
stack (see its docstring). Generated data is cached (``TESSERA_BENCH_CACHE``,
PostgreSQL database ``tessera_bench_v<N>``) and reused while its record counts
match.

- P1: ``ent00List`` over HTTP, 50 rows, filter on an indexed enum, sort on an
  indexed text field, on the tenant with ``--records`` records and on one with
  10,000; targets p50 ≤ 5 ms, ≤ 4× floor, p50(big) ≤ 1.5× p50(10k).
- P2: ``createEnt00`` over HTTP, one client, sequential; target ≥ 400 records/s.
- P4: the tenant schema build for the reference config; targets ≤ 50 ms,
  ≤ 2 MiB retained. Floor: graphql-core assembling a schema of the same,
  already built, types (its type-map collection); graphql-core's
  ``build_schema`` of the printed SDL is shown for comparison.
- P6: ``crm tenant apply`` indexing one more field of the big tenant
  (then its undo) under paced load: the apply's return time, when the field's
  query is answered right, the re-index's duration, the longest write on
  another tenant and on the same one, other tenants' read p99 during it.
- P7: ``{ __typename }`` and a 10-row list under 16 concurrent connections;
  targets ≥ 1,500 and ≥ 800 requests/s per worker process.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import io
import itertools
import logging
import os
import pstats
import statistics
import sys
import time
import tracemalloc
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from core.metadata import TEXT_SLOTS
from core.reindex import Backfill
from core.runtime import Runtime
from core.security import hash_password, issue_token
from tests.benchmarks.common import (
    Measurement,
    RawClient,
    Stats,
    bench_database_url,
    markdown_table,
    serve,
    throughput,
    timed,
)
from tests.benchmarks.generator import MAIN_ENTITY, bulk_load, reference_config

BIG, SMALL, WRITE = "bench-big", "bench-small", "bench-write"
SMALL_RECORDS = 10_000

LIST_QUERY = """query List($stage: Ent00Stage!, $first: Int!) {
  ent00List(filter: {stage: {eq: $stage}}, orderBy: [{field: code}], first: $first) {
    edges { cursor node { id code stage due quantity amount { amount currency }
                          title price active email } }
    pageInfo { hasNextPage endCursor }
  }
}"""

CREATE_QUERY = """mutation Create($input: Ent00CreateInput!) {
  createEnt00(input: $input) { id version }
}"""

TYPENAME_QUERY = "{ __typename }"

# Successive lists ask for different stages (a sixth of the records each).
_STAGES = itertools.cycle(("new", "open", "quoted", "won"))


def create_input(n: int) -> dict[str, Any]:
    """Values of one created record (GraphQL input names; the floor stores them as given)."""
    return {
        "code": f"W{n:09d}",
        "stage": "open",
        "due": "2025-06-30",
        "quantity": n % 1000,
        "amount": {"amount": "125.50", "currency": "EUR"},
        "title": f"Created {n}",
        "price": "19.99",
        "active": True,
        "email": f"w{n}@example.com",
    }


async def prepare(url: str, admin: str | None, records: int) -> dict[str, Any]:
    """Tenants, users and tokens; bulk records where the cached counts differ."""
    rt = await Runtime.open(url)
    out: dict[str, Any] = {"tokens": {}, "generation": {}}
    try:
        for tenant, count in ((BIG, records), (SMALL, SMALL_RECORDS), (WRITE, 0)):
            if (await rt.apply_config(reference_config(tenant))).reindex:
                await rt.reindex(tenant)  # a P6 run was cut short: back to the cached shape
            model = await rt.model(tenant)
            entity = model.entities[MAIN_ENTITY]
            have = await rt.db.count_records(tenant, entity, None)
            if have != count:
                async with rt.db.tenant_scope(tenant), rt.db.transaction():
                    await rt.db.execute("DELETE FROM record WHERE tenant_id = {}", tenant)
                if count:
                    seconds = await bulk_load(rt.db, tenant, entity, count, admin_url=admin)
                    out["generation"][tenant] = seconds
                    print(f"  generated {count:,} records for {tenant} in {seconds:.1f} s")
            user = await rt.db.get_user(tenant, "bench@example.com")
            uid = (
                user["id"]
                if user
                else await rt.db.add_user(
                    tenant, "bench@example.com", "Bench", hash_password("x" * 12), ["admin"], "en"
                )
            )
            out["tokens"][tenant] = await issue_token(rt.db, tenant, uid)
    finally:
        await rt.close()
    return out


def _check(body: dict[str, Any]) -> None:
    if body.get("errors"):
        raise RuntimeError(f"benchmark request failed: {body['errors']}")


async def bench_p1(
    engine: str, url: str, tokens: dict[str, str], records: int, samples: int, runs: int
) -> list[Measurement]:
    out: list[Measurement] = []
    work: dict[str, Stats] = {}
    with serve(url, "tessera") as base:
        client = RawClient(base)
        try:
            for tenant in (BIG, SMALL):
                headers = {"Authorization": f"Bearer {tokens[tenant]}"}

                async def call(tenant: str = tenant, headers: dict[str, str] = headers) -> None:
                    stage = next(_STAGES)
                    _, body = await client.post(
                        f"/t/{tenant}/graphql",
                        {"query": LIST_QUERY, "variables": {"stage": stage, "first": 50}},
                        headers,
                    )
                    _check(body)
                    assert len(body["data"]["ent00List"]["edges"]) == 50

                work[tenant] = await timed(call, samples, runs)
        finally:
            await client.close()
    floors: dict[str, Stats] = {}
    with serve(url, "floor") as base:
        client = RawClient(base)
        try:
            for tenant in (BIG, SMALL):

                async def floor(tenant: str = tenant) -> None:
                    stage = next(_STAGES)
                    _, body = await client.post(
                        "/floor/list", {"tenant": tenant, "stage": stage, "first": 50}
                    )
                    assert len(body["data"]["list"]["edges"]) == 50

                floors[tenant] = await timed(floor, samples, runs)
        finally:
            await client.close()
    for tenant, n in ((BIG, records), (SMALL, SMALL_RECORDS)):
        m = Measurement(f"P1 list 50 rows, {n:,} records", engine, work=work[tenant])
        m.floor = floors[tenant]
        out.append(m)
    growth = work[BIG].median / work[SMALL].median
    out[0].note = f"p50 {records:,} / p50 10k = {growth:.2f}× (target ≤ 1.5×)"
    out[0].extra["growth"] = growth
    return out


async def bench_p2(
    engine: str, url: str, tokens: dict[str, str], samples: int, runs: int
) -> Measurement:
    counter = iter(range(10**9))
    headers = {"Authorization": f"Bearer {tokens[WRITE]}"}
    with serve(url, "tessera") as base:
        client = RawClient(base)

        async def call() -> None:
            _, body = await client.post(
                f"/t/{WRITE}/graphql",
                {"query": CREATE_QUERY, "variables": {"input": create_input(next(counter))}},
                headers,
            )
            _check(body)

        work = await timed(call, samples, runs)
        await client.close()
    with serve(url, "floor") as base:
        client = RawClient(base)

        async def floor() -> None:
            status, _ = await client.post(
                "/floor/create", {"tenant": WRITE, "values": create_input(next(counter))}
            )
            assert status == 200

        floor_stats = await timed(floor, samples, runs)
        await client.close()
    rate = 1000 / work.median
    return Measurement(
        "P2 create over HTTP, sequential",
        engine,
        work=work,
        floor=floor_stats,
        note=f"{rate:.0f} records/s (target ≥ 400); floor {1000 / floor_stats.median:.0f}/s",
        extra={"rate": rate},
    )


async def bench_p4(url: str, engine: str, rounds: int, runs: int) -> Measurement:
    """Schema build time and retained memory for the reference config (in-process)."""
    from graphql import GraphQLSchema, build_schema, print_schema

    rt = await Runtime.open(url)
    try:
        model = await rt.model(BIG)
        registry = rt.schemas
        built = registry._build(model)._schema  # warm: imports, static schema, caches
        types = [t for name, t in built.type_map.items() if not name.startswith("__")]
        sdl = print_schema(built)

        async def build() -> None:
            registry._build(model)

        async def floor() -> None:
            # What any schema of these types costs: graphql-core collecting its type map.
            GraphQLSchema(query=built.query_type, mutation=built.mutation_type, types=types)

        async def from_sdl() -> None:
            build_schema(sdl)

        work = await timed(build, rounds, runs, warmup=1)
        floor_stats = await timed(floor, rounds, runs, warmup=1)
        sdl_stats = await timed(from_sdl, 3, 1, warmup=0)
        gc.collect()
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        kept = registry._build(model)
        gc.collect()
        retained = (tracemalloc.get_traced_memory()[0] - before) / 2**20
        tracemalloc.stop()
        count = len(kept._schema.type_map)
    finally:
        await rt.close()
    return Measurement(
        "P4 schema build, reference config",
        engine,
        work=work,
        floor=floor_stats,
        note=f"{retained:.2f} MiB retained, {count} types (targets ≤ 50 ms, ≤ 2 MiB); "
        f"floor: graphql-core collecting the same types; from SDL {sdl_stats.median:.0f} ms",
        extra={"retained_mib": retained},
    )


P6_UPDATE = """mutation Update($id: ID!, $input: Ent00UpdateInput!) {
  updateEnt00(id: $id, input: $input) { id version }
}"""
P6_TITLE_QUERY = """query Titles($from: String!) {
  ent00List(filter: {title: {gte: $from}}, orderBy: [{field: title}], first: 50) {
    edges { node { id title } }
  }
}"""
#: Paced load while the apply runs (seconds between requests, per loop).
P6_READ_EVERY, P6_CREATE_EVERY, P6_UPDATE_EVERY = 0.02, 0.05, 0.1
P6_BASELINE_SECONDS = 20.0  # of load before the apply, and 10 s after the re-index


async def _paced(
    every: float, call: Callable[[], Awaitable[None]], stop: asyncio.Event
) -> list[tuple[float, float]]:
    """Call ``call`` every ``every`` seconds until ``stop``; (wall start, latency ms) each.

    A request that stalls is measured whole (that is the wait); the loop then
    goes on from now rather than bursting to catch up.
    """
    out: list[tuple[float, float]] = []
    due = time.perf_counter()
    while not stop.is_set():
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        wall, began = time.time(), time.perf_counter()
        await call()
        out.append((wall, (time.perf_counter() - began) * 1000))
        due = max(due + every, time.perf_counter())
    return out


def _window(samples: list[tuple[float, float]], start: float, end: float) -> list[float]:
    return [ms for at, ms in samples if start <= at <= end]


def _p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] if ordered else float("nan")


async def _p6_child(url: str, config_path: str) -> None:
    """In its own process, as ``crm tenant apply`` does: apply, then re-index with progress.

    Prints JSON lines: ``applied`` (wall times around ``apply_config``), a
    ``progress`` line now and then, ``done`` (wall time, rows, seconds).
    """
    import json

    rt = await Runtime.open(url)
    try:
        doc = json.loads(Path(config_path).read_text())
        started = time.time()
        result = await rt.apply_config(doc, actor="bench")
        returned = time.time()
        pending = [(t.entity, t.describe(), t.rows_total) for t in result.reindex]
        print(json.dumps({"event": "applied", "start": started, "return": returned,
                          "reindex": pending}), flush=True)  # fmt: skip

        def progress(p: Any) -> None:
            print(json.dumps({"event": "progress", "line": p.line()}), flush=True)

        # What Runtime.reindex runs, with each batch's duration kept (the lock it held).
        took: list[float] = []
        runner = Backfill(rt.db, settle=rt.config_check_seconds, progress=progress)
        pace = runner.pause

        def pause(seconds: float) -> float:
            took.append(seconds)
            return pace(seconds)

        runner.pause = pause  # type: ignore[method-assign]
        report = await runner.run(doc["tenant"])
        q = statistics.quantiles(took, n=100) if len(took) > 1 else took * 99
        print(json.dumps({"event": "done", "at": time.time(), "rows": report.rows_checked,
                          "changed": report.rows_changed, "seconds": report.seconds,
                          "batches": len(took), "batch_ms": [round(q[49] * 1000),
                          round(q[89] * 1000), round(q[98] * 1000), round(max(took) * 1000)]}),
              flush=True)  # fmt: skip
    finally:
        await rt.close()


async def _p6_one(
    url: str,
    tokens: dict[str, str],
    ids: list[str],
    doc: dict[str, Any],
    probe: tuple[str, list[str]] | None,
) -> dict[str, Any]:
    """One apply of ``doc`` to the big tenant in a child process, under paced load.

    Load (each its own keep-alive connection to the app server): a 50-row list
    on the 10k tenant every 20 ms, a create on another tenant every 50 ms, an
    update of a big-tenant record every 100 ms; a baseline of 8 s before the
    apply. ``probe``: a title and the ids the title query must return; it is
    asked in a loop once the apply returns, until the answer is right.
    """
    import json
    import random
    import subprocess
    import tempfile

    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(doc, f)
        config_path = f.name
    rng = random.Random(6)
    counter = iter(range(10**9))
    heads = {t: {"Authorization": f"Bearer {tokens[t]}"} for t in (BIG, SMALL, WRITE)}
    out: dict[str, Any] = {}
    with serve(url, "tessera") as base:
        clients = [RawClient(base) for _ in range(4)]
        reader, creator, updater, prober = clients

        async def read() -> None:
            _, body = await reader.post(
                f"/t/{SMALL}/graphql",
                {"query": LIST_QUERY, "variables": {"stage": next(_STAGES), "first": 50}},
                heads[SMALL],
            )
            _check(body)

        async def create() -> None:
            _, body = await creator.post(
                f"/t/{WRITE}/graphql",
                {"query": CREATE_QUERY, "variables": {"input": create_input(next(counter))}},
                heads[WRITE],
            )
            _check(body)

        async def update() -> None:
            _, body = await updater.post(
                f"/t/{BIG}/graphql",
                {
                    "query": P6_UPDATE,
                    "variables": {
                        "id": rng.choice(ids),
                        "input": {"quantity": rng.randrange(1000)},
                    },
                },
                heads[BIG],
            )
            _check(body)

        try:
            for _ in range(20):  # warm caches and connections
                await read()
                await create()
                await update()
            stop = asyncio.Event()
            loops = [
                asyncio.create_task(_paced(every, call, stop))
                for every, call in (
                    (P6_READ_EVERY, read),
                    (P6_CREATE_EVERY, create),
                    (P6_UPDATE_EVERY, update),
                )
            ]
            baseline_start = time.time()
            await asyncio.sleep(P6_BASELINE_SECONDS)
            baseline_end = time.time()
            env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
            child = subprocess.Popen(
                [sys.executable, __file__, "--p6-child", url, config_path],
                env=env,
                stdout=subprocess.PIPE,
                text=True,
            )
            assert child.stdout is not None
            loop = asyncio.get_running_loop()
            applied: dict[str, Any] = {}
            done: dict[str, Any] = {}
            first_right: float | None = None
            probe_ms: list[float] = []
            while True:
                line = await loop.run_in_executor(None, child.stdout.readline)
                if not line:
                    break
                event = json.loads(line)
                if event["event"] == "applied":
                    applied = event
                    print(f"    applied in {event['return'] - event['start']:.2f} s: "
                          f"{event['reindex']}", flush=True)  # fmt: skip
                    if probe is not None:
                        title, want = probe
                        while True:
                            began = time.perf_counter()
                            _, body = await prober.post(
                                f"/t/{BIG}/graphql",
                                {"query": P6_TITLE_QUERY, "variables": {"from": title}},
                                heads[BIG],
                            )
                            probe_ms.append((time.perf_counter() - began) * 1000)
                            _check(body)
                            got = [e["node"]["id"] for e in body["data"]["ent00List"]["edges"]]
                            if got == want:
                                first_right = time.time()
                                break
                elif event["event"] == "progress":
                    print(f"    {event['line']}", flush=True)
                elif event["event"] == "done":
                    done = event
            if child.wait() != 0 or not done:
                raise RuntimeError("the P6 apply process failed")
            await asyncio.sleep(1.0)  # the server notices the end within its 0.5 s check
            after_start = time.time()
            await asyncio.sleep(P6_BASELINE_SECONDS / 2)
            after_end = time.time()
            after: list[float] = []
            if probe is not None:
                # A new connection: the server closed the idle one (keep-alive timeout).
                prober = RawClient(base)
                clients.append(prober)
                for _ in range(20):
                    began = time.perf_counter()
                    _, body = await prober.post(
                        f"/t/{BIG}/graphql",
                        {"query": P6_TITLE_QUERY, "variables": {"from": probe[0]}},
                        heads[BIG],
                    )
                    after.append((time.perf_counter() - began) * 1000)
                    _check(body)
            stop.set()
            reads, creates, updates = await asyncio.gather(*loops)
        finally:
            for client in clients:
                await client.close()
            Path(config_path).unlink(missing_ok=True)
    start, end = applied["start"], done["at"]
    # Windows: before (and after) as the baseline; the apply and the server's
    # reload of the tenant (until 1 s after apply returned); the pending
    # query of the probe; the walk (what is left until the re-index ends).
    settled = applied["return"] + 1.0
    walk_start = max(settled, first_right or settled)

    def both(samples: list[tuple[float, float]]) -> list[float]:
        return _window(samples, baseline_start, baseline_end) + _window(
            samples, after_start, after_end
        )

    base_reads, walk_reads = both(reads), _window(reads, walk_start, end)
    out.update(
        apply_s=applied["return"] - applied["start"],
        queryable_s=None if first_right is None else first_right - applied["return"],
        pending_query_ms=probe_ms[-1] if probe_ms else None,
        indexed_query_ms=statistics.median(after) if after else None,
        backfill_s=end - applied["return"],
        rows=done["rows"],
        batches=done["batches"],
        batch_ms=done["batch_ms"],
        changed=done["changed"],
        read_p50_base=statistics.median(base_reads),
        read_p99_base=_p99(base_reads),
        read_p50_walk=statistics.median(walk_reads),
        read_p99_walk=_p99(walk_reads),
        read_p99_probe=_p99(_window(reads, applied["return"], walk_start)),
        create_max_base=max(both(creates)),
        update_max_base=max(both(updates)),
        create_max_apply=max(_window(creates, start, settled)),
        update_max_apply=max(_window(updates, start, settled)),
        create_max_walk=max(_window(creates, settled, end)),
        update_max_walk=max(_window(updates, settled, end)),
        samples_walk=(len(walk_reads), len(_window(creates, settled, end)),
                      len(_window(updates, settled, end))),
        worst=sorted(((round(ms), round(at - start, 1), kind) for kind, samples in
                      (("read", reads), ("create", creates), ("update", updates))
                      for at, ms in samples if start <= at <= end), reverse=True)[:6],
    )  # fmt: skip
    return out


async def bench_p6(
    url: str, engine: str, tokens: dict[str, str], records: int, *, floor: bool = True
) -> list[Measurement]:
    """``crm tenant apply`` indexing one more field of the big tenant, under load; then undo.

    The change marks ``ent00.title`` indexed (a free text slot): the apply
    commits the version and returns; the same process then re-indexes the
    records batch by batch (as ``crm tenant apply`` does), while paced load
    runs on other tenants and on the big tenant itself. Reported: the apply's
    return time, how long until the title query is answered right after it,
    the backfill's duration, the longest create (other tenant) and update
    (same tenant) while it ran, and the other tenant's read p99 during the
    backfill against before. The floor is the one ``UPDATE`` of the changed
    column, run directly and rolled back.
    """
    import copy

    rt = await Runtime.open(url)
    try:
        async with rt.db.tenant_scope(BIG):
            rows = await rt.db.fetch(
                "SELECT id FROM record WHERE tenant_id = {} AND entity = {} ORDER BY id LIMIT 2000",
                BIG,
                MAIN_ENTITY,
            )
        ids = [str(r["id"]) for r in rows]
        # The probe: the last titles in order (a few rows); its answer, read the slow way now.
        model = await rt.model(BIG)
        entity = model.entities[MAIN_ENTITY]
        from core.query import Condition, OrderBy

        title = "title 9999"
        page = await rt.db.query_records(
            BIG, entity, Condition("title", "gte", title), [OrderBy("title")], 50, None
        )
        want = [r["id"] for r in page.rows]
    finally:
        await rt.close()
    reference = reference_config(BIG)
    changed = copy.deepcopy(reference)
    changed["entities"][MAIN_ENTITY]["fields"]["title"]["indexed"] = True
    print("  P6: index ent00.title", flush=True)
    await _vacuum(url, engine)
    index = await _p6_one(url, tokens, ids, changed, (title, want))
    print("  P6: undo", flush=True)
    await _vacuum(url, engine)
    undo = await _p6_one(url, tokens, ids, reference, None)

    floor_s = await _p6_floor(url) if floor else float("nan")
    await _vacuum(url, engine)  # the rewrites left dead row versions: later runs would pay
    out = []
    floor_stats = Stats(floor_s * 1000, floor_s * 1000, floor_s * 1000, floor_s * 1000, 1)
    for label, r in (("index one more field", index), ("undo", undo)):
        one = Stats(r["backfill_s"] * 1000, r["backfill_s"] * 1000, r["backfill_s"] * 1000,
                    r["backfill_s"] * 1000, 1)  # fmt: skip
        queryable = (
            f"; right answer {r['queryable_s']:.2f} s after apply returned (pending query "
            f"{r['pending_query_ms']:.0f} ms, reads p99 meanwhile {r['read_p99_probe']:.0f} ms; "
            f"indexed after: {r['indexed_query_ms']:.1f} ms)"
            if r["queryable_s"] is not None
            else ""
        )
        out.append(
            Measurement(
                f"P6 {label}, {records:,} records: re-index",
                engine,
                work=one,
                floor=floor_stats if floor else None,
                note=(
                    f"apply returned in {r['apply_s'] * 1000:.0f} ms{queryable}; "
                    f"{r['rows']:,} rows checked, {r['changed']:,} rewritten, {r['batches']} "
                    f"batches of ms p50/p90/p99/max {r['batch_ms']}; other tenant reads during "
                    f"the walk p50 {r['read_p50_base']:.1f} -> {r['read_p50_walk']:.1f} ms, p99 "
                    f"{r['read_p99_base']:.1f} -> {r['read_p99_walk']:.1f} ms "
                    f"({r['read_p99_walk'] / r['read_p99_base']:.2f}×, target ≤ 1.2×); longest "
                    f"create (other tenant) {r['create_max_base']:.0f} -> apply "
                    f"{r['create_max_apply']:.0f} / walk {r['create_max_walk']:.0f} ms, update "
                    f"(same tenant) {r['update_max_base']:.0f} -> apply "
                    f"{r['update_max_apply']:.0f} / walk {r['update_max_walk']:.0f} ms (target "
                    f"≤ 1,000 ms); samples in the walk {r['samples_walk']}; slowest (ms, s "
                    f"after apply began, kind) {r['worst']}; floor: one UPDATE of the column"
                ),
                extra=r,
            )
        )
    return out


async def _p6_floor(url: str) -> float:
    """Seconds of the one ``UPDATE`` setting a free slot to ``title`` for every big-tenant
    record, run directly and rolled back (nothing stays)."""
    from core.store.querying import json_expr

    rt = await Runtime.open(url)
    try:
        used = {f.slot for f in (await rt.model(BIG)).entities[MAIN_ENTITY].fields.values()}
        free = min(set(TEXT_SLOTS) - used)  # the slot title took, free again after the undo
        source = json_expr(rt.db.dialect, "title", "text").sql
        began = time.perf_counter()
        try:
            async with rt.db.transaction(), rt.db.tenant_scope(BIG):
                await rt.db.execute(
                    f"UPDATE record SET {free} = {source} WHERE tenant_id = {{}} AND entity = {{}}",
                    BIG,
                    MAIN_ENTITY,
                )
                seconds = time.perf_counter() - began
                raise _RollBack
        except _RollBack:
            return seconds
    finally:
        await rt.close()


async def _vacuum(url: str, engine: str) -> None:
    """PostgreSQL: ``VACUUM ANALYZE record`` (what autovacuum would do after a re-index;
    this server runs without it), so each apply starts from the same state."""
    if engine != "postgresql":
        return
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        await conn.execute("VACUUM ANALYZE record")
    finally:
        await conn.close()


class _RollBack(Exception):
    """Leaves the floor's transaction without committing."""


async def bench_p7(
    engine: str, url: str, tokens: dict[str, str], seconds: float
) -> list[Measurement]:
    headers = {"Authorization": f"Bearer {tokens[SMALL]}"}
    results: dict[tuple[str, str], tuple[float, Stats]] = {}
    clients: list[RawClient] = []
    for app in ("tessera", "floor"):
        with serve(url, app) as base:

            def typename(app: str = app, base: str = base) -> Callable[[], Awaitable[None]]:
                client = RawClient(base)
                clients.append(client)
                path = f"/t/{SMALL}/graphql" if app == "tessera" else "/floor/typename"

                async def call() -> None:
                    status, _ = await client.post(path, {"query": TYPENAME_QUERY}, headers)
                    assert status == 200

                return call

            def list10(app: str = app, base: str = base) -> Callable[[], Awaitable[None]]:
                client = RawClient(base)
                clients.append(client)
                if app == "tessera":
                    path = f"/t/{SMALL}/graphql"
                    body: dict[str, Any] = {
                        "query": LIST_QUERY,
                        "variables": {"stage": "open", "first": 10},
                    }
                else:
                    path, body = "/floor/list", {"tenant": SMALL, "stage": "open", "first": 10}

                async def call() -> None:
                    status, answer = await client.post(path, body, headers)
                    assert status == 200 and not answer.get("errors"), answer

                return call

            for name, make in (("typename", typename), ("list10", list10)):
                await throughput(make, 16, 1.0)  # warm up connections and caches
                results[(app, name)] = await throughput(make, 16, seconds)
            for client in clients:
                await client.close()
            clients.clear()
    out = []
    for name, label, target in (
        ("typename", "P7 { __typename }, 16 connections", 1500),
        ("list10", "P7 10-row list, 16 connections", 800),
    ):
        rate, lat = results[("tessera", name)]
        floor_rate, floor_lat = results[("floor", name)]
        out.append(
            Measurement(
                label,
                engine,
                work=lat,
                floor=floor_lat,
                note=f"{rate:.0f} req/s (target ≥ {target}); floor {floor_rate:.0f} req/s",
                extra={"rate": rate, "floor_rate": floor_rate},
            )
        )
    return out


def _time_phases(rt: Runtime) -> dict[str, float]:
    """Wrap the request's stages (token, model, GraphQL execution) to sum their wall time."""
    import core.http
    from core.graphql.schema import TenantSchema

    phases: dict[str, float] = {}

    def timed_async(name: str, fn: Callable[..., Awaitable[Any]]) -> Callable[..., Any]:
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return await fn(*args, **kwargs)
            finally:
                phases[name] = phases.get(name, 0.0) + time.perf_counter() - start

        return wrapper

    core.http.principal_for_token = timed_async(  # type: ignore[assignment]
        "token", core.http.principal_for_token
    )
    rt.model = timed_async("model", rt.model)  # type: ignore[method-assign]
    execute = TenantSchema.execute

    async def schema_execute(self: Any, *args: Any, **kwargs: Any) -> Any:
        return await timed_async("graphql", execute)(self, *args, **kwargs)

    TenantSchema.execute = schema_execute  # type: ignore[method-assign]
    return phases


async def profile(url: str, tokens: dict[str, str], requests: int, top: int) -> str:
    """cProfile of the list and the create, in-process over ASGI (no server, no network)."""
    from core.http import create_app

    # httpx logs every request at INFO once logging is configured: not ours to time.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    rt = await Runtime.open(url)
    app = create_app(rt)
    report = io.StringIO()
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),  # type: ignore[arg-type]
            base_url="http://bench",
        ) as client:
            counter = iter(range(10**9))
            jobs = {
                "P1 list (10k tenant)": (
                    SMALL,
                    lambda: {"query": LIST_QUERY, "variables": {"stage": "open", "first": 50}},
                ),
                "P7 10-row list (10k tenant)": (
                    SMALL,
                    lambda: {"query": LIST_QUERY, "variables": {"stage": "open", "first": 10}},
                ),
                "P2 create": (
                    WRITE,
                    lambda: {
                        "query": CREATE_QUERY,
                        "variables": {"input": create_input(10**8 + next(counter))},
                    },
                ),
            }
            statements = 0
            phases = _time_phases(rt)
            db: Any = rt.db
            fetch, execute = db.fetch, db.execute

            async def counted_fetch(*args: Any) -> Any:
                nonlocal statements
                statements += 1
                start = time.perf_counter()
                try:
                    return await fetch(*args)
                finally:
                    phases["sql"] = phases.get("sql", 0.0) + time.perf_counter() - start

            async def counted_execute(*args: Any) -> Any:
                nonlocal statements
                statements += 1
                start = time.perf_counter()
                try:
                    return await execute(*args)
                finally:
                    phases["sql"] = phases.get("sql", 0.0) + time.perf_counter() - start

            db.fetch, db.execute = counted_fetch, counted_execute
            for label, (tenant, body) in jobs.items():
                headers = {"Authorization": f"Bearer {tokens[tenant]}"}
                for _ in range(20):
                    await client.post(f"/t/{tenant}/graphql", json=body(), headers=headers)
                # Unprofiled first: wall and process CPU (database threads included).
                statements = 0
                phases.clear()
                started, cpu_started = time.perf_counter(), time.process_time()
                for _ in range(requests):
                    await client.post(f"/t/{tenant}/graphql", json=body(), headers=headers)
                wall = (time.perf_counter() - started) * 1000 / requests
                cpu = (time.process_time() - cpu_started) * 1000 / requests
                per_request = statements / requests
                split = ", ".join(f"{k} {v * 1000 / requests:.2f} ms" for k, v in phases.items())
                prof = cProfile.Profile()
                prof.enable()
                for _ in range(requests):
                    await client.post(f"/t/{tenant}/graphql", json=body(), headers=headers)
                prof.disable()
                stats = pstats.Stats(prof, stream=report)
                report.write(
                    f"\n### {label}: {wall:.2f} ms wall, {cpu:.2f} ms process CPU, "
                    f"{per_request:.1f} SQL statements per request (in-process, unprofiled)\n"
                    f"wall time inside: {split}\n\n"
                )
                stats.sort_stats("tottime").print_stats(top)
                stats.sort_stats("cumulative").print_stats(top)
    finally:
        await rt.close()
    return report.getvalue()


async def main() -> None:
    if sys.argv[1:2] == ["--p6-child"]:
        await _p6_child(sys.argv[2], sys.argv[3])
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--engines", default="sqlite,postgresql")
    parser.add_argument("--only", default="P1,P2,P4,P6,P7")
    parser.add_argument("--fresh", action="store_true")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument(
        "--no-p6-floor", action="store_true", help="P6 without its floor (a 1M-row UPDATE)"
    )
    args = parser.parse_args()
    samples, runs, seconds = (60, 3, 2.0) if args.quick else (200, 5, 5.0)
    only = set(args.only.split(","))
    rows: list[Measurement] = []
    for engine in args.engines.split(","):
        try:
            url, admin = await bench_database_url(engine, fresh=args.fresh)
        except OSError as exc:
            print(f"{engine}: skipped ({exc})")
            continue
        print(f"## {engine}", flush=True)
        started = time.perf_counter()
        ready = await prepare(url, admin, args.records)
        print(f"  prepared in {time.perf_counter() - started:.1f} s", flush=True)
        tokens = ready["tokens"]
        if "P1" in only:
            for m in await bench_p1(engine, url, tokens, args.records, samples, runs):
                m.print()
                rows.append(m)
        if "P2" in only:
            m = await bench_p2(engine, url, tokens, samples, runs)
            m.print()
            rows.append(m)
        if "P4" in only:
            m = await bench_p4(url, engine, 10 if args.quick else 20, runs)
            m.print()
            rows.append(m)
        if "P6" in only:
            for m in await bench_p6(url, engine, tokens, args.records, floor=not args.no_p6_floor):
                m.print()
                rows.append(m)
        if "P7" in only:
            for m in await bench_p7(engine, url, tokens, seconds):
                m.print()
                rows.append(m)
        if args.profile:
            print(await profile(url, tokens, 200, 25))
    print()
    print(markdown_table(rows))


if __name__ == "__main__":
    asyncio.run(main())
