"""Running re-indexes: batches sized to a time, pauses, leases, progress (P6).

What a re-index is and the statements it runs: :mod:`core.store.reindex`.
:class:`Backfill` drives them for one tenant — ``crm tenant apply`` right
after the commit, ``crm tenant reindex``, and ``crm worker`` for what was
left — through :meth:`core.runtime.Runtime.reindex`.

Pacing. Each batch is sized to take about :data:`HOLD_SECONDS` (SQLite's
single write lock, PostgreSQL's row locks) unless ``TESSERA_REINDEX_BATCH``
fixes it, and is followed by a rest twice as long as it took
(``TESSERA_REINDEX_PAUSE`` times; at least 0.1 s on SQLite, whose waiting
writers poll for the lock every 100 ms at worst): a re-index takes about a
third of one connection's time, and other tenants' requests go first. The
numbers are in docs/performance.md (P6).
"""

from __future__ import annotations

import asyncio
import math
import os
import secrets
import socket
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final

from core.store import Database
from core.store.reindex import STALE_WRITE_SLACK, Reindex, ReindexStore, Superseded
from core.store.values import utcnow

__all__ = [
    "BATCH_VAR",
    "HOLD_SECONDS",
    "Backfill",
    "BackfillReport",
    "Progress",
    "ProgressFn",
    "default_batch",
    "default_owner",
    "default_pause",
]

BATCH_VAR: Final = "TESSERA_REINDEX_BATCH"
#: Without a fixed batch size, batches start at this many records and grow or
#: shrink so that each takes about ``HOLD_SECONDS`` (of SQLite's write lock, of
#: row locks on PostgreSQL): the cost of a record varies with the machine, the
#: indexes' size and the load. Measured in docs/performance.md (P6).
FIRST_BATCH: Final = 2000
MIN_BATCH: Final = 200
MAX_BATCH: Final = 50_000
HOLD_SECONDS: Final = {"sqlite": 0.1, "postgresql": 0.2}
PAUSE_VAR: Final = "TESSERA_REINDEX_PAUSE"
#: After each batch the re-index rests this many times as long as the batch took:
#: it works a third of the time. Measured against 1 (half the time) on the
#: 1M-record tenant: other tenants' read p99 1.04-1.25× against 1.27-1.71×.
DEFAULT_PAUSE: Final = 2.0
#: SQLite's waiting writers poll for the lock every 100 ms at worst: a shorter
#: rest could end before any of them looked.
SQLITE_MIN_PAUSE: Final = 0.1


def default_batch(env: Mapping[str, str] | None = None) -> int | None:
    """A fixed number of records per batch (``TESSERA_REINDEX_BATCH``), or ``None``: adaptive."""
    raw = (os.environ if env is None else env).get(BATCH_VAR)
    if not raw:
        return None
    batch = int(raw)
    if batch < 1:
        raise ValueError(f"{BATCH_VAR} must be at least 1 (got {raw})")
    return batch


def default_pause(env: Mapping[str, str] | None = None) -> float:
    """The rest after each batch, as a multiple of its duration (``TESSERA_REINDEX_PAUSE``)."""
    raw = (os.environ if env is None else env).get(PAUSE_VAR)
    if not raw:
        return DEFAULT_PAUSE
    factor = float(raw)
    if not factor >= 0:  # also refuses nan
        raise ValueError(f"{PAUSE_VAR} must be a number of at least 0 (got {raw})")
    return factor


def default_owner() -> str:
    """``host:pid:random``: who holds a re-index lease, readable in the table."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


@dataclass(frozen=True, slots=True)
class Progress:
    """Where one entity's re-index stands, for a progress line."""

    tenant: str
    entity: str
    phase: str  # "waiting", "walking", "rechecking", "done"
    rows_done: int
    rows_total: int
    rows_changed: int
    rate: float  # rows per second in this run (0 when unknown)
    holder: str | None = None  # who walks it, when another process does

    @property
    def eta(self) -> float | None:
        """Seconds left at the current rate (``None`` when unknown)."""
        if self.phase == "done":
            return 0.0
        if self.rate <= 0:
            return None
        return max(0, self.rows_total - self.rows_done) / self.rate

    def line(self) -> str:
        if self.phase == "done":
            return (
                f"{self.tenant}/{self.entity}: re-indexed, {self.rows_done:,} rows checked, "
                f"{self.rows_changed:,} rewritten"
            )
        total = max(self.rows_total, self.rows_done)
        share = f" ({self.rows_done * 100 // total}%)" if total else ""
        eta = self.eta
        rate = f", {self.rate:,.0f} rows/s" if self.rate > 0 else ""
        left = f", about {_duration(eta)} left" if eta is not None else ""
        who = f" by {self.holder}" if self.holder else ""
        return (
            f"{self.tenant}/{self.entity}: {self.phase}{who} {self.rows_done:,} / "
            f"{total:,} rows{share}{rate}{left}"
        )


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{math.ceil(seconds)} s"
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes} min {rest:02d} s"


@dataclass(slots=True)
class BackfillReport:
    """What one :meth:`Backfill.run` did."""

    rows_checked: int = 0
    rows_changed: int = 0
    finished: list[str] = field(default_factory=list)  # entities finished in this run
    pending: list[str] = field(default_factory=list)  # entities left unfinished
    seconds: float = 0.0


ProgressFn = Callable[[Progress], Any]


class Backfill:
    """Runs a tenant's pending re-indexes: batches, pauses, leases, the final recheck.

    ``settle`` is how long other processes may keep serving the previous
    config after an apply (``TESSERA_CONFIG_CHECK_SECONDS``): no slot is
    rewritten before ``applied_at + settle`` (until then another server may
    still read the old mapping), and the recheck waits until twice that.
    ``batch`` fixes the records per batch (else ``TESSERA_REINDEX_BATCH``,
    else adaptive: each batch sized to take about ``hold`` seconds, see
    :data:`HOLD_SECONDS`). After each batch it rests ``pause`` times as long
    as the batch took (``TESSERA_REINDEX_PAUSE``, default 2: a third of the
    time of one connection, and of SQLite's write lock), at least 0.1 s on SQLite.
    """

    def __init__(
        self,
        db: Database,
        *,
        owner: str | None = None,
        settle: float = 0.0,
        batch: int | None = None,
        hold: float | None = None,
        lease_seconds: float = 30.0,
        pause: float | None = None,
        progress: ProgressFn | None = None,
        progress_every: float = 1.0,
        clock: Callable[[], datetime] = utcnow,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> None:
        self.db = db
        self.store: ReindexStore = db.reindex
        self.owner = owner or default_owner()
        self.settle = max(0.0, settle)
        fixed = batch or default_batch()
        self.adaptive = fixed is None
        self.batch = fixed or FIRST_BATCH
        self.hold = hold or HOLD_SECONDS[db.dialect]
        self.lease_seconds = lease_seconds
        self.rest = default_pause() if pause is None else pause
        self.min_pause = SQLITE_MIN_PAUSE if db.dialect == "sqlite" else 0.0
        self.progress = progress
        self.progress_every = progress_every
        self.clock = clock
        self.monotonic = monotonic
        self.sleep = sleep

    async def run(
        self, tenant: str, *, budget: float | None = None, wait: bool = False
    ) -> BackfillReport:
        """Work through the tenant's unfinished re-indexes.

        Returns when all are finished, when ``budget`` seconds are spent (the
        rest stays pending, position saved), or — unless ``wait`` — when the
        rest are leased by another live process. With ``wait`` it follows the
        other process's progress and takes over if its lease runs out.
        """
        report = BackfillReport()
        started = self.monotonic()
        deadline = None if budget is None else started + budget
        while True:
            tasks = await self.store.unfinished(tenant)
            if not tasks:
                break
            busy_elsewhere: list[Reindex] = []
            for task in tasks:
                if deadline is not None and self.monotonic() >= deadline:
                    break
                claimed = await self.store.claim(
                    tenant, task.id, self.owner, self.clock(), self.lease_seconds
                )
                if claimed is None:
                    busy_elsewhere.append(task)
                    continue
                try:
                    done = await self._run_one(claimed, report, deadline)
                finally:
                    await self.store.release(tenant, task.id, self.owner)
                if done:
                    report.finished.append(task.entity)
            if deadline is not None and self.monotonic() >= deadline:
                break
            if busy_elsewhere:
                if not wait:
                    break
                for task in busy_elsewhere:
                    self._report(task, "walking", 0.0, holder=task.leased_by)
                await self.sleep(1.0)
        report.pending = [t.entity for t in await self.store.unfinished(tenant)]
        report.seconds = self.monotonic() - started
        return report

    async def _run_one(self, task: Reindex, report: BackfillReport, deadline: float | None) -> bool:
        """Advance one claimed re-index; ``True`` when it finished."""
        run_started, run_rows = self.monotonic(), 0
        last_report = -math.inf

        def rate() -> float:
            elapsed = self.monotonic() - run_started
            return run_rows / elapsed if elapsed > 0 and run_rows else 0.0

        def out_of_time() -> bool:
            return deadline is not None and self.monotonic() >= deadline

        while True:
            try:
                if not await self._settled(task, self.settle, deadline):
                    return False
                while task.scanned_at is None:
                    if out_of_time():
                        return False
                    begun = self.monotonic()
                    before = task
                    task = await self.store.walk_batch(
                        task, self.owner, self.batch, self.clock(), self.lease_seconds
                    )
                    took = self.monotonic() - begun
                    moved = task.rows_done - before.rows_done
                    if self.adaptive and moved == self.batch and took > 0:
                        # Towards ``hold`` seconds a batch, at most halving or doubling.
                        scale = min(2.0, max(0.5, self.hold / took))
                        self.batch = min(MAX_BATCH, max(MIN_BATCH, round(self.batch * scale)))
                    run_rows += moved
                    report.rows_checked += moved
                    report.rows_changed += task.rows_changed - before.rows_changed
                    if self.monotonic() - last_report >= self.progress_every:
                        last_report = self.monotonic()
                        self._report(task, "walking", rate())
                    if moved:
                        await self.store.checkpoint()
                        await self.sleep(self.pause(took))
                if not await self._settled(task, 2 * self.settle, deadline):
                    return False
                self._report(task, "rechecking", rate())
                cursor: tuple[datetime, str] | None = (task.created_at - STALE_WRITE_SLACK, "")
                while cursor is not None:
                    begun = self.monotonic()
                    seen, changed, cursor = await self.store.recheck_batch(task, cursor, self.batch)
                    report.rows_changed += changed
                    if seen:
                        await self.sleep(self.pause(self.monotonic() - begun))
                task = await self.store.finish(task, self.owner, self.clock())
                self._report(task, "done", rate())
                return True
            except Superseded:
                # A new apply widened or restarted it (or our lease was taken): follow.
                fresh = await self.store.get(task.tenant, task.id)
                if fresh is None or fresh.finished_at is not None:
                    return False  # the entity left the model (or another process finished it)
                if fresh.leased_by != self.owner:
                    return False  # our lease ran out and another process took the work
                task = fresh

    def pause(self, took: float) -> float:
        """Seconds to rest after a batch that took ``took``."""
        return max(self.min_pause, took * self.rest)

    async def _settled(self, task: Reindex, seconds: float, deadline: float | None) -> bool:
        """Wait until ``seconds`` after the apply; ``False`` if the budget ends first."""
        left = (task.applied_at + timedelta(seconds=seconds) - self.clock()).total_seconds()
        if left <= 0:
            return True
        if deadline is not None and self.monotonic() + left > deadline:
            return False
        self._report(task, "waiting", 0.0)
        await self.sleep(left)
        return True

    def _report(self, task: Reindex, phase: str, rate: float, holder: str | None = None) -> None:
        if self.progress is None:
            return
        self.progress(
            Progress(
                tenant=task.tenant,
                entity=task.entity,
                phase=phase,
                rows_done=task.rows_done,
                rows_total=task.rows_total,
                rows_changed=task.rows_changed,
                rate=rate,
                holder=holder,
            )
        )
