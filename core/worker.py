"""``crm worker``: delivers the outbox and fires due timers (D3, D6, D12).

Workers are stateless; run any number against one database. Each pass finds
the tenants with due work (one system-scope read), then per tenant claims a
batch of outbox messages and a batch of due timers under a lease (see
:mod:`core.store.jobs`) and works through them:

- ``notify.email`` messages go to the :class:`~core.delivery.Mailer`,
  ``webhook`` messages are POSTed (:func:`~core.delivery.post_webhook`), and
  every other topic (``record.*``, ``approval.*``, ...) goes to the enabled
  plugins' ``tessera_after_commit``. These are **at least once**: a worker
  that dies after the receiver got a message but before recording it sends
  it again, with the same idempotency key, and receivers drop duplicates by
  key. A failure is retried with exponential back-off and jitter; a message
  whose attempts run out, or whose failure is permanent, becomes a dead
  letter that keeps its last error.
- A timer fires in **one transaction** that marks it fired and runs the
  workflow engine's ``runtime.fire_timer(tenant, row)`` (its writes): a crash
  before the commit leaves the timer pending and nothing written, so the
  database effects of a timer happen **exactly once**.
- Pending re-indexes (a ``crm tenant apply`` interrupted, or run with
  ``--no-wait``) advance for up to ``reindex_budget`` seconds per pass
  (``runtime.reindex``), under the worker's lease, from where they stopped.

On SIGTERM/SIGINT (``run``'s ``stop`` event) a worker finishes the item in
hand, gives back the rest of its claims and returns.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import os
import random
import secrets
import socket
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol

import httpx

from core.delivery import (
    WEBHOOK_SECRET_VAR,
    Mailer,
    PermanentFailure,
    RetryLater,
    allowed_networks_from_env,
    build_email,
    mailer_from_env,
    post_webhook,
)
from core.store.jobs import JobStore
from core.store.values import utcnow

if TYPE_CHECKING:
    from core.runtime import Runtime

__all__ = ["BACKOFF_BASE", "BACKOFF_CAP", "Worker", "WorkerStats", "backoff", "default_worker_id"]

log = logging.getLogger("tessera.worker")

BACKOFF_BASE = 30.0  # seconds before the first retry
BACKOFF_CAP = 3600.0  # longest wait between two attempts

EMAIL_TOPIC = "notify.email"
WEBHOOK_TOPIC = "webhook"
_EXTERNAL_TOPICS = frozenset({EMAIL_TOPIC, WEBHOOK_TOPIC})


class FireTimer(Protocol):
    """The workflow engine's entry point: run a due timer's automations (inside our transaction).

    ``row`` is the timer row plus ``now``, the worker's clock reading.
    """

    def __call__(self, tenant: str, row: dict[str, Any]) -> Awaitable[Any] | Any: ...


@dataclass(slots=True)
class WorkerStats:
    """What one pass did."""

    tenants: int = 0
    delivered: int = 0
    retried: int = 0
    dead: int = 0
    timers_fired: int = 0
    timers_retried: int = 0
    timers_failed: int = 0
    released: int = 0  # claims given back unstarted (stopping, or the lease ran out)
    reindexed: int = 0  # records checked by pending re-indexes
    reindexes_finished: int = 0

    @property
    def busy(self) -> bool:
        """Whether the pass did anything (another pass may find more right away)."""
        return any(getattr(self, f.name) for f in fields(self) if f.name != "tenants")

    def add(self, other: WorkerStats) -> None:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))

    def __str__(self) -> str:
        return (
            f"{self.tenants} tenant(s): delivered {self.delivered}, retried {self.retried}, "
            f"dead {self.dead}; timers fired {self.timers_fired}, retried {self.timers_retried}, "
            f"failed {self.timers_failed}"
            + (f"; released {self.released}" if self.released else "")
            + (
                f"; re-index: {self.reindexed} records checked, {self.reindexes_finished} finished"
                if self.reindexed or self.reindexes_finished
                else ""
            )
        )


def backoff(attempts: int, rng: random.Random, hint: float | None = None) -> float:
    """Seconds to wait after the ``attempts``-th failed attempt (1 for the first).

    ``30 s · 2^(attempts-1)``, capped at an hour, with "equal jitter" (a random
    point in the upper half) so messages that failed together do not retry
    together. A receiver's ``Retry-After`` hint lengthens it, within the cap.
    """
    base = min(BACKOFF_CAP, BACKOFF_BASE * 2.0 ** max(0, min(attempts - 1, 30)))
    delay = base / 2 + rng.uniform(0, base / 2)
    if hint is not None:
        delay = max(delay, hint)
    return min(delay, BACKOFF_CAP)


def default_worker_id() -> str:
    """``host:pid:random``: unique among running workers and readable in ``leased_by``."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class Worker:
    """Delivers outbox messages and fires timers for every tenant of ``runtime``'s database.

    ``clock`` decides what is due and when leases end (tests inject one).
    ``lease_seconds`` is how long a claim is held before another worker may
    take it over: keep it well above one delivery's timeout (10 s for a
    webhook). ``batch`` is the claims per tenant and kind in a pass;
    ``concurrency`` the emails/webhooks in flight at once. Without ``mailer``,
    ``webhook_secret``, the settings come from ``env`` (default the process
    environment: ``TESSERA_SMTP_URL``, ``TESSERA_MAIL_FROM``,
    ``TESSERA_WEBHOOK_SECRET``; ``TESSERA_WEBHOOK_ALLOWED_NETWORKS`` names the
    non-public networks webhooks may reach). A given ``http`` client is not closed here.
    """

    def __init__(
        self,
        runtime: Runtime,
        *,
        worker_id: str | None = None,
        clock: Callable[[], datetime] = utcnow,
        lease_seconds: float = 60,
        batch: int = 50,
        max_attempts: int = 10,
        concurrency: int = 8,
        mailer: Mailer | None = None,
        http: httpx.AsyncClient | None = None,
        webhook_secret: str | None = None,
        env: Mapping[str, str] | None = None,
        rng: random.Random | None = None,
        reindex_budget: float = 2.0,
    ) -> None:
        if lease_seconds <= 0 or batch < 1 or max_attempts < 1 or concurrency < 1:
            raise ValueError(
                "lease_seconds > 0, batch >= 1, max_attempts >= 1 and concurrency >= 1 are required"
            )
        env = os.environ if env is None else env
        self.runtime = runtime
        self.db = runtime.db
        # The store attaches it as ``Database.jobs``; a bare Database gets its own.
        jobs = getattr(runtime.db, "jobs", None)
        self.jobs: JobStore = jobs if isinstance(jobs, JobStore) else JobStore(runtime.db)
        self.worker_id = worker_id or default_worker_id()
        if self.worker_id.startswith("!"):
            raise ValueError("a worker id may not start with '!'")
        self.clock = clock
        self.lease_seconds = lease_seconds
        self.batch = batch
        self.max_attempts = max_attempts
        self.concurrency = concurrency  # emails/webhooks in flight at once
        self.mailer = mailer if mailer is not None else mailer_from_env(env)
        self._own_http = http is None
        self.http = http if http is not None else httpx.AsyncClient(follow_redirects=False)
        self.webhook_secret = (
            webhook_secret if webhook_secret is not None else env.get(WEBHOOK_SECRET_VAR) or None
        )
        self.webhook_networks = allowed_networks_from_env(env)
        self.rng = rng or random.Random()
        #: Seconds per pass spent on pending re-indexes (0: none; leave them to others).
        self.reindex_budget = reindex_budget
        self._stop: asyncio.Event | None = None
        self._warned_no_engine = False
        self._jobs_seeded = False

    async def aclose(self) -> None:
        """Close the HTTP client if this worker made it."""
        if self._own_http:
            await self.http.aclose()

    async def __aenter__(self) -> Worker:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def _stopping(self) -> bool:
        return self._stop is not None and self._stop.is_set()

    # -- the loop -----------------------------------------------------------

    async def run(self, stop: asyncio.Event, poll: float = 1.0) -> None:
        """Pass after pass until ``stop`` is set; sleeps ``poll`` seconds when idle.

        A failing pass (the database is away, say) is logged and retried after
        ``poll``: the worker outlives outages.
        """
        self._stop = stop
        try:
            while not stop.is_set():
                busy = False
                try:
                    busy = (await self.run_once()).busy
                except Exception:
                    log.exception(
                        "worker %s: pass failed; retrying in %.1f s", self.worker_id, poll
                    )
                if busy:
                    await asyncio.sleep(0)  # let signal handlers and others run
                    continue
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), poll)
        finally:
            self._stop = None

    async def _seed_jobs(self) -> None:
        """Once per worker: every tenant's plugin jobs have their next run scheduled."""
        seed = getattr(self.runtime, "seed_jobs", None)
        if seed is None or self._jobs_seeded:
            return
        for tenant in await self.db.list_tenants():
            try:
                await seed(tenant["tenant_id"], self.clock())
            except Exception:
                log.exception("could not schedule the plugin jobs of %s", tenant["tenant_id"])
        self._jobs_seeded = True

    async def run_once(self) -> WorkerStats:
        """One pass over every tenant with due work; one batch of each kind per tenant."""
        await self._seed_jobs()
        stats = WorkerStats()
        for tenant in await self.jobs.tenants_with_due_work(self.clock()):
            if self._stopping():
                break
            stats.tenants += 1
            try:
                await self._deliver_outbox(tenant, stats)
                if not self._stopping():
                    await self._fire_timers(tenant, stats)
            except Exception:
                # One tenant's trouble (its claims run out and are retried) does
                # not hold up the others.
                log.exception("worker %s: tenant %s failed in this pass", self.worker_id, tenant)
        if not self._stopping():
            await self._reindex(stats)
        log.log(logging.INFO if stats.busy else logging.DEBUG, "pass: %s", stats)
        return stats

    async def _reindex(self, stats: WorkerStats) -> None:
        """Advance pending re-indexes for at most ``reindex_budget`` seconds in all.

        Under this worker's lease: one that another process (``crm tenant
        apply``) is running is left alone until that lease runs out.
        """
        run = getattr(self.runtime, "reindex", None)
        store = getattr(self.db, "reindex", None)
        if run is None or store is None or self.reindex_budget <= 0:
            return
        deadline = asyncio.get_running_loop().time() + self.reindex_budget
        for tenant in await store.tenants_pending():
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0 or self._stopping():
                return
            try:
                report = await run(tenant, budget=left, owner=self.worker_id)
            except Exception:
                log.exception("worker %s: re-index of %s failed", self.worker_id, tenant)
                continue
            stats.reindexed += report.rows_checked
            stats.reindexes_finished += len(report.finished)
            for entity in report.finished:
                log.info("re-index of %s/%s finished", tenant, entity)

    def _keep_going(self, lease_until: datetime | None) -> bool:
        """Whether to start the next claimed item: not stopping, and its lease still held."""
        return not self._stopping() and (lease_until is None or self.clock() < lease_until)

    # -- outbox -------------------------------------------------------------

    async def _deliver_outbox(self, tenant: str, stats: WorkerStats) -> None:
        """Deliver one claimed batch: plugin events in order, external ones side by side.

        Plugin events (``record.*``, ...) run one after another in claim order,
        so a handler sees a record's events in the order they happened.
        Emails and webhooks wait on remote servers, so up to ``concurrency``
        of them are in flight at once. Items not started (stopping, or their
        lease ran out) are given back at the end.
        """
        rows = await self.jobs.claim_outbox(
            tenant,
            self.worker_id,
            self.clock(),
            self.lease_seconds,
            self.batch,
            self.max_attempts,
        )
        unstarted = {r["id"] for r in rows}
        plugins: list[str] | None = None
        slots = asyncio.Semaphore(self.concurrency)

        async def deliver(row: dict[str, Any]) -> None:
            nonlocal plugins
            if not self._keep_going(row["lease_until"]):
                return
            unstarted.discard(row["id"])
            try:
                if row["topic"] == EMAIL_TOPIC:
                    await self._send_email(tenant, row)
                elif row["topic"] == WEBHOOK_TOPIC:
                    await post_webhook(
                        self.http,
                        row["payload"],
                        row["idempotency_key"],
                        self.webhook_secret,
                        allowed_networks=self.webhook_networks,
                    )
                else:
                    if plugins is None:
                        plugins = list((await self.runtime.model(tenant)).plugins)
                    await self.runtime.plugins.after_commit(
                        plugins, tenant, row["topic"], row["payload"]
                    )
            except PermanentFailure as exc:
                await self._bury(tenant, row, f"permanent: {exc}", stats)
            except Exception as exc:
                await self._retry(tenant, row, exc, stats)
            else:
                await self._delivered(tenant, row, stats)

        async def in_order(events: list[dict[str, Any]]) -> None:
            for row in events:
                await deliver(row)

        async def external(row: dict[str, Any]) -> None:
            async with slots:
                await deliver(row)

        internal = [r for r in rows if r["topic"] not in _EXTERNAL_TOPICS]
        async with asyncio.TaskGroup() as group:
            group.create_task(in_order(internal))
            for row in rows:
                if row["topic"] in _EXTERNAL_TOPICS:
                    group.create_task(external(row))
        if unstarted:
            stats.released += await self.jobs.release_outbox(
                tenant, self.worker_id, [r["id"] for r in rows if r["id"] in unstarted]
            )

    async def _delivered(self, tenant: str, row: dict[str, Any], stats: WorkerStats) -> None:
        if await self.jobs.finish_outbox(tenant, row["id"], self.worker_id, self.clock()):
            stats.delivered += 1
        else:
            log.warning(
                "outbox %s/%s was delivered after another worker took it over "
                "(it may be delivered twice; receivers drop duplicates by key %s)",
                tenant,
                row["id"],
                row["idempotency_key"],
            )

    async def _send_email(self, tenant: str, row: dict[str, Any]) -> None:
        message = build_email(tenant, row["payload"], row["idempotency_key"], self.mailer.sender)
        await self.mailer.send(message)

    async def _bury(self, tenant: str, row: dict[str, Any], error: str, stats: WorkerStats) -> None:
        log.error(
            "outbox %s/%s (%s, key %s) is a dead letter after %d attempt(s): %s",
            tenant,
            row["id"],
            row["topic"],
            row["idempotency_key"],
            row["attempts"],
            error,
        )
        if await self.jobs.bury_outbox(tenant, row["id"], self.worker_id, error):
            stats.dead += 1

    async def _retry(
        self, tenant: str, row: dict[str, Any], exc: Exception, stats: WorkerStats
    ) -> None:
        error = _describe(exc)
        if row["attempts"] >= self.max_attempts:
            await self._bury(tenant, row, error, stats)
            return
        hint = exc.after if isinstance(exc, RetryLater) else None
        delay = backoff(row["attempts"], self.rng, hint)
        log.warning(
            "outbox %s/%s (%s) attempt %d failed, retry in %.0f s: %s",
            tenant,
            row["id"],
            row["topic"],
            row["attempts"],
            delay,
            error,
        )
        retry_at = self.clock() + timedelta(seconds=delay)
        if await self.jobs.retry_outbox(tenant, row["id"], self.worker_id, error, retry_at):
            stats.retried += 1

    # -- timers -------------------------------------------------------------

    def _timer_engine(self) -> FireTimer | None:
        fire: FireTimer | None = getattr(self.runtime, "fire_timer", None)
        if fire is None and not self._warned_no_engine:
            log.warning("no workflow engine (runtime.fire_timer): timers are left pending")
            self._warned_no_engine = True
        return fire

    async def _fire_timers(self, tenant: str, stats: WorkerStats) -> None:
        fire = self._timer_engine()
        if fire is None:
            return
        rows = await self.jobs.claim_timers(
            tenant,
            self.worker_id,
            self.clock(),
            self.lease_seconds,
            self.batch,
            max_attempts=self.max_attempts,
        )
        for i, row in enumerate(rows):
            if not self._keep_going(row["lease_until"]):
                stats.released += await self.jobs.release_timers(
                    tenant, self.worker_id, [r["id"] for r in rows[i:]]
                )
                return
            try:
                fired = await self._fire_one(fire, tenant, row)
            except Exception as exc:
                await self._timer_failed(tenant, row, exc, stats)
            else:
                if fired:
                    stats.timers_fired += 1

    async def _fire_one(self, fire: FireTimer, tenant: str, row: dict[str, Any]) -> bool:
        """Fire one claimed timer in one transaction; ``False`` if it was cancelled meanwhile.

        The timer is marked fired *before* the engine runs, in the same
        transaction: the update confirms the claim (and on PostgreSQL locks the
        row against a concurrent cancel), and an engine that reschedules the
        same timer key from inside does not cancel the timer being fired. An
        exception from the engine rolls back both.
        """
        async with self.db.transaction(), self.db.tenant_scope(tenant):
            if not await self.jobs.finish_timer(
                tenant, row["id"], self.worker_id, "fired", self.clock()
            ):
                log.info("timer %s/%s was cancelled or taken over; skipped", tenant, row["id"])
                return False
            # ``now``: the worker's clock, so the engine's "now" is the pass's (and a test's).
            result = fire(tenant, {**row, "now": self.clock()})
            if inspect.isawaitable(result):
                await result
        return True

    async def _timer_failed(
        self, tenant: str, row: dict[str, Any], exc: Exception, stats: WorkerStats
    ) -> None:
        error = _describe(exc)
        if row["attempts"] >= self.max_attempts:
            log.error(
                "timer %s/%s (%s on %s) failed for good after %d attempt(s): %s",
                tenant,
                row["id"],
                row["timer_key"],
                row["record_id"],
                row["attempts"],
                error,
            )
            if await self.jobs.finish_timer(
                tenant, row["id"], self.worker_id, "failed", self.clock(), error
            ):
                stats.timers_failed += 1
            return
        delay = backoff(row["attempts"], self.rng)
        log.warning(
            "timer %s/%s (%s) attempt %d failed, retry in %.0f s: %s",
            tenant,
            row["id"],
            row["timer_key"],
            row["attempts"],
            delay,
            error,
        )
        retry_at = self.clock() + timedelta(seconds=delay)
        if await self.jobs.retry_timer(tenant, row["id"], self.worker_id, error, retry_at):
            stats.timers_retried += 1
