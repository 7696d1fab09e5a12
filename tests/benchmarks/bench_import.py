"""P3 of the "Performance" issue: bulk CSV import, on both engines, against its floor.

Run: ``python tests/benchmarks/bench_import.py`` (``make bench`` runs it). Options:
``--rows N`` (default 100,000), ``--runs K`` (imports per engine, default 3),
``--engines sqlite,postgresql``, ``--profile`` (cProfile of one import, top
functions), ``--one-by-one`` (also time the per-row path on the first
``min(N, 5,000)`` rows, for comparison). PostgreSQL at
``TESSERA_BENCH_POSTGRES_SERVER`` (default
``postgresql://postgres@127.0.0.1:5432/postgres``); if it is unreachable only
SQLite runs.

What is measured: ``core.importer.import_csv``, the function behind ``crm
import``, run as a user of a fresh tenant (the reference config, with
``ent00.code`` made unique) on a generated CSV of ``ent00`` records: all 30
fields of mixed types (text, long text, integer, decimal, money, percent,
boolean, date, date-time, enum, multi-enum, email, phone, URL, address, two
relations to existing records), 5 indexed fields written to their slot
columns, one unique field claimed per row, an audit row and an outbox row per
record. SQLite is a file in a temporary directory; PostgreSQL a database
``tessera_bench_import`` created afresh and owned by the ordinary role
``tessera_bench``, so row-level security applies as in production.

The floor is the same rows written directly: the records, unique claims,
audit and outbox rows the import wrote, read back and inserted into another
fresh tenant with raw bulk SQL in batches of the import's size — ``COPY`` on
PostgreSQL (as the server's superuser, as ``generator.bulk_load`` does;
``COPY`` is refused under row-level security), ``executemany`` in one
transaction on SQLite. It does not read the CSV, convert or check anything.

Each line: rows/s over the whole import (median of the runs, lowest–highest
run), and the time per batch (median, p99) for the import and its floor;
the ratio is of the medians of the whole-run times.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import cProfile
import csv
import io
import json
import pstats
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from core.context import Principal
from core.importer import BATCH_SIZE, ImportProgress, import_csv
from core.metadata import EntityDef
from core.runtime import Runtime
from core.security import hash_password
from core.store.database import BULK_CACHE_KIB
from tests.benchmarks.common import (
    POSTGRES_SERVER,
    Measurement,
    Stats,
    bench_database_url,
    markdown_table,
)
from tests.benchmarks.generator import MAIN_ENTITY, record_values, reference_config

DATABASE = "tessera_bench_import"
USER = "importer@example.com"
TARGETS = {"sqlite": 3_000, "postgresql": 5_000}


def import_config(tenant: str) -> dict[str, Any]:
    """The reference config, with ``ent00.code`` unique: an import keyed by its code."""
    config = copy.deepcopy(reference_config(tenant))
    config["entities"][MAIN_ENTITY]["fields"]["code"]["unique"] = True
    return config


def _cell(value: Any) -> str:
    """A Python value as a CSV cell in the importer's formats."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dict) and "amount" in value:
        return f"{value['amount']} {value['currency']}"
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return ";".join(value)
    if hasattr(value, "isoformat"):
        return str(value.isoformat())
    return str(value)


def write_csv(
    path: Path, entity: EntityDef, rows: int, parents: Sequence[str], mains: Sequence[str]
) -> int:
    """``rows`` generated ``ent00`` records as CSV, headed by field labels; bytes written."""
    rng = random.Random(3)
    keys = list(entity.fields)
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow([entity.fields[k].label["en"] for k in keys])
        for n in range(rows):
            values = record_values(entity, n, rng)
            values["parent"] = parents[n % len(parents)]
            values["main"] = mains[n % len(mains)]
            writer.writerow([_cell(values.get(k)) for k in keys])
    return path.stat().st_size


async def database(engine: str, tmp: Path) -> tuple[str, str | None]:
    """A fresh, migrated database: its URL and (PostgreSQL) a superuser URL for ``COPY``."""
    return await bench_database_url(engine, fresh=True, name=DATABASE, directory=tmp)


async def drop_database(engine: str) -> None:
    if engine == "postgresql":
        import asyncpg

        conn = await asyncpg.connect(POSTGRES_SERVER, timeout=5)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
        finally:
            await conn.close()


async def new_tenant(rt: Runtime, tenant: str) -> tuple[Any, list[str], list[str]]:
    """A fresh tenant with the importing user and a few records to relate to:
    the user's call context, ids of ``ent01`` records (``parent``), of ``ent00`` (``main``)."""
    await rt.apply_config(import_config(tenant))
    uid = await rt.db.add_user(tenant, USER, "Importer", hash_password("x" * 12), ["admin"], "en")
    model = await rt.model(tenant)
    principal = Principal(tenant=tenant, user_id=uid, email=USER, roles=("admin",), locale="en")
    ctx = rt.context(model, principal)
    parents = [(await rt.service.create(ctx, "ent01", {"code": f"P{i}"})).id for i in range(20)]
    mains = [(await rt.service.create(ctx, "ent00", {"code": f"M{i}"})).id for i in range(20)]
    return ctx, parents, mains


async def run_import(
    rt: Runtime, ctx: Any, path: Path, *, one_by_one: bool = False, profile: bool = False
) -> tuple[float, list[float], Any]:
    """Import ``path``: seconds, milliseconds per batch, and the result."""
    marks: list[float] = []

    def progress(p: ImportProgress) -> None:
        marks.append(time.perf_counter())

    profiler = cProfile.Profile() if profile else None
    with path.open(encoding="utf-8-sig", newline="") as stream:
        started = time.perf_counter()
        if profiler:
            profiler.enable()
        result = await import_csv(
            ctx, rt.service, MAIN_ENTITY, stream, progress=progress, one_by_one=one_by_one
        )
        if profiler:
            profiler.disable()
        seconds = time.perf_counter() - started
    if profiler:
        report = io.StringIO()
        pstats.Stats(profiler, stream=report).sort_stats("cumulative").print_stats(40)
        print(report.getvalue())
        report = io.StringIO()
        pstats.Stats(profiler, stream=report).sort_stats("tottime").print_stats(25)
        print(report.getvalue())
    batches = [(b - a) * 1000 for a, b in zip([started, *marks], marks, strict=False)]
    return seconds, batches[:-1] or batches, result  # the last batch may be short


_FLOOR_TABLES = ("record", "unique_value", "audit", "outbox")


async def written_rows(url: str, tenant: str) -> dict[str, list[tuple[Any, ...]]]:
    """Everything an import wrote for ``tenant`` (the records of ``ent00`` it created)."""
    import asyncpg

    out: dict[str, list[tuple[Any, ...]]] = {}
    if url.startswith("sqlite"):
        import aiosqlite

        async with aiosqlite.connect(url.removeprefix("sqlite:///")) as conn:
            for table in _FLOOR_TABLES:
                async with conn.execute(
                    f"SELECT * FROM {table} WHERE tenant_id = ?", (tenant,)
                ) as cur:
                    names = [d[0] for d in cur.description]
                    out[table] = [tuple(r) for r in await cur.fetchall()]
                    out[f"{table}:columns"] = [tuple(names)]
        return out
    conn = await asyncpg.connect(url)
    try:
        async with conn.transaction():
            await conn.execute("SELECT set_config('tessera.tenant', $1, true)", tenant)
            for table in _FLOOR_TABLES:
                rows = await conn.fetch(f"SELECT * FROM {table} WHERE tenant_id = $1", tenant)
                out[table] = [tuple(r.values()) for r in rows]
                out[f"{table}:columns"] = [tuple(rows[0].keys())] if rows else [()]
    finally:
        await conn.close()
    return out


async def floor_run(
    engine: str, url: str, admin: str | None, rows: dict[str, list[tuple[Any, ...]]], tenant: str
) -> tuple[float, list[float]]:
    """Write ``rows`` again under ``tenant`` with raw bulk SQL, a batch at a time."""
    tables = {}
    for table in _FLOOR_TABLES:
        columns = rows[f"{table}:columns"][0]
        at = columns.index("tenant_id")
        tables[table] = (
            columns,
            [(*r[:at], tenant, *r[at + 1 :]) for r in rows[table]],
        )
    count = len(tables["record"][1])
    batches_of = max(1, -(-count // BATCH_SIZE))
    per_batch = {t: max(1, -(-len(r) // batches_of)) for t, (_, r) in tables.items()}
    batches: list[float] = []
    if engine == "sqlite":
        import aiosqlite

        async with aiosqlite.connect(url.removeprefix("sqlite:///")) as conn:
            started = time.perf_counter()
            await conn.execute("BEGIN IMMEDIATE")
            # The page cache an import's transaction uses (Database.prepare_bulk_writes).
            await conn.execute(f"PRAGMA cache_size = -{BULK_CACHE_KIB}")
            for start in range(0, count, BATCH_SIZE):
                began = time.perf_counter()
                b = start // BATCH_SIZE
                for table, (columns, data) in tables.items():
                    size = per_batch[table]
                    chunk = data[b * size : (b + 1) * size]
                    if chunk:
                        await conn.executemany(
                            f"INSERT INTO {table} ({', '.join(columns)}) "
                            f"VALUES ({', '.join('?' * len(columns))})",
                            chunk,
                        )
                batches.append((time.perf_counter() - began) * 1000)
            await conn.commit()
            return time.perf_counter() - started, batches
    import asyncpg

    conn = await asyncpg.connect(admin or url)
    try:
        # COPY is binary: jsonb's binary form is a version byte, then the text.
        await conn.set_type_codec(
            "jsonb",
            encoder=lambda v: b"\x01" + (v if isinstance(v, str) else json.dumps(v)).encode(),
            decoder=lambda v: v[1:].decode(),
            schema="pg_catalog",
            format="binary",
        )
        started = time.perf_counter()
        async with conn.transaction():
            for start in range(0, count, BATCH_SIZE):
                began = time.perf_counter()
                b = start // BATCH_SIZE
                for table, (columns, data) in tables.items():
                    size = per_batch[table]
                    chunk = data[b * size : (b + 1) * size]
                    if chunk:
                        await conn.copy_records_to_table(table, records=chunk, columns=columns)
                batches.append((time.perf_counter() - began) * 1000)
        return time.perf_counter() - started, batches
    finally:
        await conn.close()


async def bench_engine(engine: str, args: argparse.Namespace, tmp: Path) -> list[Measurement]:
    url, admin = await database(engine, tmp)
    rt = await Runtime.open(url)
    out: list[Measurement] = []
    try:
        seconds: list[float] = []
        batch_runs: list[list[float]] = []
        floors: list[float] = []
        floor_runs: list[list[float]] = []
        path = tmp / "import.csv"
        for run in range(args.runs):
            tenant = f"bench-import-{run}"
            ctx, parents, mains = await new_tenant(rt, tenant)
            # The same rows each run, relating to this tenant's records.
            size = write_csv(path, ctx.model.entities[MAIN_ENTITY], args.rows, parents, mains)
            if run == 0:
                print(f"  {args.rows:,} rows, {size / 2**20:.1f} MiB of CSV", flush=True)
            took, batches, result = await run_import(
                rt, ctx, path, profile=args.profile and run == 0
            )
            assert result.created == args.rows and not result.one_by_one, result
            seconds.append(took)
            batch_runs.append(batches)
            print(
                f"  run {run + 1}: {args.rows / took:,.0f} rows/s ({took:.1f} s)",
                flush=True,
            )
            rows = await written_rows(url, tenant)
            # The floor writes exactly what the import wrote (minus the 40 set-up records).
            created = {r[1] for r in rows["record"]} - set(parents) - set(mains)
            rows["record"] = [r for r in rows["record"] if r[1] in created]
            rows["audit"] = [r for r in rows["audit"] if r[2] in created]
            rows["outbox"] = [r for r in rows["outbox"] if json.loads(r[3])["id"] in created]
            rows["unique_value"] = [r for r in rows["unique_value"] if r[4] in created]
            floor_s, floor_batches = await floor_run(
                engine, admin or url, admin, rows, f"bench-floor-{run}"
            )
            floors.append(floor_s)
            floor_runs.append(floor_batches)
        rates = sorted(args.rows / s for s in seconds)
        floor_rates = sorted(args.rows / s for s in floors)
        work = Stats.of(batch_runs)
        floor = Stats.of(floor_runs)
        median_s = statistics.median(seconds)
        floor_median_s = statistics.median(floors)
        m = Measurement(f"P3 import {args.rows:,} rows, ms per {BATCH_SIZE:,}-row batch", engine)
        m.work, m.floor = work, floor
        rate = statistics.median(rates)
        m.note = (
            f"{rate:,.0f} rows/s (runs {rates[0]:,.0f}–{rates[-1]:,.0f}; "
            f"target ≥ {TARGETS[engine]:,}); floor {statistics.median(floor_rates):,.0f} rows/s; "
            f"whole-run ratio {median_s / floor_median_s:.1f}×"
        )
        m.extra = {"rate": rate, "ratio": median_s / floor_median_s}
        out.append(m)
        if args.one_by_one:
            n = min(args.rows, 5_000)
            small = tmp / "small.csv"
            ctx, parents, mains = await new_tenant(rt, "bench-import-per-row")
            write_csv(small, ctx.model.entities[MAIN_ENTITY], n, parents, mains)
            took, batches, result = await run_import(rt, ctx, small, one_by_one=True)
            one = Measurement(f"P3 the per-row path, {n:,} rows", engine)
            one.work = Stats.of([batches])
            one.note = f"{n / took:,.0f} rows/s"
            out.append(one)
    finally:
        await rt.close()
        await drop_database(engine)
    return out


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--engines", default="sqlite,postgresql")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--one-by-one", action="store_true")
    args = parser.parse_args()
    rows: list[Measurement] = []
    with tempfile.TemporaryDirectory(prefix="tessera-import-") as tmp:
        for engine in args.engines.split(","):
            print(f"## {engine}", flush=True)
            try:
                measured = await bench_engine(engine, args, Path(tmp))
            except OSError as exc:
                print(f"{engine}: skipped ({exc})")
                continue
            for m in measured:
                m.print()
                rows.append(m)
            (Path(tmp) / f"{DATABASE}.db").unlink(missing_ok=True)
    print()
    print(markdown_table(rows))


if __name__ == "__main__":
    asyncio.run(main())
