"""``crm worker`` with a stand-in workflow engine, for the crash tests.

``python -m tests.worker.crash_worker [worker options]``. Each timer firing
writes an ``effect`` record naming the timer. With ``TESSERA_TEST_HANG_FILE``
set, a firing that finds no such file creates it and then hangs inside its
transaction, so a test can kill the worker mid-firing.
"""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from core.cli import main
from core.runtime import Runtime
from core.store.values import utcnow

HANG_FILE = os.environ.get("TESSERA_TEST_HANG_FILE")


async def fire_timer(self: Runtime, tenant: str, row: Mapping[str, Any]) -> None:
    await self.db.insert_record(
        tenant, "effect", uuid.uuid4().hex, {"timer": row["id"]}, {}, "worker", utcnow()
    )
    if HANG_FILE and not Path(HANG_FILE).exists():
        Path(HANG_FILE).write_text(str(row["id"]))
        await asyncio.sleep(600)  # the effect above is written, not committed: killed here


Runtime.fire_timer = fire_timer  # type: ignore[method-assign]

if __name__ == "__main__":
    sys.exit(main(["worker", *sys.argv[1:]]))
