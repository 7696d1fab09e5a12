"""A writer SIGKILLed mid-write: nothing committed is lost, nothing half-written stays.

The writer process (``tests/faults/writer.py``) creates and edits records
through the service as fast as it can; it is killed at a random moment, five
times in a row on the same database. Afterwards every write it reported as
done is there, and every record is whole: its audit trail has one entry per
version, its outbox one event per version, and the unique claims are exactly
those of the stored records — no claim without a record, no record without
its claim.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest

from core.plugins import PluginHost
from core.runtime import Runtime
from core.store import open_database
from core.store.values import load_json
from tests.api_helpers import acme_config

ROOT = Path(__file__).resolve().parents[2]
KILLS = 5


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'faults.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


def _run_and_kill(
    url: str, tenant: str, user: str, rng: random.Random, run: int
) -> list[tuple[str, int]]:
    """Start the writer, let it commit some writes, SIGKILL it mid-stream."""
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.faults.writer", url, tenant, user, str(run)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert process.stdout is not None
    done: list[tuple[str, int]] = []
    wanted = rng.randint(5, 40)
    deadline = time.monotonic() + 60
    while len(done) < wanted and time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        rid, version = line.decode().split()
        done.append((rid, int(version)))
    time.sleep(rng.random() * 0.05)  # land the kill anywhere inside the next writes
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    for line in process.stdout.read().decode().splitlines():  # printed before the kill
        rid, version = line.split()
        done.append((rid, int(version)))
    assert process.stderr is not None
    assert done, f"the writer committed nothing: {process.stderr.read().decode()[-2000:]}"
    return done


async def _prepare(url: str, tenant: str) -> str:
    db = await open_database(url)
    try:
        await db.migrate()
        runtime = Runtime(db, PluginHost.from_entry_points())
        await runtime.apply_config(acme_config(tenant))
        return await db.add_user(tenant, "w@x.test", "Writer", "unused-hash", ["admin"], "en")
    finally:
        await db.close()


async def _check(url: str, tenant: str, committed: list[tuple[str, int]]) -> int:
    db = await open_database(url)
    try:
        async with db.tenant_scope(tenant):
            records = await db.fetch(
                "SELECT id, version, data FROM record WHERE tenant_id = {} AND entity = 'part'",
                tenant,
            )
            audit = await db.fetch(
                "SELECT record_id FROM audit WHERE tenant_id = {} AND entity = 'part'", tenant
            )
            outbox = await db.fetch(
                "SELECT idempotency_key FROM outbox WHERE tenant_id = {}", tenant
            )
            claims = await db.fetch(
                "SELECT value, record_id FROM unique_value WHERE tenant_id = {} "
                "AND entity = 'part' AND field = 'code'",
                tenant,
            )
    finally:
        await db.close()
    stored = {r["id"]: r for r in records}
    # Nothing committed is lost.
    for rid, version in committed:
        assert rid in stored, f"committed record {rid} is gone"
        assert stored[rid]["version"] >= version
    # Nothing is half written: one audit entry and one event per version.
    per_record = Counter(a["record_id"] for a in audit)
    keys = {o["idempotency_key"] for o in outbox}
    for rid, row in stored.items():
        assert per_record[rid] == row["version"], f"{rid}: audit does not match its versions"
        for v in range(1, row["version"] + 1):
            assert any(k.startswith(f"{rid}:{v}:") for k in keys), f"{rid} v{v}: no event"
    assert set(per_record) <= set(stored), "audit entries of a record that was never stored"
    # Unique claims are exactly those of the stored records.
    codes = {load_json(r["data"])["code"]: rid for rid, r in stored.items()}
    assert {c["value"].upper(): c["record_id"] for c in claims} == {
        k.upper(): v for k, v in codes.items()
    }
    return len(stored)


def test_killed_writers_lose_nothing_committed_and_leave_nothing_half_done(
    database_url: str,
) -> None:
    tenant = f"faults-{uuid.uuid4().hex[:8]}"
    user = asyncio.run(_prepare(database_url, tenant))
    rng = random.Random(20261124)
    committed: list[tuple[str, int]] = []
    for run in range(KILLS):
        committed += _run_and_kill(database_url, tenant, user, rng, run)
    records = asyncio.run(_check(database_url, tenant, committed))
    assert records >= KILLS
