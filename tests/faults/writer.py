"""A process that writes through the service until it is killed (tests/faults).

``python -m tests.faults.writer URL TENANT USER_ID RUN`` creates parts with a
unique code and renames each twice, printing ``<id> <version>`` after every
write that returned (so was committed), then one of them moves its code to a
new value (a unique claim released and taken in one transaction).
"""

from __future__ import annotations

import asyncio
import sys

from core.context import CallContext, Principal
from core.plugins import PluginHost
from core.runtime import Runtime
from core.store import open_database


async def main(url: str, tenant: str, user_id: str, run: str) -> None:
    db = await open_database(url)
    runtime = Runtime(db, PluginHost.from_entry_points())
    model = await runtime.model(tenant)
    ctx = CallContext(model=model, principal=Principal(tenant, user_id, "w@x.test", ("admin",)))
    service = runtime.service
    i = 0
    while True:
        record = await service.create(ctx, "part", {"name": f"part {i}", "code": f"C{run}-{i}"})
        print(record.id, record.version, flush=True)
        for n in range(2):
            record = await service.update(ctx, "part", record.id, {"name": f"part {i}.{n}"}, None)
            print(record.id, record.version, flush=True)
        record = await service.update(ctx, "part", record.id, {"code": f"D{run}-{i}"}, None)
        print(record.id, record.version, flush=True)
        i += 1


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:5]))
