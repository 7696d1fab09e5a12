"""The worker's rows: outbox leases and timers (D3, D6).

Several ``crm worker`` processes may run at once. A worker *claims* due rows
by writing a lease on them (``leased_by``, ``lease_until``) and works only on
rows whose lease it holds; a row whose lease ran out (its worker crashed or
hung) is claimable again, so no work is lost when a worker dies. On
PostgreSQL a claim locks the candidate rows with ``FOR UPDATE SKIP LOCKED``,
so concurrent claimers take disjoint rows without waiting on each other; on
SQLite a claim is one statement in an IMMEDIATE transaction (one writer at a
time does the same).

``attempts`` counts claims, not failures: a message whose handler crashes the
worker every time still runs out of attempts and ends as a dead letter
instead of taking the workers down forever. Releasing an unstarted claim
(a worker stopping) gives the attempt back.

An outbox message is in one of four states, from its columns:

- due: ``delivered_at IS NULL``, no live lease, ``available_at <= now``;
- leased: ``leased_by`` a worker id, ``lease_until`` in the future;
- delivered: ``delivered_at`` set;
- dead: ``leased_by = '!dead'`` with no ``lease_until`` (and ``available_at``
  far in the future, out of every due range) -- its attempts ran out or its
  failure was permanent; it keeps ``last_error`` and is never claimed again (see :meth:`JobStore.dead_letters`, :meth:`JobStore.revive_outbox`).

A timer has an explicit ``status`` (``pending``, ``fired``, ``cancelled``,
``failed``) plus the same lease columns; ``fired_at`` is when it left
``pending`` (fired, cancelled or failed).

Tenants with due work are found by a read in the system scope (PostgreSQL
row-level security lets it read ``tenant``, ``outbox`` and ``timer`` across
tenants); every claim and update runs in that tenant's own scope.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

from core.store.values import as_datetime, load_json, ordered_id, placeholders

if TYPE_CHECKING:
    from core.store.database import Database

__all__ = ["DEAD", "TIMER_STATUSES", "JobStore"]

DEAD: Final = "!dead"
"""``leased_by`` of a dead outbox message; worker ids may not start with ``!``."""

TIMER_STATUSES: Final = ("pending", "fired", "cancelled", "failed")

_OUTBOX_COLUMNS = (
    "tenant_id, id, topic, payload, idempotency_key, created_at, available_at, attempts, "
    "delivered_at, last_error, lease_until, leased_by, config_version"
)
_TIMER_COLUMNS = (
    "tenant_id, id, timer_key, entity, record_id, due_at, status, config_version, created_at, "
    "fired_at, attempts, last_error, lease_until, leased_by"
)
_OUTBOX_TIMES = ("created_at", "available_at", "delivered_at", "lease_until")
_TIMER_TIMES = ("due_at", "created_at", "fired_at", "lease_until")
_ERROR_LIMIT = 2000  # characters of an error message kept on the row
# A dead letter's available_at: past every due range, so the claim and the
# due-work probes, which scan (tenant_id, delivered_at, available_at), never
# walk over dead letters however many pile up.
_NEVER = datetime(9999, 12, 31, tzinfo=UTC)
_LOST_ON_LAST_ATTEMPT = "the worker was lost during the last attempt (lease expired)"


def _free(alias: str = "") -> str:
    """SQL (one ``{}``: now) true when a row's lease lets it be claimed.

    No lease, or one that ran out; a retry back-off is a lease without a
    holder. A dead message (``leased_by = '!dead'``, no ``lease_until``) never is.
    """
    p = f"{alias}." if alias else ""
    return (
        f"({p}lease_until IS NULL OR {p}lease_until <= {{}}) "
        f"AND ({p}leased_by IS NULL OR {p}leased_by <> '!dead')"
    )


def _check_worker(worker_id: str) -> None:
    if not worker_id or worker_id.startswith("!"):
        raise ValueError(f"invalid worker id {worker_id!r}: non-empty, not starting with '!'")


class JobStore:
    """All SQL for worker claims, outbox leases and timer rows."""

    def __init__(self, db: Database) -> None:
        self.db = db

    @asynccontextmanager
    async def _tenant_tx(self, tenant: str) -> AsyncIterator[None]:
        """One transaction as ``tenant`` (joins an enclosing one)."""
        async with self.db.transaction(), self.db.tenant_scope(tenant):
            yield

    def _claim_sql(self, table: str, due: str, order: str, columns: str) -> str:
        """Lease the first ``LIMIT`` rows matching ``due``; returns them.

        Placeholders: tenant, ``due``'s, limit, then worker, lease end, tenant.
        The candidates are picked once, in a materialised CTE: as an ``IN
        (... LIMIT)`` subquery, PostgreSQL may re-run the pick while updating
        and lease more rows than asked for. On PostgreSQL ``SKIP LOCKED``
        passes over rows another claimer is taking right now.
        """
        lock = " FOR UPDATE SKIP LOCKED" if self.db.dialect == "postgresql" else ""
        return (
            f"WITH picked AS MATERIALIZED (SELECT id FROM {table} "
            f"WHERE tenant_id = {{}} AND {due} ORDER BY {order} LIMIT {{}}{lock}) "
            f"UPDATE {table} SET leased_by = {{}}, lease_until = {{}}, attempts = attempts + 1 "
            f"WHERE tenant_id = {{}} AND id IN (SELECT id FROM picked) RETURNING {columns}"
        )

    @staticmethod
    def _outbox_row(row: dict[str, Any]) -> dict[str, Any]:
        row["payload"] = load_json(row["payload"])
        for col in _OUTBOX_TIMES:
            row[col] = as_datetime(row[col])
        return row

    @staticmethod
    def _timer_row(row: dict[str, Any]) -> dict[str, Any]:
        for col in _TIMER_TIMES:
            row[col] = as_datetime(row[col])
        return row

    # -- timers: scheduling (called by the workflow engine) ------------------

    async def schedule_timer(
        self,
        tenant: str,
        timer_key: str,
        entity: str,
        record_id: str,
        due_at: datetime,
        config_version: int,
        now: datetime,
    ) -> str:
        """Schedule ``timer_key`` for a record at ``due_at``; the new timer's id.

        A pending timer with the same key on the same record is cancelled first,
        so rescheduling moves the timer instead of adding a second one.
        """
        timer_id = ordered_id()
        async with self._tenant_tx(tenant):
            await self._cancel(tenant, record_id, now, timer_key)
            await self.db.execute(
                f"INSERT INTO timer ({_TIMER_COLUMNS}) VALUES ({placeholders(14)})",
                tenant,
                timer_id,
                timer_key,
                entity,
                record_id,
                self.db._time(due_at),
                "pending",
                config_version,
                self.db._time(now),
                None,
                0,
                None,
                None,
                None,
            )
        return timer_id

    async def cancel_timers(
        self, tenant: str, record_id: str, now: datetime, timer_key: str | None = None
    ) -> int:
        """Cancel a record's pending timers (only ``timer_key``'s if given); how many.

        A timer a worker is firing right now is not cancelled: on PostgreSQL
        this waits for the firing transaction and then finds the timer fired.
        """
        async with self._tenant_tx(tenant):
            return await self._cancel(tenant, record_id, now, timer_key)

    async def _cancel(
        self, tenant: str, record_id: str, now: datetime, timer_key: str | None
    ) -> int:
        args: list[Any] = [self.db._time(now), tenant, record_id]
        key_clause = ""
        if timer_key is not None:
            key_clause = " AND timer_key = {}"
            args.append(timer_key)
        rows = await self.db.fetch(
            "UPDATE timer SET status = 'cancelled', fired_at = {}, leased_by = NULL, "
            "lease_until = NULL WHERE tenant_id = {} AND record_id = {}"
            f"{key_clause} AND status = 'pending' RETURNING id",
            *args,
        )
        return len(rows)

    async def timers_for(self, tenant: str, record_id: str) -> list[dict[str, Any]]:
        """Every timer of a record, in any status, oldest first."""
        rows = await self.db._fetch_as(
            tenant,
            f"SELECT {_TIMER_COLUMNS} FROM timer WHERE tenant_id = {{}} AND record_id = {{}} "
            "ORDER BY created_at, id",
            tenant,
            record_id,
        )
        return [self._timer_row(r) for r in rows]

    # -- finding work -------------------------------------------------------

    async def tenants_with_due_work(self, now: datetime) -> list[str]:
        """Tenants with an outbox message or a timer due by ``now`` and not leased.

        One system-scope read. It walks the ``tenant`` table and probes each
        tenant's ``(tenant_id, ...)`` indexes, so its cost follows the number
        of tenants, not of rows; a row whose tenant has no ``tenant`` row is
        never found (every tenant gets one when its config is applied).
        """
        at = self.db._time(now)
        rows = await self.db._fetch_as(
            None,
            "SELECT t.tenant_id FROM tenant t WHERE EXISTS ("
            "SELECT 1 FROM outbox o WHERE o.tenant_id = t.tenant_id "
            "AND o.delivered_at IS NULL AND o.available_at <= {} "
            f"AND {_free('o')}"
            ") OR EXISTS ("
            "SELECT 1 FROM timer m WHERE m.tenant_id = t.tenant_id "
            "AND m.status = 'pending' AND m.due_at <= {} "
            f"AND {_free('m')}"
            ") ORDER BY t.tenant_id",
            at,
            at,
            at,
            at,
        )
        return [str(r["tenant_id"]) for r in rows]

    # -- outbox -------------------------------------------------------------

    async def claim_outbox(
        self,
        tenant: str,
        worker_id: str,
        now: datetime,
        lease_seconds: float,
        limit: int,
        max_attempts: int,
    ) -> list[dict[str, Any]]:
        """Lease up to ``limit`` due messages to ``worker_id``, oldest first.

        Each claim counts as an attempt. Messages that ran out of attempts
        without being buried (their worker died on the last one, or
        ``max_attempts`` was lowered) are buried here as dead letters.
        """
        _check_worker(worker_id)
        at = self.db._time(now)
        until = self.db._time(now + timedelta(seconds=lease_seconds))
        async with self._tenant_tx(tenant):
            await self.db.execute(
                "UPDATE outbox SET leased_by = '!dead', lease_until = NULL, available_at = {}, "
                "last_error = CASE WHEN leased_by IS NULL THEN last_error ELSE {} END "
                "WHERE tenant_id = {} AND delivered_at IS NULL AND available_at <= {} "
                f"AND attempts >= {{}} AND {_free()}",
                self.db._time(_NEVER),
                _LOST_ON_LAST_ATTEMPT,
                tenant,
                at,
                max_attempts,
                at,
            )
            rows = await self.db.fetch(
                self._claim_sql(
                    "outbox",
                    "delivered_at IS NULL AND available_at <= {} AND attempts < {} "
                    f"AND {_free()}",
                    "available_at, id",
                    _OUTBOX_COLUMNS,
                ),
                tenant,
                at,
                max_attempts,
                at,
                limit,
                worker_id,
                until,
                tenant,
            )
        out = [self._outbox_row(r) for r in rows]
        out.sort(key=lambda r: (r["available_at"], r["id"]))  # RETURNING has no order
        return out

    async def finish_outbox(self, tenant: str, id: str, worker_id: str, now: datetime) -> bool:
        """Mark a message delivered; ``False`` if ``worker_id`` no longer holds its lease."""
        rows = await self.db._fetch_as(
            tenant,
            "UPDATE outbox SET delivered_at = {}, last_error = NULL, leased_by = NULL, "
            "lease_until = NULL WHERE tenant_id = {} AND id = {} AND leased_by = {} "
            "AND delivered_at IS NULL RETURNING id",
            self.db._time(now),
            tenant,
            id,
            worker_id,
        )
        return bool(rows)

    async def retry_outbox(
        self, tenant: str, id: str, worker_id: str, error: str, retry_at: datetime
    ) -> bool:
        """Record a failed attempt and release the message until ``retry_at``."""
        rows = await self.db._fetch_as(
            tenant,
            "UPDATE outbox SET last_error = {}, available_at = {}, leased_by = NULL, "
            "lease_until = NULL WHERE tenant_id = {} AND id = {} AND leased_by = {} "
            "AND delivered_at IS NULL RETURNING id",
            error[:_ERROR_LIMIT],
            self.db._time(retry_at),
            tenant,
            id,
            worker_id,
        )
        return bool(rows)

    async def bury_outbox(self, tenant: str, id: str, worker_id: str, error: str) -> bool:
        """Make a message a dead letter now (a permanent failure, or its last attempt)."""
        rows = await self.db._fetch_as(
            tenant,
            "UPDATE outbox SET last_error = {}, leased_by = '!dead', lease_until = NULL, "
            "available_at = {} WHERE tenant_id = {} AND id = {} AND leased_by = {} "
            "AND delivered_at IS NULL RETURNING id",
            error[:_ERROR_LIMIT],
            self.db._time(_NEVER),
            tenant,
            id,
            worker_id,
        )
        return bool(rows)

    async def release_outbox(self, tenant: str, worker_id: str, ids: Sequence[str]) -> int:
        """Give back claimed messages that were not started (their attempt is not used)."""
        if not ids:
            return 0
        rows = await self.db._fetch_as(
            tenant,
            "UPDATE outbox SET leased_by = NULL, lease_until = NULL, attempts = attempts - 1 "
            f"WHERE tenant_id = {{}} AND id IN ({placeholders(len(ids))}) AND leased_by = {{}} "
            "AND delivered_at IS NULL RETURNING id",
            tenant,
            *ids,
            worker_id,
        )
        return len(rows)

    async def dead_letters(self, tenant: str) -> list[dict[str, Any]]:
        """Undelivered messages that ran out of attempts or failed for good, oldest first."""
        rows = await self.db._fetch_as(
            tenant,
            f"SELECT {_OUTBOX_COLUMNS} FROM outbox WHERE tenant_id = {{}} "
            "AND delivered_at IS NULL AND leased_by = '!dead' ORDER BY created_at, id",
            tenant,
        )
        return [self._outbox_row(r) for r in rows]

    async def revive_outbox(self, tenant: str, id: str, now: datetime) -> bool:
        """Put a dead letter back in the queue with fresh attempts (after fixing its cause)."""
        rows = await self.db._fetch_as(
            tenant,
            "UPDATE outbox SET leased_by = NULL, lease_until = NULL, attempts = 0, "
            "available_at = {} WHERE tenant_id = {} AND id = {} AND leased_by = '!dead' "
            "AND delivered_at IS NULL RETURNING id",
            self.db._time(now),
            tenant,
            id,
        )
        return bool(rows)

    # -- timers: firing (called by the worker) -------------------------------

    async def claim_timers(
        self,
        tenant: str,
        worker_id: str,
        now: datetime,
        lease_seconds: float,
        limit: int,
        max_attempts: int | None = None,
    ) -> list[dict[str, Any]]:
        """Lease up to ``limit`` pending timers due by ``now`` to ``worker_id``, earliest first.

        Each claim counts as an attempt. With ``max_attempts``, timers that ran
        out of attempts while their worker was lost are marked ``failed`` here.
        """
        _check_worker(worker_id)
        at = self.db._time(now)
        until = self.db._time(now + timedelta(seconds=lease_seconds))
        attempts_clause = ""
        attempts_args: list[Any] = []
        async with self._tenant_tx(tenant):
            if max_attempts is not None:
                await self.db.execute(
                    "UPDATE timer SET status = 'failed', fired_at = {}, leased_by = NULL, "
                    "lease_until = NULL, last_error = CASE WHEN leased_by IS NULL "
                    "THEN last_error ELSE {} END "
                    "WHERE tenant_id = {} AND status = 'pending' AND attempts >= {} "
                    f"AND {_free()}",
                    at,
                    _LOST_ON_LAST_ATTEMPT,
                    tenant,
                    max_attempts,
                    at,
                )
                attempts_clause = " AND attempts < {}"
                attempts_args = [max_attempts]
            rows = await self.db.fetch(
                self._claim_sql(
                    "timer",
                    f"status = 'pending' AND due_at <= {{}} AND {_free()}{attempts_clause}",
                    "due_at, id",
                    _TIMER_COLUMNS,
                ),
                tenant,
                at,
                at,
                *attempts_args,
                limit,
                worker_id,
                until,
                tenant,
            )
        out = [self._timer_row(r) for r in rows]
        out.sort(key=lambda r: (r["due_at"], r["id"]))
        return out

    async def finish_timer(
        self,
        tenant: str,
        id: str,
        worker_id: str,
        status: str,
        now: datetime,
        error: str | None = None,
    ) -> bool:
        """Settle a claimed timer as ``fired`` or ``failed``; ``False`` if the claim is gone.

        The claim is gone when the timer was cancelled or taken over by another
        worker since it was claimed. Inside the firing transaction this update
        also locks the timer row (PostgreSQL), so a concurrent cancel waits.
        """
        if status not in ("fired", "failed"):
            raise ValueError(f"a timer is finished as 'fired' or 'failed', not {status!r}")
        rows = await self.db._fetch_as(
            tenant,
            "UPDATE timer SET status = {}, fired_at = {}, last_error = {}, leased_by = NULL, "
            "lease_until = NULL WHERE tenant_id = {} AND id = {} AND leased_by = {} "
            "AND status = 'pending' RETURNING id",
            status,
            self.db._time(now),
            None if error is None else error[:_ERROR_LIMIT],
            tenant,
            id,
            worker_id,
        )
        return bool(rows)

    async def retry_timer(
        self, tenant: str, id: str, worker_id: str, error: str, retry_at: datetime
    ) -> bool:
        """Record a failed firing; the timer stays pending and is claimable from ``retry_at``.

        The back-off is a lease with no holder, so ``due_at`` keeps the time the
        timer was meant for.
        """
        rows = await self.db._fetch_as(
            tenant,
            "UPDATE timer SET last_error = {}, leased_by = NULL, lease_until = {} "
            "WHERE tenant_id = {} AND id = {} AND leased_by = {} AND status = 'pending' "
            "RETURNING id",
            error[:_ERROR_LIMIT],
            self.db._time(retry_at),
            tenant,
            id,
            worker_id,
        )
        return bool(rows)

    async def release_timers(self, tenant: str, worker_id: str, ids: Sequence[str]) -> int:
        """Give back claimed timers that were not started (their attempt is not used)."""
        if not ids:
            return 0
        rows = await self.db._fetch_as(
            tenant,
            "UPDATE timer SET leased_by = NULL, lease_until = NULL, attempts = attempts - 1 "
            f"WHERE tenant_id = {{}} AND id IN ({placeholders(len(ids))}) AND leased_by = {{}} "
            "AND status = 'pending' RETURNING id",
            tenant,
            *ids,
            worker_id,
        )
        return len(rows)
