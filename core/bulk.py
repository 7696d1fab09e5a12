"""Many creates of one entity in one transaction, a batch at a time (``crm import``).

:meth:`BulkCreate.add` does for a batch of rows what ``RecordService.create``
does for one, with the service's own functions and in the same order per
record (:meth:`~BulkCreate.check` is stage 1, :meth:`~BulkCreate.finish` the
rest, so the importer can check a batch while the previous one is written):

1. per row: the create permission, the values checked (field access,
   defaults, initial state, record scope), the ``pre_validate`` hooks;
2. the numbers of a numbering series, taken for the batch at once;
3. per row: the ``pre_operation`` hooks, then computed fields, required
   fields, references (read for the whole batch at once) and rules;
4. unique values, claimed for the batch at once;
5. one ``INSERT`` for the batch's records, with their slot columns; then per
   record the ``post_operation`` hooks; then the audit and outbox rows (one
   ``INSERT`` each); then per record the automations and timers of a create.

A row with a problem is left out and the others go on, as the per-row path
does with a savepoint per row; the caller reports every problem and rolls
the whole import back.

Batching changes only what per-record work could see of the other rows of
its batch, so the batch steps aside where that matters:

- a plugin hook that uses the service (to read or write records) while a
  batch runs raises :class:`PerRowNeeded`: the caller goes back to one record
  at a time for the rest of the import;
- a failure after the batch's rows were written (a ``post_operation`` hook or
  an automation refusing a record, a unique value taken meanwhile by another
  writer) raises :class:`PerRowNeeded` for that batch only, so it is redone
  one record at a time and reported exactly;
- automations on create whose actions write records make
  :func:`per_row_reason` say so before the import starts.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from core import authz, numbering
from core.context import CallContext, Operation, Record
from core.errors import Problem, TesseraError
from core.metadata import EntityDef, FieldDef
from core.plugins import PluginHost
from core.store.database import NewAudit, NewMessage, NewRecord
from core.values import unique_key

if TYPE_CHECKING:
    from core.service import RecordService

__all__ = ["BulkCreate", "BulkRow", "CheckedBatch", "PerRowNeeded", "per_row_reason"]

#: Automation actions on create that only queue messages or timers: they run per
#: record after the batch is written. Any other action writes records.
_BATCHABLE_ACTIONS = frozenset({"notify", "webhook", "start_timer", "cancel_timer"})
_PAUSE_EVERY = 32  # rows checked between two turns of the event loop, when asked to pause


class PerRowNeeded(TesseraError):
    """These creates must run one record at a time; ``for_rest``: for the rest of the import."""

    code = "PER_ROW"

    def __init__(self, message: str, *, for_rest: bool) -> None:
        super().__init__(message)
        self.for_rest = for_rest


def per_row_reason(ctx: CallContext, entity: EntityDef) -> str | None:
    """Why creates of ``entity`` cannot be batched for this tenant, or ``None``."""
    for automation in ctx.model.processes.automations_for(entity.key, "created"):
        for action in automation.actions:
            if action.type not in _BATCHABLE_ACTIONS:
                return (
                    f"automation '{automation.key}' runs '{action.type}' for each new "
                    f"{entity.key}, which writes records"
                )
    return None


@dataclass(slots=True)
class BulkRow:
    """One record to create: its input values and where it came from (a CSV row number)."""

    number: int
    values: dict[str, Any]


class _ServiceGuard:
    """Stands in for the service while hooks run inside a batch.

    The rows of a batch are written together, so a hook that reads or writes
    records could see a different world than one record at a time would show
    it: using the service at all sends the import back to the per-row path.
    """

    def __init__(self) -> None:
        self.used = ""

    def __getattr__(self, name: str) -> Any:
        self.used = self.used or name
        raise PerRowNeeded(
            f"a plugin hook uses the service ({name}) for each record", for_rest=True
        )


class _ReadAhead:
    """References looked up for a whole batch at once (``ReferenceLookup``).

    Ids it was not asked about ahead are looked up in the database, so it
    answers as the database would whatever values the hooks set.
    """

    def __init__(self, service: RecordService, entity: EntityDef) -> None:
        self._db = service.db
        self._ids: dict[str, dict[str, bool]] = {}  # target entity -> id -> exists
        self._users: dict[str, bool] = {}
        self._fields = [
            (key, f.value_type, f.target)
            for key, f in entity.fields.items()
            if f.value_type in ("relation", "relation_list", "user")
        ]

    async def read(self, tenant: str, ops: Sequence[Operation]) -> None:
        wanted: dict[str, set[str]] = {}
        users: set[str] = set()
        for op in ops:
            values = op.values
            for key, t, target in self._fields:
                value = values.get(key)
                if value is None:
                    continue
                if t == "relation" and target and isinstance(value, str):
                    wanted.setdefault(target, set()).add(value)
                elif t == "relation_list" and target and isinstance(value, list | tuple):
                    ids = wanted.setdefault(target, set())
                    ids.update(v for v in value if isinstance(v, str))
                elif t == "user" and isinstance(value, str):
                    users.add(value)
        for target, ids in wanted.items():
            known = self._ids.setdefault(target, {})
            ask = [i for i in ids if i not in known]
            found = await self._db.existing_ids(tenant, target, ask) if ask else set()
            known.update((i, i in found) for i in ask)
        for uid in users - self._users.keys():
            self._users[uid] = await self._db.get_user_by_id(tenant, uid) is not None

    async def existing_ids(self, tenant: str, entity: str, ids: Sequence[str]) -> set[str]:
        known = self._ids.get(entity, {})
        unknown = [i for i in ids if i not in known]
        found = await self._db.existing_ids(tenant, entity, unknown) if unknown else set()
        return {i for i in ids if known.get(i) or i in found}

    async def get_user_by_id(self, tenant: str, user_id: str) -> dict[str, Any] | None:
        exists = self._users.get(user_id)
        if exists is None:
            return await self._db.get_user_by_id(tenant, user_id)
        return {"id": user_id} if exists else None


@dataclass(slots=True)
class _Pending:
    """A row on its way through the stages; ``problems`` set means it stopped."""

    row: BulkRow
    op: Operation | None = None
    now: datetime | None = None
    checked: dict[str, Any] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)
    claims: dict[str, str] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    @property
    def rid(self) -> str:
        """The id the record will have."""
        assert self.op is not None
        return self.op.record_id


@dataclass(frozen=True, slots=True)
class CheckedBatch:
    """Rows past stage 1 (:meth:`BulkCreate.check`), for :meth:`BulkCreate.finish`."""

    rows: list[_Pending]


def _problems_of(exc: TesseraError) -> list[Problem]:
    return exc.problems or [Problem(exc.code, exc.message, "")]


class BulkCreate:
    """Creates records of one entity a batch at a time, inside the caller's transaction.

    Keeps the unique values claimed by the batches written so far, so a value
    repeated further down the file is refused with its row.
    """

    def __init__(
        self, service: RecordService, ctx: CallContext, entity: EntityDef, acc: authz.Access
    ) -> None:
        self.service = service
        self.ctx = ctx
        self.entity = entity
        self.acc = acc
        self.guard = _ServiceGuard()
        # Stage hooks see the guard; automations (after the batch is written) the service.
        self.hook_ctx = dataclasses.replace(ctx, extra={**ctx.extra, "service": self.guard})
        self.uniques: list[tuple[str, FieldDef]] = [
            (k, f) for k, f in entity.fields.items() if f.unique
        ]
        self.claimed: set[tuple[str, str]] = set()
        self.lookup = _ReadAhead(service, entity)
        # The plugin host runs only the tenant's enabled plugins: with none, every stage
        # hook is a no-op and is not called (a test double's hooks always are).
        self.hooks = not (isinstance(service.hooks, PluginHost) and not ctx.model.plugins)

    @classmethod
    async def open(cls, service: RecordService, ctx: CallContext, entity: str) -> BulkCreate:
        edef = service._entity(ctx, entity)
        # Stage hooks and actions read and write other records through the service.
        ctx.extra.setdefault("service", service)
        return cls(service, ctx, edef, await service._access(ctx, edef))

    async def _hook(self, stage: str, call: Awaitable[None]) -> None:
        await self.service._run_hook(stage, call)
        if self.guard.used:  # a hook that caught the guard's exception still used it
            raise PerRowNeeded(
                f"a plugin hook uses the service ({self.guard.used}) for each record",
                for_rest=True,
            )

    async def add(self, rows: Sequence[BulkRow]) -> tuple[int, list[tuple[int, Problem]]]:
        """Create the records of ``rows`` that pass every check: :meth:`check`, then
        :meth:`finish`."""
        return await self.finish(await self.check(rows))

    async def check(self, rows: Sequence[BulkRow], *, pause: bool = False) -> CheckedBatch:
        """Stage 1, per row: what ``RecordService.create`` checks before its transaction.

        Reads nothing from the database, so it may run while the previous batch
        is being written; ``pause`` lets that write go on every few rows.
        """
        service, ctx, entity = self.service, self.ctx, self.entity
        pending = [_Pending(row) for row in rows]
        for i, p in enumerate(pending):
            if pause and i % _PAUSE_EVERY == 0:
                await asyncio.sleep(0)
            try:
                authz.require(ctx, entity.key, "create")
                p.op = service._create_operation(ctx, entity, self.acc, p.row.values)
                p.checked = dict(p.op.values)
                if self.hooks:
                    await self._hook(
                        "pre_validate", service.hooks.pre_validate(self.hook_ctx, p.op)
                    )
            except PerRowNeeded:
                raise
            except TesseraError as exc:
                p.problems = _problems_of(exc)
                continue
            p.now = ctx.clock()
        return CheckedBatch(pending)

    async def finish(self, batch: CheckedBatch) -> tuple[int, list[tuple[int, Problem]]]:
        """Stages 2 to 5: create the records of a checked batch that pass every check;
        how many, and the problems of the others as ``(row number, problem)``, in row
        order.

        Raises :class:`PerRowNeeded` when the batch must be redone one record at a
        time (the caller rolls the batch back first).
        """
        pending = batch.rows
        live = [p for p in pending if not p.problems]
        await self._number(live)
        for p in live if self.hooks else ():
            assert p.op is not None
            try:
                await self._hook(
                    "pre_operation", self.service.hooks.pre_operation(self.hook_ctx, p.op)
                )
            except PerRowNeeded:
                raise
            except TesseraError as exc:
                p.problems = _problems_of(exc)
        live = [p for p in live if not p.problems]
        await self.lookup.read(self.ctx.tenant, [p.op for p in live if p.op])
        for p in live:
            assert p.op is not None
            try:
                p.data = await self.service._validated(
                    self.ctx,
                    self.entity,
                    p.op,
                    {},
                    checked=p.checked,
                    hooks_ran=self.hooks,
                    lookup=self.lookup,
                )
            except TesseraError as exc:
                p.problems = _problems_of(exc)
        live = [p for p in live if not p.problems]
        claims = await self._claim_uniques(live)
        live = [p for p in live if not p.problems]
        await self._write(live)
        self.claimed |= claims
        problems = [(p.row.number, problem) for p in pending for problem in p.problems]
        return len(live), problems

    async def _number(self, live: Sequence[_Pending]) -> None:
        """Stage 2: the series' numbers for the batch, one counter update per period."""
        model = self.ctx.model
        series = numbering.series_of(model, self.entity.key)
        if series is None:
            return
        zone = ZoneInfo(model.timezone)
        by_period: dict[str, list[tuple[Operation, datetime]]] = {}
        for p in live:
            assert p.op is not None and p.now is not None
            if p.op.values.get(series.field) is None:
                local = p.now.astimezone(zone)
                by_period.setdefault(numbering.period_of(series, local), []).append((p.op, local))
        for period, ops in by_period.items():
            last = await self.service.db.next_numbers(
                self.ctx.tenant, series.entity, period, len(ops)
            )
            first = last - len(ops) + 1
            for i, (op, local) in enumerate(ops):
                op.values[series.field] = numbering.format_number(series, local, first + i)

    async def _claim_uniques(self, live: Sequence[_Pending]) -> set[tuple[str, str]]:
        """Stage 4: claim unique values as ``RecordService._claim_uniques`` would, row
        after row; the claims kept.

        Every value new to this import is claimed at once (``INSERT ... ON
        CONFLICT DO NOTHING``, an index probe per value whatever the table's
        statistics); those refused belong to records already stored. Then, in
        row order, a row whose values are all free keeps them and a row with a
        taken value keeps none (its savepoint would have given them back): a
        value claimed for such a row is given back, or passed to the later row
        of the batch that keeps it.
        """
        if not self.uniques:
            return set()
        db, tenant, entity = self.service.db, self.ctx.tenant, self.entity.key
        for p in live:
            for key, f in self.uniques:
                value = p.data.get(key)
                if value is not None:
                    p.claims[key] = unique_key(f, value)
        first: dict[tuple[str, str], _Pending] = {}
        for p in live:
            for claim in p.claims.items():
                if claim not in self.claimed:
                    first.setdefault(claim, p)
        taken = set(
            await db.claim_uniques(tenant, entity, [(k, v, p.rid) for (k, v), p in first.items()])
        )
        kept: dict[tuple[str, str], _Pending] = {}
        for p in live:
            clash = [
                f
                for key, f in self.uniques
                if key in p.claims
                and (
                    (claim := (key, p.claims[key])) in self.claimed
                    or claim in taken
                    or claim in kept
                )
            ]
            if clash:
                p.problems = [
                    Problem("UNIQUE", "another record already has this value", f.graphql_name)
                    for f in clash
                ]
            else:
                kept.update((claim, p) for claim in p.claims.items())
        wrong = [(c, p) for c, p in first.items() if c not in taken and kept.get(c) is not p]
        for (key, value), p in wrong:
            await db.release_unique(tenant, entity, key, value, p.rid)
        passed = [(k, v, kept[k, v].rid) for (k, v), _ in wrong if (k, v) in kept]
        if passed and await db.claim_uniques(tenant, entity, passed):
            raise PerRowNeeded("a unique value was taken meanwhile", for_rest=False)
        return set(kept)

    async def _write(self, live: Sequence[_Pending]) -> None:
        """Stage 5: the batch's rows in one statement per table; per-record hooks and processes."""
        if not live:
            return
        service, ctx, entity, db = self.service, self.ctx, self.entity, self.service.db
        actor = ctx.principal.user_id
        records: list[tuple[_Pending, Record]] = []
        new_rows: list[NewRecord] = []
        for p in live:
            assert p.op is not None and p.now is not None
            stored = service._storage(entity, p.data)
            # ``_diff(entity, {}, stored)``: every stored value is new.
            p.op.changes = {key: [None, value] for key, value in stored.items()}
            new_rows.append(
                NewRecord(p.op.record_id, stored, service._slots(entity, p.data), actor, p.now)
            )
            record = Record(
                id=p.op.record_id,
                entity=entity.key,
                version=1,
                data=p.data,
                created_at=p.now,
                created_by=actor,
                updated_at=p.now,
                updated_by=actor,
            )
            records.append((p, record))
        await db.insert_records(ctx.tenant, entity.key, new_rows)
        audits: list[NewAudit] = []
        messages: list[NewMessage] = []
        for p, record in records:
            assert p.op is not None
            if self.hooks:
                await self._after_insert(
                    "post_operation",
                    self._hook(
                        "post_operation", service.hooks.post_operation(self.hook_ctx, p.op, record)
                    ),
                )
            audit, message = service._journal(ctx, entity, p.op, record, p.now)
            audits.append(audit)
            messages.append(message)
        await db.append_audits(ctx.tenant, audits)
        await db.enqueue_many(ctx.tenant, messages)
        for p, record in records:
            assert p.op is not None
            await self._after_insert(
                "an automation", service.processes.after_write(ctx, entity, p.op, record, {})
            )

    @staticmethod
    async def _after_insert(stage: str, call: Awaitable[None]) -> None:
        try:
            await call
        except PerRowNeeded:
            raise
        except TesseraError as exc:
            # The batch is written: redo it one record at a time to report this exactly.
            raise PerRowNeeded(f"{stage} refused a record: {exc.message}", for_rest=False) from exc
