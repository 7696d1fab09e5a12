"""Killing ``crm worker`` mid-delivery and mid-firing loses nothing and doubles no write.

Three worker processes in turn, on a file database: the first is SIGKILLed
while a (slow) webhook receiver holds its first request, the second while
it is inside a timer's transaction, the third finishes the work once the
dead workers' leases (1 s) run out and stops on SIGTERM. Webhooks are at
least once (messages in flight when the first worker died are sent again,
with the same idempotency key); each timer's database effect is exactly once.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from core.store import Database, open_database
from core.store.jobs import JobStore
from core.store.migrations import TENANT_TABLES
from core.store.values import load_json, utcnow
from tests.worker.helpers import add_tenant
from tests.worker.receivers import HttpReceiver, Reply

ROOT = Path(__file__).resolve().parents[2]
MESSAGES = 12
TIMERS = 4


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'crash.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


class WorkerProcess:
    def __init__(self, url: str, name: str, log: Path, **env: str) -> None:
        self.log = log
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.worker.crash_worker",
                "--id",
                name,
                "--lease",
                "1",
                "--poll",
                "0.1",
            ],
            cwd=ROOT,
            env={**os.environ, "TESSERA_DATABASE_URL": url, **env},
            stdout=log.open("w"),
            stderr=subprocess.STDOUT,
        )

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def output(self) -> str:
        return self.log.read_text()


async def _until(condition: Callable[[], Any], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if await value if asyncio.iscoroutine(value) else value:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting until {what}")
        await asyncio.sleep(0.05)


async def _prepare(url: str, hook: str) -> tuple[list[str], list[str]]:
    db = await open_database(url)
    try:
        await db.migrate()
        if db.dialect == "postgresql":
            await db.execute(f"TRUNCATE {', '.join(TENANT_TABLES)}")
        await add_tenant(db, "acme")
        now = utcnow()
        keys = [f"quote-{i}:sent" for i in range(MESSAGES)]
        for key in keys:
            payload = {"url": hook, "body": {"key": key}}
            await db.enqueue("acme", "webhook", payload, key, now - timedelta(seconds=5))
        jobs = JobStore(db)
        timers = [
            await jobs.schedule_timer(
                "acme", "follow_up", "quote", f"q{i}", now - timedelta(seconds=5), 1, now
            )
            for i in range(TIMERS)
        ]
        return keys, timers
    finally:
        await db.close()


async def _state(db: Database) -> tuple[int, int]:
    """Undelivered messages and pending timers."""
    async with db.tenant_scope("acme"):
        out = await db.fetch(
            "SELECT COUNT(*) AS n FROM outbox WHERE tenant_id = 'acme' AND delivered_at IS NULL"
        )
        tm = await db.fetch(
            "SELECT COUNT(*) AS n FROM timer WHERE tenant_id = 'acme' AND status = 'pending'"
        )
    return int(out[0]["n"]), int(tm[0]["n"])


@pytest.mark.slow
async def test_killed_workers_lose_nothing_and_timers_fire_exactly_once(
    database_url: str, tmp_path: Path
) -> None:
    hang_file = tmp_path / "hanging-timer"
    receiver = HttpReceiver(lambda request, n: Reply(delay=3.0 if n == 0 else 0.0))
    with receiver:
        keys, timers = await _prepare(database_url, f"{receiver.url}/hook")

        # 1. Killed while the receiver holds its first webhook.
        first = WorkerProcess(database_url, "w1", tmp_path / "w1.log")
        try:
            await _until(receiver.first_arrived.is_set, "the first webhook arrived")
        finally:
            first.kill()

        # 2. Killed inside a timer's transaction (its effect written, not committed).
        second = WorkerProcess(
            database_url, "w2", tmp_path / "w2.log", TESSERA_TEST_HANG_FILE=str(hang_file)
        )
        try:
            await _until(hang_file.exists, "a timer is being fired")
        finally:
            second.kill()
        hung_timer = hang_file.read_text()

        # 3. Takes over once the leases run out, finishes, and stops on SIGTERM.
        third = WorkerProcess(database_url, "w3", tmp_path / "w3.log")
        db = await open_database(database_url)
        try:

            async def done() -> bool:
                if third.process.poll() is not None:
                    return True  # it died: fail below with its output
                return await _state(db) == (0, 0) and set(receiver.keys()) == set(keys)

            await _until(done, "everything is done")
            assert await _state(db) == (0, 0), third.output()
            third.process.send_signal(signal.SIGTERM)
            assert third.process.wait(15) == 0, third.output()

            effects = await db._fetch_as(
                "acme",
                "SELECT data FROM record WHERE tenant_id = 'acme' AND entity = 'effect'",
            )
            fired = Counter(load_json(r["data"])["timer"] for r in effects)
            jobs = JobStore(db)
            rows = {t: (await jobs.timers_for("acme", f"q{i}"))[0] for i, t in enumerate(timers)}
        finally:
            await db.close()
    # Every key reached the receiver. Those in flight when the first worker was
    # killed (the slow one, and up to 7 more sent alongside) arrived twice.
    seen = Counter(receiver.keys())
    assert set(seen) == set(keys) and len(seen) == MESSAGES
    slow = receiver.keys()[0]
    assert seen[slow] == 2 and set(seen.values()) <= {1, 2}, seen
    assert sum(n == 2 for n in seen.values()) <= 8, seen
    # Each timer's effect exists exactly once, including the one killed mid-firing.
    assert fired == Counter(timers), fired
    assert {r["status"] for r in rows.values()} == {"fired"}
    assert rows[hung_timer]["attempts"] == 2
    assert "SIGTERM: stopping after the current item" in third.output()
    assert "delivered" in third.output()
