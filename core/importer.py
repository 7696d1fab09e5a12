"""CSV import and export of one entity's records, through the service (D3).

``crm import TENANT ENTITY FILE --as EMAIL`` reads a CSV whose header names
fields by key, GraphQL name or label (in any of the tenant's locales) and
creates one record per row as that user: roles, field access, validation
rules, hooks, computed fields, automations, audit and outbox all apply, as
for a record created over GraphQL. The import is atomic: every row is
checked, and if any row is refused nothing is written and every problem is
reported with its row and column. ``crm export`` writes the records the user
may read, with the fields they may read.

Rows are created a batch at a time (``core.bulk``: the same checks, hooks and
processes per record, one statement per table per batch); when the entity's
processes need one record at a time, the import says why and goes row by row
with a savepoint per row. The file is read as it is imported, never held in
memory whole.

Cells: empty means no value; numbers and dates as in JSON (``12.50``,
``2026-11-24``, ISO date-times); money as an amount in the tenant's currency
or ``12.50 EUR``; booleans ``true/false/yes/no/1/0``; an enum by its key or
its label; multi-enums and relation lists separated by ``;``; relations and
users by id; addresses as a JSON object.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import gc
import io
import itertools
import json
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import IO, Any, cast

from core.bulk import BulkCreate, BulkRow, CheckedBatch, PerRowNeeded, per_row_reason
from core.context import CallContext, Record
from core.errors import BadRequest, Problem, TesseraError, ValidationFailed
from core.metadata import SYSTEM_FIELDS, EntityDef, FieldDef
from core.query import OrderBy

__all__ = ["BATCH_SIZE", "ImportProgress", "ImportResult", "check_csv", "export_csv", "import_csv"]

_TRUE = frozenset({"true", "yes", "1", "y", "si", "sí", "是", "oo"})
_FALSE = frozenset({"false", "no", "0", "n", "否", "hindi"})
_MAX_PROBLEMS = 200
#: Rows created together (``core.bulk``): large enough that a statement per table
#: per batch costs little per row, small enough to keep memory flat.
BATCH_SIZE = 2_000
_PAUSE_EVERY = 64  # rows read between two turns of the event loop, when asked to pause
_Written = tuple[int, list[tuple[int, Problem]]]
_Checked = CheckedBatch | PerRowNeeded | None
_PAGE = 200


@dataclass(frozen=True, slots=True)
class ImportProgress:
    """How far an import is: rows read and checked, records written, seconds so far."""

    checked: int
    written: int
    seconds: float
    #: Why records are created one at a time (``None``: a batch at a time).
    one_by_one: str | None = None

    @property
    def rate(self) -> float:
        """Rows checked per second."""
        return self.checked / self.seconds if self.seconds else 0.0


@dataclass(slots=True)
class ImportResult:
    created: int = 0
    #: The first problems found (at most 200), each located by row and field.
    problems: list[Problem] = field(default_factory=list)
    #: Every problem found, listed or not.
    problem_count: int = 0
    checked: int = 0
    seconds: float = 0.0
    #: Why records were created one at a time (``None``: a batch at a time).
    one_by_one: str | None = None

    def progress(self) -> ImportProgress:
        return ImportProgress(self.checked, self.created, self.seconds, self.one_by_one)


def _columns(entity: EntityDef, header: list[str], ctx: CallContext) -> list[FieldDef | None]:
    """The field of each column; unknown columns are an error naming them."""
    names: dict[str, FieldDef] = {}
    for f in entity.fields.values():
        names[f.key.casefold()] = f
        names[f.graphql_name.casefold()] = f
        for label in f.label.values():
            names.setdefault(label.strip().casefold(), f)
    out: list[FieldDef | None] = []
    unknown: list[Problem] = []
    for i, name in enumerate(header):
        found = names.get(name.strip().casefold())
        if found is None and name.strip() not in SYSTEM_FIELDS:
            unknown.append(
                Problem(
                    "UNKNOWN_COLUMN", f"'{entity.key}' has no field '{name}'", f"column {i + 1}"
                )
            )
        out.append(found)
    if unknown:
        raise BadRequest("the header names unknown fields", unknown)
    return out


def _enum_reader(f: FieldDef) -> Callable[[str], str]:
    """An enum cell (stripped) as its option's key: the first option it names by key or label."""
    by_key: dict[str, int] = {}
    by_label: dict[str, int] = {}
    for i, option in enumerate(f.options):
        by_key.setdefault(option.value, i)
        for label in option.label.values():
            by_label.setdefault(label.casefold(), i)
    keys = [o.value for o in f.options]
    missing = len(keys)

    def read(value: str) -> str:
        i = min(by_key.get(value, missing), by_label.get(value.casefold(), missing))
        return keys[i] if i < missing else value

    return read


def _converter(f: FieldDef, ctx: CallContext) -> Callable[[str], Any]:
    """How cells of ``f``'s column become values, decided once per column."""
    t = f.value_type
    if t == "boolean":

        def boolean(text: str) -> Any:
            value = text.strip()
            low = value.casefold()
            return True if low in _TRUE else False if low in _FALSE else value

        return boolean
    if t == "money":
        default_currency = ctx.model.currency

        def money(text: str) -> Any:
            amount, _, currency = text.strip().partition(" ")
            return {"amount": amount, "currency": currency.strip().upper() or default_currency}

        return money
    if t == "enum":
        enum = _enum_reader(f)
        return lambda text: enum(text.strip())
    if t == "multi_enum":
        option = _enum_reader(f)
        return lambda text: [option(v.strip()) for v in text.split(";") if v.strip()]
    if t == "relation_list":
        return lambda text: [v.strip() for v in text.split(";") if v.strip()]
    if t == "address":

        def address(text: str) -> Any:
            value = text.strip()
            try:
                return json.loads(value)
            except json.JSONDecodeError:
                return {"street": value}

        return address
    if t in ("text", "long_text"):
        return lambda text: text  # keep the text as written
    return str.strip


def _rows(stream: IO[str]) -> Iterator[list[str]]:
    """The CSV's rows, read as they are needed (the file is never held in memory)."""
    sample = stream.read(64 * 1024)
    if sample and not sample.endswith(("\n", "\r")):
        sample += stream.readline()  # whole lines only: the reader takes one line at a time
    try:
        dialect: Any = csv.Sniffer().sniff(sample, delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    yield from csv.reader(itertools.chain(io.StringIO(sample, newline=""), stream), dialect)


def _records(
    rows: Iterator[list[str]], columns: list[FieldDef | None], ctx: CallContext
) -> Iterator[BulkRow]:
    """Each non-empty row's values, numbered as a spreadsheet numbers it (header = 1)."""
    readers = [(f.key, _converter(f, ctx)) if f is not None else None for f in columns]
    for number, row in enumerate(rows, start=2):
        values: dict[str, Any] = {}
        blank = True
        for reader, cell in zip(readers, row, strict=False):
            if cell.strip():
                blank = False
                if reader is not None:
                    values[reader[0]] = reader[1](cell)
        if blank and not any(cell.strip() for cell in row):
            continue
        yield BulkRow(number, values)


async def _take(rows: Iterator[BulkRow], size: int, *, pause: bool) -> list[BulkRow]:
    """The next ``size`` rows; ``pause``: let other work run every few rows."""
    batch: list[BulkRow] = []
    for row in rows:
        batch.append(row)
        if len(batch) == size:
            break
        if pause and len(batch) % _PAUSE_EVERY == 0:
            await asyncio.sleep(0)
    return batch


async def import_csv(
    ctx: CallContext,
    service: Any,
    entity_key: str,
    stream: IO[str],
    *,
    dry_run: bool = False,
    progress: Callable[[ImportProgress], None] | None = None,
    batch_size: int = BATCH_SIZE,
    one_by_one: bool = False,
) -> ImportResult:
    """Create a record per row, all or nothing; raise with every problem located.

    Rows are created a batch at a time (``core.bulk``) unless the entity's
    processes need one record at a time (``one_by_one`` asks for it too);
    ``result.one_by_one`` says why. ``progress`` is called after every batch.
    """
    entity = ctx.model.entities.get(entity_key)
    if entity is None:
        raise BadRequest(f"entity '{entity_key}' does not exist for this tenant")
    rows = _rows(stream)
    try:
        header = next(rows)
    except StopIteration:
        raise BadRequest("the file is empty") from None
    columns = _columns(entity, header, ctx)
    run = _Import(ctx, service, entity, _records(rows, columns, ctx), batch_size)
    if one_by_one:
        run.result.one_by_one = "asked for"
    else:
        run.result.one_by_one = per_row_reason(ctx, entity)
    db = service.db
    # The tenant scope is set first, outside the savepoints (rolling back to a
    # savepoint would also undo a scope set inside it).
    async with _long_lived_frozen(), db.transaction(), db.tenant_scope(ctx.tenant):
        await db.prepare_bulk_writes()
        result = await run.all(progress)
        if result.problems:
            # Nothing is half-applied: every row was checked, none is kept.
            raise ValidationFailed(
                f"{result.problem_count} problem(s); nothing was imported", result.problems
            )
        if dry_run:
            raise _DryRun(result)
    return result


class _Import:
    """One import's rows through the batch path (``core.bulk``) or one record at a time."""

    def __init__(
        self,
        ctx: CallContext,
        service: Any,
        entity: EntityDef,
        records: Iterator[BulkRow],
        batch_size: int,
    ) -> None:
        self.ctx = ctx
        self.service = service
        self.entity = entity
        self.records = records
        self.batch_size = batch_size
        self.result = ImportResult()
        self.bulk: BulkCreate | None = None
        # PostgreSQL writes a batch in its own process while this one reads and checks
        # the next batch (22 % faster, measured). SQLite writes in a thread of this
        # process that takes the interpreter lock for every row: overlapping measured
        # no faster there, so it runs one step after the other.
        self.overlap = service.db.dialect == "postgresql"

    async def all(self, progress: Callable[[ImportProgress], None] | None) -> ImportResult:
        """Every row, a batch at a time; the result (problems not raised)."""
        result, db = self.result, self.service.db
        started = time.perf_counter()
        if not result.one_by_one:
            self.bulk = await BulkCreate.open(self.service, self.ctx, self.entity.key)
        batch, checked = await self._read_ahead()
        while batch:
            result.checked += len(batch)
            following = None
            if isinstance(checked, PerRowNeeded):
                self._one_by_one_from_now(checked)
            elif checked is not None and self.bulk is not None:
                # A batch that must be redone one record at a time leaves no trace.
                await db.execute("SAVEPOINT tessera_batch")
                done, following = await self._write(self.bulk, checked)
                if isinstance(done, PerRowNeeded):
                    await db.execute("ROLLBACK TO SAVEPOINT tessera_batch")
                    if done.for_rest:
                        self._one_by_one_from_now(done)
                else:
                    result.created += done[0]
                    self._report(done[1])
                    batch = []
                await db.execute("RELEASE SAVEPOINT tessera_batch")
            for row in batch:
                refused = await _create_one(self.ctx, self.service, self.entity, row)
                if refused is None:
                    result.created += 1
                else:
                    self._report((row.number, p) for p in refused)
            result.seconds = time.perf_counter() - started
            if progress is not None:
                progress(result.progress())
            batch, checked = following if following is not None else await self._read_ahead()
            if self.bulk is None:
                checked = None  # read ahead for a batch path given up meanwhile
        return result

    def _one_by_one_from_now(self, reason: PerRowNeeded) -> None:
        self.bulk, self.result.one_by_one = None, reason.message

    async def _read_ahead(self) -> tuple[list[BulkRow], _Checked]:
        """The next rows, and (batch path) their first checks."""
        batch = await _take(self.records, self.batch_size, pause=self.overlap)
        if self.bulk is None or not batch:
            return batch, None
        try:
            return batch, await self.bulk.check(batch, pause=self.overlap)
        except PerRowNeeded as exc:
            return batch, exc

    async def _write(
        self, bulk: BulkCreate, checked: CheckedBatch
    ) -> tuple[_Written | PerRowNeeded, tuple[list[BulkRow], _Checked] | None]:
        """Write a checked batch (and, overlapping, read and check the next one)."""

        async def write() -> _Written | PerRowNeeded:
            try:
                return await bulk.finish(checked)
            except PerRowNeeded as exc:
                return exc

        if not self.overlap:
            return await write(), None
        done, following = await asyncio.gather(write(), self._read_ahead(), return_exceptions=True)
        for outcome in (done, following):  # both return PerRowNeeded rather than raise it
            if isinstance(outcome, BaseException) and not isinstance(outcome, PerRowNeeded):
                raise outcome
        return cast(_Written | PerRowNeeded, done), cast(tuple[list[BulkRow], _Checked], following)

    def _report(self, problems: Iterable[tuple[int, Problem]]) -> None:
        result = self.result
        for number, p in problems:
            if len(result.problems) < _MAX_PROBLEMS:
                where = f"row {number}" + (f", {p.path}" if p.path else "")
                result.problems.append(Problem(p.code, p.message, where))
            result.problem_count += 1


@contextlib.asynccontextmanager
async def _long_lived_frozen() -> AsyncIterator[None]:
    """Keep the objects alive before the import out of the garbage collector's full scans.

    An import allocates millions of short-lived objects; each full collection
    they trigger would otherwise walk every object of the process too (the
    tenant model, the libraries): 15 % of an import's time, measured. Does
    nothing when the process froze its objects itself (``gc.freeze()``).
    """
    if gc.get_freeze_count():
        yield
        return
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


async def _create_one(
    ctx: CallContext, service: Any, entity: EntityDef, row: BulkRow
) -> list[Problem] | None:
    """Create one record through the service; its problems if it is refused."""
    db = service.db
    # A refused row leaves no trace, and the transaction goes on (PostgreSQL aborts a
    # transaction on a failed statement unless a savepoint catches it).
    await db.execute("SAVEPOINT tessera_row")
    try:
        await service.create(ctx, entity.key, row.values)
    except TesseraError as exc:
        await db.execute("ROLLBACK TO SAVEPOINT tessera_row")
        await db.execute("RELEASE SAVEPOINT tessera_row")
        return exc.problems or [Problem(exc.code, exc.message, "")]
    await db.execute("RELEASE SAVEPOINT tessera_row")
    return None


class _DryRun(Exception):
    """Leaves the import transaction by rolling it back."""

    def __init__(self, result: ImportResult) -> None:
        super().__init__("dry run")
        self.result = result


async def check_csv(
    ctx: CallContext,
    service: Any,
    entity_key: str,
    stream: IO[str],
    *,
    progress: Callable[[ImportProgress], None] | None = None,
    one_by_one: bool = False,
) -> ImportResult:
    """An import that writes nothing: every row checked, then rolled back."""
    try:
        await import_csv(
            ctx,
            service,
            entity_key,
            stream,
            dry_run=True,
            progress=progress,
            one_by_one=one_by_one,
        )
    except _DryRun as done:
        return done.result
    raise AssertionError("unreachable")  # pragma: no cover


def _text(f: FieldDef | None, value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Mapping) and "amount" in value:
        return f"{value['amount']} {value.get('currency', '')}".strip()
    if isinstance(value, Mapping):
        return json.dumps({k: v for k, v in value.items() if v is not None}, ensure_ascii=False)
    if isinstance(value, list | tuple):
        return ";".join(str(v) for v in value)
    if isinstance(value, Decimal):
        return format(value, "f")
    if hasattr(value, "isoformat"):
        return str(value.isoformat())
    return str(value)


async def export_csv(ctx: CallContext, service: Any, entity_key: str, sink: IO[str]) -> int:
    """Every record the caller may read, with the fields they may read; how many."""
    entity = ctx.model.entities.get(entity_key)
    if entity is None:
        raise BadRequest(f"entity '{entity_key}' does not exist for this tenant")
    writer = csv.writer(sink)
    keys: list[str] | None = None
    count = 0
    after: str | None = None
    while True:
        records, page = await service.list(
            ctx, entity.key, None, [OrderBy("created_at")], _PAGE, after
        )
        if keys is None:
            keys = _readable(ctx, service, entity, records)
            writer.writerow(["id", *keys])
        for record in records:
            writer.writerow(
                [record.id, *(_text(entity.fields[k], record.data.get(k)) for k in keys)]
            )
            count += 1
        if not page.has_next:
            return count
        after = page.end_cursor


def _readable(
    ctx: CallContext, service: Any, entity: EntityDef, sample: Iterable[Record]
) -> list[str]:
    from core import authz

    acc = authz.access(ctx, entity)
    return [k for k, f in entity.fields.items() if acc.can_read(k)]
