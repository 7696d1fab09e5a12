"""Plugin jobs (``tessera_jobs``) run by ``crm worker``: on time, once, per enabled tenant."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from core.hookspecs import JobSpec, hookimpl
from core.runtime import Runtime
from core.store import Database
from core.worker import Worker
from tests.api_helpers import acme_config, make_runtime, plugin_manifest
from tests.worker.helpers import NOW, Clock

RUNS: list[tuple[str, datetime]] = []


class Nightly:
    """A partner plugin with one interval job and one cron job."""

    TESSERA_MANIFEST = plugin_manifest("nightly")

    @hookimpl
    def tessera_jobs(self) -> list[JobSpec]:
        async def hourly(tenant: str, runtime: Any) -> None:
            RUNS.append((f"hourly:{tenant}", runtime.clock_reading))

        async def at_three(tenant: str, runtime: Any) -> None:
            RUNS.append((f"cron:{tenant}", runtime.clock_reading))

        return [
            JobSpec("hourly", hourly, interval=timedelta(hours=1)),
            JobSpec("at_three", at_three, schedule="0 3 * * *"),
        ]


def test_next_run_follows_the_tenant_zone_across_dst() -> None:
    job = JobSpec("x", lambda t, r: None, schedule="30 2 * * *")  # type: ignore[arg-type,return-value]
    # 29 March 2026: Madrid skips 02:00-03:00; cron runs at the next valid time.
    after = datetime(2026, 3, 28, 12, 0, tzinfo=UTC)
    first = job.next_run(after, "Europe/Madrid")
    assert first == datetime(2026, 3, 29, 1, 0, tzinfo=UTC)  # 03:00 CEST
    second = job.next_run(first, "Europe/Madrid")
    assert second == datetime(2026, 3, 30, 0, 30, tzinfo=UTC)  # 02:30 CEST
    interval = JobSpec("y", lambda t, r: None, interval=timedelta(minutes=5))  # type: ignore[arg-type,return-value]
    assert interval.next_run(after, "Asia/Manila") == after + timedelta(minutes=5)


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"interval": timedelta(0)}, {"schedule": "61 * * * *"}, {"schedule": "* * *"}],
)
def test_bad_job_specs_are_refused(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        JobSpec("bad", lambda t, r: None, **kwargs)  # type: ignore[arg-type,return-value]


async def test_jobs_run_on_schedule_exactly_once_for_enabling_tenants(db: Database) -> None:
    RUNS.clear()
    runtime: Runtime = await make_runtime(db, [Nightly()])
    clock = Clock(NOW)  # 2026-03-01 09:00 UTC
    runtime.clock = clock
    runtime.clock_reading = None  # type: ignore[attr-defined]
    for tenant, plugins in (("acme", ["nightly"]), ("globex", [])):
        doc = acme_config(tenant)
        doc["plugins"] = plugins
        doc["timezone"] = "Europe/Madrid"
        await runtime.apply_config(doc)

    async def tick(seconds: float) -> int:
        clock.advance(seconds)
        runtime.clock_reading = clock.now  # type: ignore[attr-defined]
        async with Worker(runtime, clock=clock, worker_id="w1") as worker:
            return (await worker.run_once()).timers_fired

    assert await tick(0) == 0  # first runs were scheduled when the config was applied
    assert await tick(3600) == 1
    assert await tick(0) == 0  # not again in the same hour
    assert await tick(3600) == 1
    # Madrid's 03:00 on 2 March is 02:00 UTC: 17 hours after 09:00; the hourly job runs
    # once per pass however many hours passed (the next run is an interval after it).
    assert await tick(15 * 3600) == 2
    kinds = [k for k, _ in RUNS]
    assert kinds == ["hourly:acme", "hourly:acme", "hourly:acme", "cron:acme"]  # by due time
    assert not any(k.endswith(":globex") for k in kinds)
    pending = [t for t in await db.jobs.timers_for("acme", "_job") if t["status"] == "pending"]
    assert sorted(t["timer_key"] for t in pending) == ["job:nightly.at_three", "job:nightly.hourly"]
    await runtime.close()
