"""Serve the demo tenants for the browser tests: ``python -m tests.browser.serve_demo PORT``.

Does what ``crm demo`` does (apply the demo configs, add the demo users, load
and stage sample data) with fewer sample records, then serves the real app
on 127.0.0.1:PORT. The database comes from ``TESSERA_DATABASE_URL``. Prints
``READY`` once it listens.
"""

from __future__ import annotations

import asyncio
import sys

import uvicorn

from core.demo import load_demo
from core.http import create_app
from core.runtime import Runtime

#: Enough records for lists to page and boards to fill, few enough to load in seconds.
COUNTS = {
    "account": 30,
    "contact": 30,
    "lead": 0,
    "opportunity": 12,
    "activity": 30,
    "product": 10,
    "quote": 12,
    "quote_line": 12,
    "invoice": 10,
    "payment": 8,
    "sample_request": 6,
    "rma": 6,
    "case": 6,
    "site": 6,
    "unit": 6,
    "maintenance_visit": 6,
    "task": 6,
    "*": 0,
}


async def main(port: int) -> None:
    rt = await Runtime.open()
    try:
        await load_demo(rt, counts=COUNTS)
        config = uvicorn.Config(
            create_app(rt), host="127.0.0.1", port=port, log_level="warning", lifespan="on"
        )
        server = uvicorn.Server(config)
        task = asyncio.create_task(server.serve())
        while not server.started:
            await asyncio.sleep(0.05)
        print("READY", flush=True)
        await task
    finally:
        await rt.close()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
