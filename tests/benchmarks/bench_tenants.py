"""Many tenants in one process (P5): 1,000 distinct tenants, in memory and served.

Run: ``python tests/benchmarks/bench_tenants.py`` (``make bench`` runs it).
Options: ``--tenants N`` (default 1,000), ``--only served,memory``,
``--engines postgresql,sqlite`` (default PostgreSQL), ``--variants
256,1500,1500-nofreeze`` (one app server each: its ``TESSERA_TENANT_CACHE_SIZE``,
``-nofreeze`` sets ``TESSERA_GC_FREEZE=0``; default: the built-in cache size),
``--seconds S`` (the 16-connection load, default 30), ``--records N`` (per
tenant, default 20), ``--fresh``, ``--database NAME``.

``memory`` (no database): for ``N`` distinct generated configs
(tests/benchmarks/generator.py) the time to validate a config into a model and
to build its schema, the resident memory the models and the schemas retain in
this process, and what a full garbage collection over them costs. No floor: a
model and a schema are only ever built this way.

``served`` (target P5: RSS ≤ 1.5 GiB, p99 of a warm 10-row query ≤ 20 ms): a
database of its own (PostgreSQL ``tessera_bench_tenants``, owned by the
ordinary role ``tessera_bench`` as in bench_api.py, or
``$TESSERA_BENCH_CACHE/tessera_bench_tenants.db``) holds the ``N`` configs
applied, a user and a token per tenant and ``--records`` records of one entity
each (raw bulk SQL, as bench_api.py's loader); it is reused while it matches,
and each run issues new tokens. Per variant, the app runs in a uvicorn
subprocess (server.py, as ``crm serve`` runs it); each tenant is queried once,
in random order (the *cold* first request: token, config read and
validation, schema build, query parse and validation); then one connection
for a third of ``--seconds`` (at least 5 s), then 16 connections for
``--seconds``, each request a 10-row list (``orderBy: code, first: 10``) of a
random tenant with its token. The server's resident memory (``VmRSS``) is
read after the cold pass and sampled every 0.5 s under the 16 connections.

The floor serves the same page query (the store's own statement text, on the
same database, as the same role, the tenant set in the same transaction) and
orjson encoding on the same server stack, under the same two loads: server.py's
``Floor``, started from this file (``--floor-server``) because server.py's
floor serves bench_api's ``ent00`` only; here each generated tenant's main
entity. The generated main entities share their indexed head fields, so one
statement text serves all; the floor's rows are checked against the app's.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import random
import statistics
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from core.config import validate_config
from core.graphql.registry import (
    CACHE_SIZE_VAR,
    DEFAULT_CACHE_SIZE,
    FREEZE_VAR,
    SchemaRegistry,
)
from core.metadata import EntityDef, TenantModel
from core.naming import camel
from core.plugins import PluginHost
from core.runtime import Runtime
from core.security import hash_password, issue_token
from tests.benchmarks.common import (
    Measurement,
    RawClient,
    Stats,
    bench_database_url,
    markdown_table,
    serve,
    spawn_server,
)
from tests.benchmarks.generator import _COLUMNS, _rows, copy_connection, generated_configs

DATABASE = "tessera_bench_tenants"
EMAIL = "bench@example.com"
CONNECTIONS = 16
PAGE = 10
NODE = "id code stage due quantity amount { amount currency } title price active email"


def _rss_mib(pid: int | str = "self") -> float:
    """Resident memory of a process (``VmRSS``), MiB."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


# -- memory: models and schemas in this process ---------------------------------------


def bench_memory(count: int) -> list[Measurement]:
    host = PluginHost.from_entry_points()
    contributions = host.contributions()
    registry = SchemaRegistry(host, max_schemas=count)
    docs = list(generated_configs(count))
    gc.collect()
    base = _rss_mib()
    models: list[TenantModel] = []
    validate_ms: list[float] = []
    build_ms: list[float] = []
    types = 0
    for doc in docs:
        start = time.perf_counter()
        model, problems = validate_config(doc, contributions)
        validate_ms.append((time.perf_counter() - start) * 1000)
        if model is None:
            raise SystemExit(f"generated config {doc['tenant']} is invalid: {problems[:3]}")
        models.append(model)
    gc.collect()
    after_models = _rss_mib()
    for model in models:
        start = time.perf_counter()
        schema = registry.get(model)
        build_ms.append((time.perf_counter() - start) * 1000)
        types += len(schema._schema.type_map)
    gc.collect()
    after_schemas = _rss_mib()
    objects = len(gc.get_objects())
    start = time.perf_counter()
    gc.collect()
    full_gc_ms = (time.perf_counter() - start) * 1000
    n = len(models)
    model_mib, schema_mib = after_models - base, after_schemas - after_models
    return [
        Measurement(
            "P5 validate config → model",
            "—",
            work=Stats.of(_chunks(validate_ms, 5)),
            note=f"{n} tenants: {sum(validate_ms) / 1000:.1f} s; "
            f"{model_mib:.0f} MiB retained ({model_mib / n:.2f} MiB per model)",
        ),
        Measurement(
            "P5 build tenant schema",
            "—",
            work=Stats.of(_chunks(build_ms, 5)),
            note=f"{n} tenants: {sum(build_ms) / 1000:.1f} s; {types / n:.0f} types per schema; "
            f"{schema_mib:.0f} MiB retained ({schema_mib / n:.2f} MiB per schema); "
            f"{objects:,} objects tracked by the GC, a full collection {full_gc_ms:.0f} ms",
        ),
    ]


def _chunks(values: list[float], parts: int) -> list[list[float]]:
    """``values`` in ``parts`` consecutive runs (the spread of their medians)."""
    size = max(1, -(-len(values) // parts))
    return [values[i : i + size] for i in range(0, len(values), size)]


# -- served: the data set ---------------------------------------------------------------


def main_entity(doc: dict[str, Any]) -> str:
    """The entity of a generated config that holds the tenant's records."""
    return min(doc["entities"])


def list_query(doc: dict[str, Any]) -> str:
    plural = doc["entities"][main_entity(doc)]["plural"]
    return (
        f"query List($first: Int!) {{ {camel(plural)}(orderBy: [{{field: code}}], first: $first) "
        f"{{ edges {{ cursor node {{ {NODE} }} }} pageInfo {{ hasNextPage endCursor }} }} }}"
    )


async def _record_counts(url: str, admin: str | None) -> dict[str, int]:
    """Records per tenant, read past row-level security (the superuser on PostgreSQL)."""
    sql = "SELECT tenant_id, COUNT(*) AS n FROM record GROUP BY tenant_id"
    if admin is not None:
        import asyncpg

        conn = await asyncpg.connect(admin)
        try:
            return {r["tenant_id"]: r["n"] for r in await conn.fetch(sql)}
        finally:
            await conn.close()
    import aiosqlite

    async with aiosqlite.connect(url.removeprefix("sqlite:///")) as conn:
        async with conn.execute(sql) as cur:
            return {row[0]: row[1] for row in await cur.fetchall()}


async def _load_records(
    rt: Runtime, admin: str | None, jobs: list[tuple[str, EntityDef]], count: int
) -> None:
    """``count`` generated records for each (tenant, entity), replacing what is there."""
    db = rt.db
    tenants = [t for t, _ in jobs]
    if admin is not None:
        async with copy_connection(admin) as conn:
            async with conn.transaction():
                await conn.execute("DELETE FROM record WHERE tenant_id = ANY($1)", tenants)
                for tenant, entity in jobs:
                    rows = list(_rows(db, tenant, entity, 0, count, "bench", 1))
                    await conn.copy_records_to_table("record", records=rows, columns=_COLUMNS)
            await conn.execute("ANALYZE record")
        return
    import aiosqlite

    async with aiosqlite.connect(db.url.removeprefix("sqlite:///")) as conn:
        marks = ", ".join("?" * len(_COLUMNS))
        sql = f"INSERT INTO record ({', '.join(_COLUMNS)}) VALUES ({marks})"
        for tenant, entity in jobs:
            await conn.execute("DELETE FROM record WHERE tenant_id = ?", (tenant,))
            await conn.executemany(sql, list(_rows(db, tenant, entity, 0, count, "bench", 1)))
        await conn.commit()
        await conn.execute("ANALYZE")
        await conn.commit()


async def prepare(
    url: str, admin: str | None, docs: list[dict[str, Any]], records: int
) -> dict[str, str]:
    """Configs, users and records where the cached database differs; a new token each."""
    rt = await Runtime.open(url)
    tokens: dict[str, str] = {}
    try:
        started = time.perf_counter()
        models: dict[str, TenantModel] = {}
        for doc in docs:
            current = await rt.db.current_config(doc["tenant"])
            if current is None or current["config"] != doc:
                models[doc["tenant"]] = (await rt.apply_config(doc, actor="bench")).model
        applied = time.perf_counter()
        print(
            f"  configs: {len(models)} applied, {len(docs) - len(models)} already there, "
            f"{applied - started:.1f} s",
            flush=True,
        )
        password = hash_password("bench-password")  # one hash: each costs ~100 ms by design
        added = 0
        for doc in docs:
            tenant = doc["tenant"]
            user = await rt.db.get_user(tenant, EMAIL)
            if user is None:
                uid = await rt.db.add_user(tenant, EMAIL, "Bench", password, ["admin"], "en")
                added += 1
            else:
                uid = user["id"]
            tokens[tenant] = await issue_token(rt.db, tenant, uid, label="bench_tenants")
        users = time.perf_counter()
        print(f"  users: {added} added; tokens: {len(tokens)} issued, {users - applied:.1f} s")
        have = await _record_counts(url, admin)
        jobs: list[tuple[str, EntityDef]] = []
        for doc in docs:
            tenant = doc["tenant"]
            if have.get(tenant, 0) != records:
                model = models.get(tenant) or await rt.model(tenant)
                jobs.append((tenant, model.entities[main_entity(doc)]))
        checked = time.perf_counter()
        if jobs:
            await _load_records(rt, admin, jobs, records)
        loaded = time.perf_counter()
        print(
            f"  records: {len(jobs) * records:,} loaded for {len(jobs)} tenants in "
            f"{loaded - checked:.1f} s (models for them {checked - users:.1f} s)",
            flush=True,
        )
    finally:
        await rt.close()
    return tokens


# -- served: the servers ----------------------------------------------------------------


def _child_pid(port: int) -> int:
    """The server subprocess listening on ``port`` (a child of this process)."""
    me = str(os.getpid())
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            args = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        ppid = stat.rpartition(")")[2].split()[1]
        if ppid == me and str(port).encode() in args:
            return int(entry.name)
    raise RuntimeError(f"no server process of this run listens on port {port}")


@contextmanager
def serve_floor(url: str, tenants: int) -> Iterator[str]:
    """The floor (``python bench_tenants.py --floor-server URL TENANTS PORT``), a subprocess."""
    with spawn_server("the floor server", [__file__, "--floor-server", url, str(tenants)]) as base:
        yield base


async def _floor_server(url: str, port: int, tenants: int) -> None:
    """server.py's Floor, its page query addressed to each tenant's own main entity."""
    import uvicorn

    from core.query import OrderBy
    from core.store.querying import compile_order
    from tests.benchmarks.server import Floor

    doc = next(generated_configs(1))
    rt = await Runtime.open(url, migrate=False)
    try:
        model = await rt.model(doc["tenant"])
    finally:
        await rt.close()
    db = rt.db
    first = model.entities[main_entity(doc)]
    keys = compile_order(db.dialect, first, [OrderBy("code")])
    entities: dict[str, EntityDef] = {}
    by_tenant = {d["tenant"]: main_entity(d) for d in generated_configs(tenants)}

    def page_sql(tenant: str, _stage: str, limit: int) -> Any:
        key = by_tenant[tenant]
        # The head fields (code, stage, ...) take the same slots in every generated entity.
        entity = entities.get(key) or entities.setdefault(key, replace(first, key=key))
        return db._page_sql(tenant, entity, None, keys, limit, None)

    floor = Floor(db.url, first, page_sql)
    config = uvicorn.Config(floor, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    await uvicorn.Server(config).serve()


# -- served: the measurement ------------------------------------------------------------


def _check(body: Any, tenant: str) -> list[str]:
    if not isinstance(body, dict) or body.get("errors"):
        raise RuntimeError(f"{tenant}: the request failed: {body}")
    data = body["data"]
    (page,) = data.values()
    ids = [edge["node"]["id"] for edge in page["edges"]]
    if len(ids) != PAGE:
        raise RuntimeError(f"{tenant}: {len(ids)} rows instead of {PAGE}")
    return ids


class _Sampler:
    """VmRSS of a process every ``every`` seconds while the load runs."""

    def __init__(self, pid: int, every: float = 0.5) -> None:
        self.pid, self.every = pid, every
        self.samples: list[float] = []
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            self.samples.append(_rss_mib(self.pid))
            await asyncio.sleep(self.every)

    def __enter__(self) -> _Sampler:
        self._task = asyncio.create_task(self._run())
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        self.samples.append(_rss_mib(self.pid))


async def _load(
    base: str,
    requests: list[tuple[str, dict[str, Any], dict[str, str]]],
    seconds: float,
    connections: int,
    seed: int = 1,
) -> tuple[float, list[tuple[float, float]]]:
    """``connections`` loops, each sending requests to random ones of ``requests``.

    Returns the rate (requests/s) and (start offset s, latency ms) of each request.
    """
    samples: list[tuple[float, float]] = []
    began = time.perf_counter()
    stop = began + seconds

    async def loop(n: int) -> int:
        client = RawClient(base)
        rng = random.Random(seed * 100 + n)
        done = 0
        try:
            while time.perf_counter() < stop:
                path, body, headers = rng.choice(requests)
                start = time.perf_counter()
                status, answer = await client.post(path, body, headers)
                samples.append((start - began, (time.perf_counter() - start) * 1000))
                if status != 200:
                    raise RuntimeError(f"{path}: HTTP {status}: {answer}")
                _check(answer, path)
                done += 1
        finally:
            await client.close()
        return done

    counts = await asyncio.gather(*(loop(n) for n in range(connections)))
    return sum(counts) / (time.perf_counter() - began), samples


def _windows(samples: list[tuple[float, float]], seconds: float, parts: int) -> list[list[float]]:
    """Latencies by the time slice their request started in (run medians = spread)."""
    out: list[list[float]] = [[] for _ in range(parts)]
    for at, ms in samples:
        out[min(parts - 1, int(at / seconds * parts))].append(ms)
    return [w for w in out if w]


def _tail(values: list[float]) -> str:
    ordered = sorted(values)
    p999 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.999))]
    return f"p99.9 {p999:.1f} ms, max {ordered[-1]:.0f} ms"


class Variant:
    """One server set-up: ``TESSERA_TENANT_CACHE_SIZE`` and ``TESSERA_GC_FREEZE``.

    Written ``2000`` or ``2000-nofreeze`` on the command line.
    """

    def __init__(self, text: str) -> None:
        size, _, flag = text.partition("-")
        if flag not in ("", "nofreeze"):
            raise SystemExit(f"a variant is SIZE or SIZE-nofreeze, not {text!r}")
        self.cache_size, self.freeze = int(size), not flag

    @property
    def label(self) -> str:
        return f"cache {self.cache_size:,}" + ("" if self.freeze else ", no GC freeze")

    @contextmanager
    def environment(self) -> Iterator[None]:
        saved = {k: os.environ.get(k) for k in (CACHE_SIZE_VAR, FREEZE_VAR)}
        os.environ[CACHE_SIZE_VAR] = str(self.cache_size)
        os.environ[FREEZE_VAR] = "1" if self.freeze else "0"
        try:
            yield
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v


def _requests(
    docs: list[dict[str, Any]], tokens: dict[str, str]
) -> list[tuple[str, dict[str, Any], dict[str, str]]]:
    return [
        (
            f"/t/{doc['tenant']}/graphql",
            {"query": list_query(doc), "variables": {"first": PAGE}},
            {"Authorization": f"Bearer {tokens[doc['tenant']]}"},
        )
        for doc in docs
    ]


async def bench_app(
    engine: str,
    url: str,
    docs: list[dict[str, Any]],
    tokens: dict[str, str],
    variant: Variant,
    seconds: float,
) -> dict[str, Any]:
    """One server: the cold pass over every tenant, one connection, then 16; its RSS."""
    requests = _requests(docs, tokens)
    order = list(range(len(docs)))
    random.Random(5).shuffle(order)
    out: dict[str, Any] = {"ids": {}}
    with variant.environment(), serve(url, "tessera") as base:
        pid = _child_pid(int(base.rpartition(":")[2]))
        out["rss_start"] = _rss_mib(pid)
        client = RawClient(base)
        cold: list[float] = []
        began = time.perf_counter()
        try:
            for i in order:
                path, body, headers = requests[i]
                start = time.perf_counter()
                _, answer = await client.post(path, body, headers)
                cold.append((time.perf_counter() - start) * 1000)
                out["ids"][docs[i]["tenant"]] = _check(answer, path)
        finally:
            await client.close()
        out["cold"], out["cold_s"] = cold, time.perf_counter() - began
        out["rss_cold"] = _rss_mib(pid)
        print(
            f"  {variant.label}: cold pass {len(cold)} tenants in {out['cold_s']:.1f} s, "
            f"RSS {out['rss_start']:.0f} -> {out['rss_cold']:.0f} MiB",
            flush=True,
        )
        out["one"] = await _load(base, requests, _one_seconds(seconds), 1)
        with _Sampler(pid) as rss:
            out["many"] = await _load(base, requests, seconds, CONNECTIONS)
        out["rss_end"], out["rss_max"] = _rss_mib(pid), max(rss.samples)
    return out


def _one_seconds(seconds: float) -> float:
    return max(5.0, seconds / 3)


async def bench_floor(
    url: str, docs: list[dict[str, Any]], seconds: float, ids: dict[str, list[str]]
) -> dict[str, Any]:
    """The floor, loaded as the app was; it must answer the rows the app answered."""
    requests = [
        ("/floor/list", {"tenant": doc["tenant"], "stage": "", "first": PAGE}, {}) for doc in docs
    ]
    out: dict[str, Any] = {}
    with serve_floor(url, len(docs)) as base:
        client = RawClient(base)
        try:
            for doc in docs[:50]:
                tenant = doc["tenant"]
                _, answer = await client.post("/floor/list", requests[0][1] | {"tenant": tenant})
                if _check(answer, tenant) != ids[tenant]:
                    raise RuntimeError(f"{tenant}: the floor's rows differ from the app's")
        finally:
            await client.close()
        out["one"] = await _load(base, requests, _one_seconds(seconds), 1)
        out["many"] = await _load(base, requests, seconds, CONNECTIONS)
        out["rss"] = _rss_mib(_child_pid(int(base.rpartition(":")[2])))
    return out


def served_rows(
    engine: str,
    n: int,
    variant: Variant,
    app: dict[str, Any],
    floor: dict[str, Any],
    seconds: float,
) -> list[Measurement]:
    cold = app["cold"]
    rows = [
        Measurement(
            f"P5 first request per tenant (cold), {n:,} tenants, {variant.label}",
            engine,
            work=Stats.of(_chunks(cold, 5)),
            note=f"{_tail(cold)}; all {n:,} in {app['cold_s']:.1f} s; server RSS "
            f"{app['rss_start']:.0f} MiB at start, {app['rss_cold']:.0f} MiB after",
        )
    ]
    for key, label, span in (
        ("one", "1 connection", _one_seconds(seconds)),
        ("many", f"{CONNECTIONS} connections", seconds),
    ):
        rate, samples = app[key]
        floor_rate, floor_samples = floor[key]
        latencies = [ms for _, ms in samples]
        note = (
            f"{rate:.0f} req/s over {span:.0f} s, {_tail(latencies)}; floor {floor_rate:.0f} "
            f"req/s, {_tail([ms for _, ms in floor_samples])}"
        )
        if key == "many":
            note += (
                f"; server RSS at the end {app['rss_end']:.0f} MiB (max sampled "
                f"{app['rss_max']:.0f}; the floor's {floor['rss']:.0f} MiB)"
            )
        rows.append(
            Measurement(
                f"P5 warm 10-row list, random tenant, {label}, {variant.label}",
                engine,
                work=Stats.of(_windows(samples, span, 6)),
                floor=Stats.of(_windows(floor_samples, span, 6)),
                note=note,
                extra={"rate": rate, "p50": statistics.median(latencies)},
            )
        )
    return rows


async def run_served(args: argparse.Namespace) -> list[Measurement]:
    os.environ["TESSERA_BENCH_DATABASE"] = args.database
    docs = list(generated_configs(args.tenants))
    variants = [Variant(v) for v in args.variants.split(",")]
    rows: list[Measurement] = []
    for engine in args.engines.split(","):
        try:
            url, admin = await bench_database_url(engine, fresh=args.fresh)
        except OSError as exc:
            print(f"{engine}: skipped ({exc})")
            continue
        print(f"## {engine}: {args.tenants:,} tenants, {args.records} records each", flush=True)
        tokens = await prepare(url, admin, docs, args.records)
        apps = [(v, await bench_app(engine, url, docs, tokens, v, args.seconds)) for v in variants]
        floor = await bench_floor(url, docs, args.seconds, apps[0][1]["ids"])
        for variant, app in apps:
            for m in served_rows(engine, len(docs), variant, app, floor, args.seconds):
                m.print()
                rows.append(m)
    return rows


def main() -> None:
    if sys.argv[1:2] == ["--floor-server"]:
        asyncio.run(_floor_server(sys.argv[2], int(sys.argv[4]), int(sys.argv[3])))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tenants", type=int, default=1000)
    parser.add_argument("--only", default="served,memory")
    parser.add_argument("--engines", default="postgresql")
    parser.add_argument("--variants", default=str(DEFAULT_CACHE_SIZE))
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--records", type=int, default=20)
    parser.add_argument("--database", default=DATABASE)
    parser.add_argument("--fresh", action="store_true")
    args = parser.parse_args()
    only = set(args.only.split(","))
    print(f"load average before: {', '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    rows: list[Measurement] = []
    if "memory" in only:  # first: a heap grown by the served part would hide its growth
        rows += bench_memory(args.tenants)
        for m in rows:
            m.print()
        gc.collect()
    if "served" in only:
        rows += asyncio.run(run_served(args))
    print(f"load average after: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print()
    print(markdown_table(rows))


if __name__ == "__main__":
    main()
