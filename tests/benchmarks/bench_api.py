"""The API benchmarks of the "Performance" issue: P1, P2, P4 and P7, on both engines.

Run: ``python tests/benchmarks/bench_api.py`` (``make bench`` runs it). Options:
``--records N`` (the big tenant, default 1,000,000), ``--engines sqlite,postgresql``,
``--fresh`` (regenerate the cached databases), ``--quick`` (fewer samples),
``--profile`` (cProfile of P1 and P2 in-process, top functions),
``--only P1,P4`` (P6, which rewrites the big tenant's slot columns twice, runs
only when named). PostgreSQL at ``TESSERA_BENCH_POSTGRES_SERVER`` (default
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
- P6 (opt-in): a config apply that re-maps a slot on the big tenant, and its undo.
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
import pstats
import sys
import time
import tracemalloc
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

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
            await rt.apply_config(reference_config(tenant))
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


async def bench_p6(url: str, engine: str, records: int) -> list[Measurement]:
    """Apply a config change that moves a slot mapping on the big tenant, then undo it.

    The change marks ``ent00.title`` indexed (it takes the free text slot
    ``s_t4``), so the apply recomputes the slot columns of every ``ent00``
    record. The floor is the single ``UPDATE`` of that one column, run
    directly. One sample each: every run rewrites ``records`` rows.
    """
    import copy

    from core.store.querying import json_expr

    rt = await Runtime.open(url)
    out: list[Measurement] = []
    try:
        reference = reference_config(BIG)
        changed = copy.deepcopy(reference)
        changed["entities"][MAIN_ENTITY]["fields"]["title"]["indexed"] = True
        start = time.perf_counter()
        result = await rt.apply_config(changed)
        apply_ms = (time.perf_counter() - start) * 1000
        model = await rt.model(BIG)
        slot = model.entities[MAIN_ENTITY].fields["title"].slot
        assert slot is not None and result.reindexed.get(MAIN_ENTITY) == records, result
        source = json_expr(rt.db.dialect, "title", "text").sql
        start = time.perf_counter()
        async with rt.db.transaction(), rt.db.tenant_scope(BIG):
            await rt.db.execute(
                f"UPDATE record SET {slot} = {source} WHERE tenant_id = {{}} AND entity = {{}}",
                BIG,
                MAIN_ENTITY,
            )
        floor_ms = (time.perf_counter() - start) * 1000
        start = time.perf_counter()
        await rt.apply_config(reference)  # back to the cached shape
        revert_ms = (time.perf_counter() - start) * 1000
    finally:
        await rt.close()
    if engine == "postgresql":
        import asyncpg

        # Three rewrites left 3M dead row versions: later P1 runs would measure them.
        conn = await asyncpg.connect(url)
        try:
            await conn.execute("VACUUM ANALYZE record")
        finally:
            await conn.close()
    for label, ms in (("apply: index one more field", apply_ms), ("apply: undo", revert_ms)):
        one = Stats(ms, ms, ms, ms, 1)
        floor = Stats(floor_ms, floor_ms, floor_ms, floor_ms, 1)
        out.append(
            Measurement(
                f"P6 {label}, {records:,} records",
                engine,
                work=one,
                floor=floor,
                note="one sample; floor: UPDATE of the one changed slot column",
            )
        )
    return out


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
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--engines", default="sqlite,postgresql")
    parser.add_argument("--only", default="P1,P2,P4,P7")
    parser.add_argument("--fresh", action="store_true")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--profile", action="store_true")
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
            for m in await bench_p6(url, engine, args.records):
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
