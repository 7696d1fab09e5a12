"""Shared benchmark plumbing: statistics, benchmark databases, HTTP servers, tables.

Every measurement is a :class:`Measurement`: several runs of many samples of
the real work and of its floor (the same work done directly). It reports the
median, the p99 and the spread (lowest and highest run median) of both, and
the ratio of the medians.
"""

from __future__ import annotations

import asyncio
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.benchmarks.generator import GENERATOR_VERSION  # noqa: E402

__all__ = [
    "Measurement",
    "RawClient",
    "Stats",
    "bench_database_url",
    "free_port",
    "markdown_table",
    "serve",
    "timed",
]

POSTGRES_SERVER = os.environ.get(
    "TESSERA_BENCH_POSTGRES_SERVER", "postgresql://postgres@127.0.0.1:5432/postgres"
)
CACHE_DIR = Path(os.environ.get("TESSERA_BENCH_CACHE", Path.home() / ".cache" / "tessera-bench"))
BENCH_ROLE = "tessera_bench"


@dataclass(frozen=True)
class Stats:
    """Milliseconds (or any unit) over all samples of several runs."""

    median: float
    p99: float
    low: float  # lowest run median
    high: float  # highest run median
    samples: int

    @classmethod
    def of(cls, runs: list[list[float]]) -> Stats:
        pooled = sorted(x for run in runs for x in run)
        medians = [statistics.median(run) for run in runs if run]
        p99 = pooled[min(len(pooled) - 1, int(len(pooled) * 0.99))]
        return cls(statistics.median(pooled), p99, min(medians), max(medians), len(pooled))

    def cell(self, unit: str = "ms") -> str:
        return f"{self.median:.2f} {unit} (p99 {self.p99:.2f}, runs {self.low:.2f}–{self.high:.2f})"


@dataclass
class Measurement:
    """One benchmark on one engine: the work, its floor, their ratio."""

    name: str
    engine: str
    unit: str = "ms"
    work: Stats | None = None
    floor: Stats | None = None
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        if self.work is None or self.floor is None or self.floor.median == 0:
            return None
        return self.work.median / self.floor.median

    def row(self) -> list[str]:
        ratio = self.ratio
        return [
            self.name,
            self.engine,
            self.work.cell(self.unit) if self.work else "—",
            self.floor.cell(self.unit) if self.floor else "—",
            f"{ratio:.1f}×" if ratio is not None else "—",
            self.note,
        ]

    def print(self) -> None:
        print(" | ".join(self.row()), flush=True)


def markdown_table(rows: list[Measurement]) -> str:
    head = ["measure", "engine", "median (p99, run medians)", "floor", "ratio", "note"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(m.row()) + " |" for m in rows]
    return "\n".join(lines)


async def timed(
    fn: Callable[[], Awaitable[Any]], samples: int, runs: int = 3, warmup: int = 3
) -> Stats:
    """Run ``fn`` ``warmup`` times, then ``runs`` × ``samples`` timed calls (ms)."""
    for _ in range(warmup):
        await fn()
    out: list[list[float]] = []
    for _ in range(runs):
        run: list[float] = []
        for _ in range(samples):
            start = time.perf_counter()
            await fn()
            run.append((time.perf_counter() - start) * 1000)
        out.append(run)
    return Stats.of(out)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _with_database(server_url: str, name: str, user: str | None = None) -> str:
    parts = urlsplit(server_url)
    netloc = parts.netloc
    if user is not None:
        netloc = f"{user}@{netloc.rpartition('@')[2]}"
    return urlunsplit((parts.scheme, netloc, f"/{name}", parts.query, parts.fragment))


async def bench_database_url(
    engine: str, *, fresh: bool = False, name: str | None = None, directory: Path | None = None
) -> tuple[str, str | None]:
    """The URL of the (cached) benchmark database, and a superuser URL for bulk loads.

    PostgreSQL: database ``tessera_bench_v<GENERATOR_VERSION>`` owned by the
    ordinary role ``tessera_bench`` (no superuser, no BYPASSRLS), which the app
    connects as, so row-level security is part of every measurement. SQLite: a
    file under ``TESSERA_BENCH_CACHE``. ``fresh`` drops what is there first.
    ``TESSERA_BENCH_DATABASE`` names another database (a second data set, say at
    another record count, kept beside the first); ``name`` and ``directory``
    (SQLite's file) override both.
    """
    from core.store import open_database

    name = name or os.environ.get("TESSERA_BENCH_DATABASE") or f"tessera_bench_v{GENERATOR_VERSION}"
    if engine == "sqlite":
        directory = directory or CACHE_DIR
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"{name}.db"
        if fresh:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
        url = f"sqlite:///{path}"
        admin: str | None = None
    else:
        import asyncpg

        conn = await asyncpg.connect(POSTGRES_SERVER, timeout=5)
        try:
            if fresh:
                await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            if not await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", BENCH_ROLE):
                await conn.execute(f'CREATE ROLE "{BENCH_ROLE}" LOGIN NOSUPERUSER NOBYPASSRLS')
            if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
                await conn.execute(f'CREATE DATABASE "{name}" OWNER "{BENCH_ROLE}"')
        finally:
            await conn.close()
        url = _with_database(POSTGRES_SERVER, name, BENCH_ROLE)
        admin = _with_database(POSTGRES_SERVER, name)
    db = await open_database(url)
    try:
        await db.migrate()
    finally:
        await db.close()
    return url, admin


@contextmanager
def serve(url: str, app: str, *, workers: int = 1) -> Iterator[str]:
    """Run ``tests/benchmarks/server.py`` (uvicorn) in a subprocess; yield its base URL.

    ``app`` is ``tessera`` (``core.http.create_app``) or ``floor`` (raw SQL and
    orjson on the same server stack). A subprocess keeps the server's CPU apart
    from the measuring client's.
    """
    server = str(ROOT / "tests" / "benchmarks" / "server.py")
    with spawn_server(f"benchmark server '{app}'", [server, url, app]) as base:
        yield base


@contextmanager
def spawn_server(label: str, argv: Sequence[str]) -> Iterator[str]:
    """Run ``python *argv PORT`` in a subprocess until its ``/healthz`` answers; yield its
    base URL, stop it after."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, *argv, str(port)],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                err = proc.stderr.read().decode() if proc.stderr else ""
                raise RuntimeError(f"{label} exited:\n{err[-3000:]}")
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{label} did not start in 60 s")
            time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


async def throughput(
    make: Callable[[], Callable[[], Awaitable[Any]]], concurrency: int, seconds: float
) -> tuple[float, Stats]:
    """Requests per second of ``concurrency`` loops, each calling its own ``make()``."""
    latencies: list[float] = []
    stop = time.perf_counter() + seconds

    async def loop() -> int:
        fn = make()
        done = 0
        while time.perf_counter() < stop:
            start = time.perf_counter()
            await fn()
            latencies.append((time.perf_counter() - start) * 1000)
            done += 1
        return done

    began = time.perf_counter()
    counts = await asyncio.gather(*(loop() for _ in range(concurrency)))
    elapsed = time.perf_counter() - began
    return sum(counts) / elapsed, Stats.of([latencies])


class RawClient:
    """A minimal HTTP/1.1 keep-alive client on asyncio streams.

    httpx costs the client ~0.5 ms of CPU per request, which on a 2-core
    machine caps a load test near the server's own rate; this client writes
    the request bytes and reads one ``Content-Length`` response, so the
    server (real or floor) is what is measured. One request at a time per
    connection; open several for concurrency.
    """

    def __init__(self, base: str) -> None:
        parts = urlsplit(base)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80
        self._streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def post(
        self, path: str, body: Any, headers: dict[str, str] | None = None
    ) -> tuple[int, Any]:
        """POST ``body`` (JSON-encoded) to ``path``; the status and the decoded JSON answer."""
        import orjson

        if self._streams is None:
            self._streams = await asyncio.open_connection(self.host, self.port)
        reader, writer = self._streams
        payload = orjson.dumps(body)
        head = [
            f"POST {path} HTTP/1.1",
            f"Host: {self.host}:{self.port}",
            "Content-Type: application/json",
            f"Content-Length: {len(payload)}",
        ]
        head += [f"{k}: {v}" for k, v in (headers or {}).items()]
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + payload)
        status_line = await reader.readline()
        length = 0
        while True:
            line = await reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        if length == 0 and not status_line.startswith(b"HTTP/1.1 204"):
            raise RuntimeError(f"no Content-Length in the answer to {path}: {status_line!r}")
        data = await reader.readexactly(length)
        return int(status_line.split()[1]), orjson.loads(data) if data else None

    async def close(self) -> None:
        if self._streams is not None:
            self._streams[1].close()
            self._streams = None
