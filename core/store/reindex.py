"""Re-indexing after a config change, in short batches, without blocking (P6).

An indexed field is kept in a slot column (``s_t1``… / ``s_n1``…, see
:mod:`core.store.querying`) so its index serves filters and sorts. When an
apply changes what a slot holds (a field becomes indexed or stops being,
slots shift because a field was inserted before another), the slot columns
of the entity's existing records must be rewritten. Doing that inside the
apply transaction held SQLite's single write lock (every tenant's writes) or
a million row locks for over a minute. Instead:

1. The apply records a :class:`Reindex` row in its own transaction: the
   entity, the slot columns to rewrite and what each must hold
   (:meth:`ReindexStore.schedule`). Only the slots whose content changes.
2. From the moment the apply returns, filters and sorts on a field whose
   slot is pending read the JSON document, as for an unindexed field:
   correct, slower (:meth:`ReindexStore.pending_slots`). Writes already
   write the new slot values: they use the new model.
3. :class:`core.reindex.Backfill` walks the entity's records by primary key, each batch
   its own short transaction rewriting only the pending slot columns, and
   only of rows whose stored value differs, together with the position
   reached. It pauses between batches so other writers get SQLite's lock and
   other tenants the CPU.
4. When the walk ends, rows written since the apply are checked once more (a
   server that had not yet seen the new config could have written the old
   mapping), the row is finished, and reads use the slot columns again.

Every step is idempotent: a walk interrupted anywhere resumes from
``last_id``, and redoing a batch rewrites nothing. A lease keeps two
processes from walking one entity at once; a dead process's lease runs out
and another takes the work over. A second apply while a re-index runs widens
its slot set and restarts the walk if a slot changed again (rows already
right are skipped cheaply); the runner notices and follows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

from core.metadata import NUMBER_SLOTS, TEXT_SLOTS, EntityDef
from core.store.querying import json_expr
from core.store.values import as_datetime, dump_json, load_json, ordered_id

if TYPE_CHECKING:
    from core.store.database import Database

__all__ = [
    "SLOT_COLUMNS",
    "STALE_WRITE_SLACK",
    "Reindex",
    "ReindexStore",
    "SlotTarget",
    "Superseded",
    "changed_slots",
    "slot_targets",
]

SLOT_COLUMNS: Final[tuple[str, ...]] = (*TEXT_SLOTS, *NUMBER_SLOTS)
#: Rows written this long before an apply are checked again at the end: a
#: request that took its (old) model before the apply may commit after it.
STALE_WRITE_SLACK: Final = timedelta(seconds=60)
_NO_SLOTS: Final[frozenset[str]] = frozenset()
_COLUMNS = (
    "tenant_id, id, entity, slots, config_version, last_id, rows_total, rows_done, "
    "rows_changed, created_at, applied_at, updated_at, scanned_at, finished_at, "
    "lease_until, leased_by"
)
_TIMES = ("created_at", "applied_at", "updated_at", "scanned_at", "finished_at", "lease_until")


# -- what a slot holds ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SlotTarget:
    """What a slot column holds: one field's value, as that field's type stores it."""

    field: str
    value_type: str


Targets = Mapping[str, SlotTarget | None]
"""Slot column -> what it must hold (``None``: nothing, the column is cleared)."""


def slot_targets(entity: EntityDef | None) -> dict[str, SlotTarget | None]:
    """What every slot column of ``entity``'s records holds under its model."""
    out: dict[str, SlotTarget | None] = dict.fromkeys(SLOT_COLUMNS)
    for f in entity.fields.values() if entity is not None else ():
        if f.slot in out:
            out[f.slot] = SlotTarget(f.key, f.value_type)
    return out


def changed_slots(old: EntityDef | None, new: EntityDef) -> dict[str, SlotTarget | None]:
    """The slots whose content changes from ``old`` to ``new``, with what they must hold.

    Without ``old`` (an entity new to the model, whose records may still be
    stored from an earlier one) nothing is known of the columns: every slot.
    """
    after = slot_targets(new)
    if old is None:
        return after
    before = slot_targets(old)
    return {slot: target for slot, target in after.items() if before[slot] != target}


def _encode_targets(targets: Targets) -> str:
    return dump_json(
        {
            slot: None if t is None else {"field": t.field, "type": t.value_type}
            for slot, t in sorted(targets.items())
        }
    )


def _decode_targets(raw: Any) -> dict[str, SlotTarget | None]:
    doc = load_json(raw) or {}
    return {
        slot: None if t is None else SlotTarget(str(t["field"]), str(t["type"]))
        for slot, t in doc.items()
        if slot in SLOT_COLUMNS
    }


# -- the stored rows -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Reindex:
    """One entity's re-index, as stored (pending until ``finished_at``)."""

    tenant: str
    id: str
    entity: str
    targets: Mapping[str, SlotTarget | None]
    config_version: int
    last_id: str
    rows_total: int
    rows_done: int
    rows_changed: int
    created_at: datetime
    applied_at: datetime
    updated_at: datetime
    scanned_at: datetime | None = None
    finished_at: datetime | None = None
    lease_until: datetime | None = None
    leased_by: str | None = None

    @property
    def slots(self) -> frozenset[str]:
        return frozenset(self.targets)

    @property
    def fields(self) -> tuple[str, ...]:
        """The fields being (re-)indexed, in slot order."""
        return tuple(t.field for _, t in sorted(self.targets.items()) if t is not None)

    def describe(self) -> str:
        """``title -> s_t4, s_t5 cleared``: what the re-index writes."""
        parts = [
            f"{t.field} -> {slot}" if t is not None else f"{slot} cleared"
            for slot, t in sorted(self.targets.items())
        ]
        return ", ".join(parts)

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Reindex:
        times = {k: as_datetime(row[k]) for k in _TIMES}
        return cls(
            tenant=str(row["tenant_id"]),
            id=str(row["id"]),
            entity=str(row["entity"]),
            targets=_decode_targets(row["slots"]),
            config_version=int(row["config_version"]),
            last_id=str(row["last_id"]),
            rows_total=int(row["rows_total"]),
            rows_done=int(row["rows_done"]),
            rows_changed=int(row["rows_changed"]),
            created_at=times["created_at"],  # type: ignore[arg-type]
            applied_at=times["applied_at"],  # type: ignore[arg-type]
            updated_at=times["updated_at"],  # type: ignore[arg-type]
            scanned_at=times["scanned_at"],
            finished_at=times["finished_at"],
            lease_until=times["lease_until"],
            leased_by=row["leased_by"],
        )


class Superseded(Exception):
    """The re-index row changed under the runner (a new apply, or its lease was taken)."""


class ReindexStore:
    """The ``reindex`` table, the batch statements, and the pending slots reads avoid.

    Attached to a :class:`~core.store.database.Database` as ``db.reindex``.
    The pending slots of a tenant are remembered per process: loaded on first
    use, refreshed when the runtime's config check sees the number of pending
    re-indexes change (:meth:`note_pending`), and dropped at once when this
    process finishes one.
    """

    def __init__(self, db: Database) -> None:
        self.db = db
        self._pending: dict[str, dict[str, frozenset[str]]] = {}

    # -- what reads avoid ----------------------------------------------------------

    async def pending_slots(self, tenant: str, entity: str) -> frozenset[str]:
        """The slot columns of ``entity`` that reads must not trust yet."""
        known = self._pending.get(tenant)
        if known is None:
            known = await self.load_pending(tenant)
        return known.get(entity, _NO_SLOTS)

    async def load_pending(self, tenant: str) -> dict[str, frozenset[str]]:
        """Read the tenant's pending slots from the table (and remember them)."""
        rows = await self.db._fetch_as(
            tenant,
            "SELECT entity, slots FROM reindex WHERE tenant_id = {} AND finished_at IS NULL",
            tenant,
        )
        known = {str(r["entity"]): frozenset(_decode_targets(r["slots"])) for r in rows}
        self._pending[tenant] = known
        return known

    async def note_pending(self, tenant: str, count: int) -> None:
        """The config check counted ``count`` unfinished re-indexes: follow if that changed.

        One unfinished row per entity, so an unchanged count means unchanged
        slots (only an apply, which changes the config version, adds rows).
        """
        if count == 0:
            self._pending[tenant] = {}
            return
        known = self._pending.get(tenant)
        if known is None or len(known) != count:
            await self.load_pending(tenant)

    def _finished_here(self, tenant: str, entity: str) -> None:
        known = self._pending.get(tenant)
        if known is not None and entity in known:
            self._pending[tenant] = {k: v for k, v in known.items() if k != entity}

    # -- rows ----------------------------------------------------------------------

    async def count_rows(self, tenant: str, entity: str) -> int:
        """Records of ``entity``, archived ones included: what a walk visits."""
        rows = await self.db._fetch_as(
            tenant,
            "SELECT COUNT(*) AS n FROM record WHERE tenant_id = {} AND entity = {}",
            tenant,
            entity,
        )
        return int(rows[0]["n"])

    async def unfinished(self, tenant: str) -> list[Reindex]:
        rows = await self.db._fetch_as(
            tenant,
            f"SELECT {_COLUMNS} FROM reindex WHERE tenant_id = {{}} AND finished_at IS NULL "
            "ORDER BY entity",
            tenant,
        )
        return [Reindex.from_row(r) for r in rows]

    async def history(self, tenant: str) -> list[Reindex]:
        """Every re-index of the tenant, oldest first."""
        rows = await self.db._fetch_as(
            tenant, f"SELECT {_COLUMNS} FROM reindex WHERE tenant_id = {{}} ORDER BY id", tenant
        )
        return [Reindex.from_row(r) for r in rows]

    async def get(self, tenant: str, id: str) -> Reindex | None:
        rows = await self.db._fetch_as(
            tenant,
            f"SELECT {_COLUMNS} FROM reindex WHERE tenant_id = {{}} AND id = {{}}",
            tenant,
            id,
        )
        return Reindex.from_row(rows[0]) if rows else None

    async def tenants_pending(self) -> list[str]:
        """Tenants with an unfinished re-index (a system-scope read, for the worker)."""
        rows = await self.db._fetch_as(
            None,
            "SELECT DISTINCT tenant_id FROM reindex WHERE finished_at IS NULL ORDER BY tenant_id",
        )
        return [str(r["tenant_id"]) for r in rows]

    # -- apply ---------------------------------------------------------------------

    async def schedule(
        self,
        tenant: str,
        entity: str,
        changes: Targets,
        config_version: int,
        rows_total: int,
        now: datetime,
    ) -> Reindex | None:
        """Inside the apply transaction: record that ``changes`` must be written.

        With a re-index of the entity still running, its slot set widens and
        its walk restarts from the first record (rows already right are only
        read again); without ``changes`` it goes on untouched.
        """
        at = self.db._time(now)
        async with self.db.transaction(), self.db.tenant_scope(tenant):
            rows = await self.db.fetch(
                f"SELECT {_COLUMNS} FROM reindex "
                "WHERE tenant_id = {} AND entity = {} AND finished_at IS NULL",
                tenant,
                entity,
            )
            running = Reindex.from_row(rows[0]) if rows else None
            if not changes:
                return running
            if running is None:
                rid = ordered_id()
                await self.db.execute(
                    "INSERT INTO reindex (tenant_id, id, entity, slots, config_version, "
                    "rows_total, created_at, applied_at, updated_at) "
                    "VALUES ({}, {}, {}, {}, {}, {}, {}, {}, {})",
                    tenant,
                    rid,
                    entity,
                    _encode_targets(changes),
                    config_version,
                    rows_total,
                    at,
                    at,
                    at,
                )
            else:
                rid = running.id
                await self.db.execute(
                    "UPDATE reindex SET slots = {}, config_version = {}, last_id = '', "
                    "rows_total = {}, rows_done = 0, rows_changed = 0, applied_at = {}, "
                    "updated_at = {}, scanned_at = NULL WHERE tenant_id = {} AND id = {}",
                    _encode_targets({**running.targets, **changes}),
                    config_version,
                    rows_total,
                    at,
                    at,
                    tenant,
                    rid,
                )
            found = await self.db.fetch(
                f"SELECT {_COLUMNS} FROM reindex WHERE tenant_id = {{}} AND id = {{}}",
                tenant,
                rid,
            )
        return Reindex.from_row(found[0])

    async def abandon(self, tenant: str, entity: str, now: datetime) -> None:
        """Inside the apply transaction: the entity left the model; stop its re-index.

        Its records stay stored out of reach; if the entity comes back, every
        slot is rewritten then.
        """
        at = self.db._time(now)
        await self.db._execute_as(
            tenant,
            "UPDATE reindex SET finished_at = {}, updated_at = {}, lease_until = NULL, "
            "leased_by = NULL WHERE tenant_id = {} AND entity = {} AND finished_at IS NULL",
            at,
            at,
            tenant,
            entity,
        )

    # -- leases ----------------------------------------------------------------------

    async def claim(
        self, tenant: str, id: str, owner: str, now: datetime, lease_seconds: float
    ) -> Reindex | None:
        """Take (or renew) the lease of an unfinished re-index; ``None`` if another holds it."""
        rows = await self.db._fetch_as(
            tenant,
            "UPDATE reindex SET leased_by = {}, lease_until = {} "
            "WHERE tenant_id = {} AND id = {} AND finished_at IS NULL "
            "AND (leased_by IS NULL OR leased_by = {} OR lease_until IS NULL "
            f"OR lease_until <= {{}}) RETURNING {_COLUMNS}",
            owner,
            self.db._time(now + timedelta(seconds=lease_seconds)),
            tenant,
            id,
            owner,
            self.db._time(now),
        )
        return Reindex.from_row(rows[0]) if rows else None

    async def release(self, tenant: str, id: str, owner: str) -> None:
        """Give a lease back (stopping early): the next runner need not wait for it."""
        await self.db._execute_as(
            tenant,
            "UPDATE reindex SET leased_by = NULL, lease_until = NULL "
            "WHERE tenant_id = {} AND id = {} AND leased_by = {}",
            tenant,
            id,
            owner,
        )

    # -- the batches -----------------------------------------------------------------

    def _source(self, target: SlotTarget | None) -> str:
        """SQL computing a slot's value from ``data``, as ``core.values.slot_value`` does."""
        if target is None:
            return "NULL"
        e = json_expr(self.db.dialect, target.field, target.value_type)
        if target.value_type == "boolean" and self.db.dialect == "postgresql":
            return f"({e.sql})::int"
        return e.sql  # SQLite's json_extract already yields 1/0 for booleans

    def rewrite_sql(self, targets: Targets) -> tuple[str, str]:
        """``SET`` assignments and the condition "some pending slot differs"."""
        differs = "IS DISTINCT FROM" if self.db.dialect == "postgresql" else "IS NOT"
        sets, tests = [], []
        for slot in SLOT_COLUMNS:
            if slot not in targets:
                continue
            source = self._source(targets[slot])
            sets.append(f"{slot} = {source}")
            tests.append(
                f"{slot} IS NOT NULL" if source == "NULL" else f"{slot} {differs} {source}"
            )
        return ", ".join(sets), " OR ".join(tests)

    async def _batch_end(
        self, tenant: str, entity: str, after: str, batch: int
    ) -> tuple[str | None, int]:
        """The id that ends the next batch after ``after``, and the records in it.

        One id read (the ``batch``-th by primary key); only the last, shorter
        batch is counted. ``(None, 0)``: no record is left.
        """
        rows = await self.db._fetch_as(
            tenant,
            "SELECT id FROM record WHERE tenant_id = {} AND entity = {} AND id > {} "
            "ORDER BY id LIMIT 1 OFFSET {}",
            tenant,
            entity,
            after,
            batch - 1,
        )
        if rows:
            return str(rows[0]["id"]), batch
        rows = await self.db._fetch_as(
            tenant,
            "SELECT COUNT(*) AS n, MAX(id) AS last FROM record "
            "WHERE tenant_id = {} AND entity = {} AND id > {}",
            tenant,
            entity,
            after,
        )
        count = int(rows[0]["n"])
        return (str(rows[0]["last"]), count) if count else (None, 0)

    async def _rewrite_range(
        self, tenant: str, entity: str, targets: Targets, after: str, last: str
    ) -> int:
        """In the caller's transaction: rewrite rows ``after < id <= last`` that differ."""
        return await self._rewrite(tenant, entity, targets, "id > {} AND id <= {}", (after, last))

    async def _rewrite(
        self, tenant: str, entity: str, targets: Targets, where: str, args: tuple[Any, ...]
    ) -> int:
        """Rewrite the pending slots of the entity's records matching ``where``, where they differ.

        The rows are picked first, with whether each differs, in a
        materialised CTE whose only conditions are ``where``'s (a primary key
        or ``updated_at`` range), then updated by primary key. With the
        "differs" test in the UPDATE's own WHERE, PostgreSQL's planner, going
        by statistics from before the re-index (the slot was empty), took the
        slot's index for ``s_t4 IS NOT NULL`` and walked all of it for every
        batch. Returns how many rows changed, counted in the database.
        """
        sets, differs = self.rewrite_sql(targets)
        picked = (
            f"WITH picked AS MATERIALIZED (SELECT id, ({differs}) AS stale FROM record "
            f"WHERE tenant_id = {{}} AND entity = {{}} AND {where}) "
        )
        update = (
            f"UPDATE record SET {sets} FROM picked "
            "WHERE record.tenant_id = {} AND record.id = picked.id AND picked.stale"
        )
        params = (tenant, entity, *args, tenant)
        if self.db.dialect == "postgresql":
            rows = await self.db.fetch(
                f"{picked[:-1]}, changed AS ({update} RETURNING 1) "
                "SELECT COUNT(*) AS n FROM changed",
                *params,
            )
        else:
            await self.db.execute(picked + update, *params)
            # The transaction's own connection: changes() counts its last statement.
            rows = await self.db.fetch("SELECT changes() AS n")
        return int(rows[0]["n"])

    async def walk_batch(
        self, task: Reindex, owner: str, batch: int, now: datetime, lease_seconds: float
    ) -> Reindex:
        """Rewrite the next ``batch`` records after ``task.last_id``; the row after it.

        One short transaction: the records' pending slots where they differ,
        and the position, guarded by the config version and the lease (a row
        changed meanwhile rolls the batch back and raises :class:`Superseded`).
        When no record is left, the walk is marked done (``scanned_at``).
        """
        end, count = await self._batch_end(task.tenant, task.entity, task.last_id, batch)
        at, lease = self.db._time(now), self.db._time(now + timedelta(seconds=lease_seconds))
        async with self.db.transaction(), self.db.tenant_scope(task.tenant):
            changed = 0
            last = task.last_id
            if end is not None:
                last = end
                changed = await self._rewrite_range(
                    task.tenant, task.entity, task.targets, task.last_id, last
                )
            rows = await self.db.fetch(
                "UPDATE reindex SET last_id = {}, rows_done = rows_done + {}, "
                "rows_changed = rows_changed + {}, updated_at = {}, lease_until = {}, "
                f"scanned_at = {'NULL' if end is not None else '{}'} "
                "WHERE tenant_id = {} AND id = {} AND config_version = {} AND last_id = {} "
                f"AND leased_by = {{}} AND finished_at IS NULL RETURNING {_COLUMNS}",
                last,
                count,
                changed,
                at,
                lease,
                *(() if end is not None else (at,)),
                task.tenant,
                task.id,
                task.config_version,
                task.last_id,
                owner,
            )
            if not rows:
                raise Superseded(f"re-index {task.id} of {task.tenant}/{task.entity} moved on")
        return Reindex.from_row(rows[0])

    async def recheck_batch(
        self, task: Reindex, after: tuple[datetime, str], batch: int
    ) -> tuple[int, int, tuple[datetime, str] | None]:
        """Rewrite, where they differ, the next ``batch`` records written since ``after``.

        Keyset over ``(updated_at, id)`` (the ``record_updated`` index). Returns
        the rows seen, the rows rewritten and where to go on (``None``: done).
        """
        since, after_id = after
        t = self.db._time(since)
        rows = await self.db._fetch_as(
            task.tenant,
            "SELECT id, updated_at FROM record WHERE tenant_id = {} AND entity = {} "
            "AND (updated_at > {} OR (updated_at = {} AND id > {})) "
            "ORDER BY updated_at, id LIMIT {}",
            task.tenant,
            task.entity,
            t,
            t,
            after_id,
            batch,
        )
        if not rows:
            return 0, 0, None
        end_at = as_datetime(rows[-1]["updated_at"])
        assert end_at is not None
        end = (end_at, str(rows[-1]["id"]))
        e = self.db._time(end_at)
        async with self.db.transaction(), self.db.tenant_scope(task.tenant):
            changed = await self._rewrite(
                task.tenant,
                task.entity,
                task.targets,
                "(updated_at > {} OR (updated_at = {} AND id > {})) "
                "AND (updated_at < {} OR (updated_at = {} AND id <= {}))",
                (t, t, after_id, e, e, end[1]),
            )
        return len(rows), changed, (end if len(rows) == batch else None)

    async def finish(self, task: Reindex, owner: str, now: datetime) -> Reindex:
        """Mark the re-index done (guarded like a batch); reads use its slots again."""
        at = self.db._time(now)
        rows = await self.db._fetch_as(
            task.tenant,
            "UPDATE reindex SET finished_at = {}, updated_at = {}, lease_until = NULL, "
            "leased_by = NULL WHERE tenant_id = {} AND id = {} AND config_version = {} "
            "AND leased_by = {} AND scanned_at IS NOT NULL AND finished_at IS NULL "
            f"RETURNING {_COLUMNS}",
            at,
            at,
            task.tenant,
            task.id,
            task.config_version,
            owner,
        )
        if not rows:
            raise Superseded(f"re-index {task.id} of {task.tenant}/{task.entity} moved on")
        self._finished_here(task.tenant, task.entity)
        return Reindex.from_row(rows[0])

    async def checkpoint(self) -> None:
        """SQLite: copy the write-ahead log into the database file now (between batches).

        Left to SQLite, the copy happens at the commit that crosses 1,000
        pages of log, often a request's; a batch writes thousands of pages.
        ``PASSIVE`` never waits for readers or writers. PostgreSQL: nothing.
        """
        if self.db.dialect == "sqlite":
            await self.db.execute("PRAGMA wal_checkpoint(PASSIVE)")

    async def rewrite_all(self, tenant: str, entity: EntityDef, batch: int = 2000) -> int:
        """Recompute every slot column of every record of ``entity`` now, batch by batch.

        No bookkeeping, no pauses: for tools and tests (a running tenant uses
        :meth:`schedule` and :class:`Backfill`). Returns the records visited.
        """
        targets = slot_targets(entity)
        size = max(1, batch)
        after, seen = "", 0
        while True:
            end, count = await self._batch_end(tenant, entity.key, after, size)
            if end is None:
                return seen
            async with self.db.transaction(), self.db.tenant_scope(tenant):
                await self._rewrite_range(tenant, entity.key, targets, after, end)
            after, seen = end, seen + count
