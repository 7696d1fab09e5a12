"""Server CPU per request of the list query, against the floor's, without HTTP or a client.

Run: ``python tests/benchmarks/bench_cpu.py`` (options ``--records N`` — the
data set of bench_api.py, prepared the same way and cached with it —,
``--engines``, ``--requests``, ``--rows 10,50``). ``make bench`` runs it.

Both apps are ASGI callables driven directly in this process (one request at
a time, the body already in memory, the answer collected): what is measured is
the process CPU time the server spends per request — routing, authentication,
GraphQL, the service, the driver — which is what bounds requests per second
on a busy machine. Load tests (P7 in bench_api.py) need a quiet machine;
CPU per request moves much less when other work shares the cores. The floor
is ``server.py floor`` (raw SQL, orjson, the same transaction and tenant
setting), as in bench_api.py.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import sys
import time
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from core.http import create_app
from core.runtime import Runtime
from tests.benchmarks.bench_api import LIST_QUERY, SMALL, prepare
from tests.benchmarks.common import bench_database_url
from tests.benchmarks.server import _floor_app

App = Callable[..., Awaitable[None]]


async def call(app: App, path: str, body: bytes, token: str) -> bytes:
    """One POST through an ASGI app; the response body."""
    chunks: list[bytes] = []
    incoming = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive() -> MutableMapping[str, Any]:
        return incoming.pop() if incoming else {"type": "http.disconnect"}

    async def send(message: MutableMapping[str, Any]) -> None:
        if message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"bench"),
            (b"content-type", b"application/json"),
            (b"authorization", f"Bearer {token}".encode()),
            (b"content-length", str(len(body)).encode()),
        ],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
        "state": {},
    }
    await app(scope, receive, send)
    return b"".join(chunks)


async def cpu_per_request(
    app: App, path: str, body: bytes, token: str, requests: int, runs: int
) -> list[float]:
    """Process CPU milliseconds per request, one figure per run (after a warm-up)."""
    answer = await call(app, path, body, token)
    if b'"errors"' in answer or (b"edges" not in answer and b"rows" not in answer):
        raise SystemExit(f"unexpected answer: {answer[:300]!r}")
    for _ in range(100):
        await call(app, path, body, token)
    out = []
    for _ in range(runs):
        started = time.process_time()
        for _ in range(requests):
            await call(app, path, body, token)
        out.append((time.process_time() - started) * 1000 / requests)
    return out


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--engines", default="sqlite,postgresql")
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--rows", default="10,50")
    args = parser.parse_args()
    logging.disable(logging.INFO)
    print("| engine | rows | Tessera CPU/request | floor CPU/request | ratio |")
    print("|---|---|---|---|---|")
    for engine in args.engines.split(","):
        try:
            url, admin = await bench_database_url(engine)
        except OSError as exc:
            print(f"{engine}: skipped ({exc})")
            continue
        tokens = (await prepare(url, admin, args.records))["tokens"]
        runtime = await Runtime.open(url, migrate=False)
        floor = await _floor_app(url)
        await floor.start()
        try:
            app = create_app(runtime)
            for rows in (int(n) for n in args.rows.split(",")):
                ours = await cpu_per_request(
                    app,
                    f"/t/{SMALL}/graphql",
                    orjson.dumps(
                        {"query": LIST_QUERY, "variables": {"stage": "open", "first": rows}}
                    ),
                    tokens[SMALL],
                    args.requests,
                    args.runs,
                )
                base = await cpu_per_request(
                    floor,
                    "/floor/list",
                    orjson.dumps({"tenant": SMALL, "stage": "open", "first": rows}),
                    "",
                    args.requests,
                    args.runs,
                )
                a, b = statistics.median(ours), statistics.median(base)
                print(
                    f"| {engine} | {rows} | {a:.2f} ms ({min(ours):.2f}–{max(ours):.2f}) "
                    f"| {b:.2f} ms ({min(base):.2f}–{max(base):.2f}) | {a / b:.1f}× |",
                    flush=True,
                )
        finally:
            await floor.stop()
            await runtime.close()


if __name__ == "__main__":
    asyncio.run(main())
