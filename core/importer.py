"""CSV import and export of one entity's records, through the service (D3).

``crm import TENANT ENTITY FILE --as EMAIL`` reads a CSV whose header names
fields by key, GraphQL name or label (in any of the tenant's locales) and
creates one record per row as that user: roles, field access, validation
rules, hooks, computed fields, automations, audit and outbox all apply, as
for a record created over GraphQL. The import is atomic: every row is
checked, and if any row is refused nothing is written and every problem is
reported with its row and column. ``crm export`` writes the records the user
may read, with the fields they may read.

Cells: empty means no value; numbers and dates as in JSON (``12.50``,
``2026-11-24``, ISO date-times); money as an amount in the tenant's currency
or ``12.50 EUR``; booleans ``true/false/yes/no/1/0``; an enum by its key or
its label; multi-enums and relation lists separated by ``;``; relations and
users by id; addresses as a JSON object.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import IO, Any

from core.context import CallContext, Record
from core.errors import BadRequest, Problem, TesseraError, ValidationFailed
from core.metadata import SYSTEM_FIELDS, EntityDef, FieldDef
from core.query import OrderBy

__all__ = ["ImportResult", "export_csv", "import_csv"]

_TRUE = frozenset({"true", "yes", "1", "y", "si", "sí", "是", "oo"})
_FALSE = frozenset({"false", "no", "0", "n", "否", "hindi"})
_MAX_PROBLEMS = 200
_PAGE = 200


@dataclass(slots=True)
class ImportResult:
    created: int = 0
    problems: list[Problem] = field(default_factory=list)


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


def _cell(f: FieldDef, text: str, ctx: CallContext) -> Any:
    """A CSV cell as the value the service expects (the service checks it)."""
    t = f.value_type
    value = text.strip()
    if t == "boolean":
        low = value.casefold()
        return True if low in _TRUE else False if low in _FALSE else value
    if t == "money":
        amount, _, currency = value.partition(" ")
        return {"amount": amount, "currency": currency.strip().upper() or ctx.model.currency}
    if t == "enum":
        for option in f.options:
            if value == option.value or value.casefold() in (
                label.casefold() for label in option.label.values()
            ):
                return option.value
        return value
    if t in ("multi_enum", "relation_list"):
        items = [v.strip() for v in value.split(";") if v.strip()]
        if t == "multi_enum":
            return [_cell(_as_enum(f), v, ctx) for v in items]
        return items
    if t == "address":
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return {"street": value}
    if t in ("text", "long_text"):
        return text  # keep the text as written
    return value


def _as_enum(f: FieldDef) -> FieldDef:
    from dataclasses import replace

    return replace(f, type="enum", base_type="enum")


def _rows(stream: IO[str]) -> Iterator[list[str]]:
    sample = stream.read(64 * 1024)
    try:
        dialect: Any = csv.Sniffer().sniff(sample, delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    rest = stream.read()
    yield from csv.reader(io.StringIO(sample + rest), dialect)


async def import_csv(
    ctx: CallContext,
    service: Any,
    entity_key: str,
    stream: IO[str],
    *,
    dry_run: bool = False,
    progress: Callable[[int], None] | None = None,
) -> ImportResult:
    """Create a record per row, all or nothing; raise with every problem located."""
    entity = ctx.model.entities.get(entity_key)
    if entity is None:
        raise BadRequest(f"entity '{entity_key}' does not exist for this tenant")
    rows = _rows(stream)
    try:
        header = next(rows)
    except StopIteration:
        raise BadRequest("the file is empty") from None
    columns = _columns(entity, header, ctx)
    result = ImportResult()
    db = service.db
    # The tenant scope is set first, outside the per-row savepoints (rolling back to
    # a savepoint would also undo a scope set inside it).
    async with db.transaction(), db.tenant_scope(ctx.tenant):
        for number, row in enumerate(rows, start=2):
            if not any(cell.strip() for cell in row):
                continue
            values = {
                f.key: _cell(f, cell, ctx)
                for f, cell in zip(columns, row, strict=False)
                if f is not None and cell.strip()
            }
            # A refused row leaves no trace, and the transaction goes on (PostgreSQL
            # aborts a transaction on a failed statement unless a savepoint catches it).
            await db.execute("SAVEPOINT tessera_row")
            try:
                await service.create(ctx, entity.key, values)
                await db.execute("RELEASE SAVEPOINT tessera_row")
            except TesseraError as exc:
                await db.execute("ROLLBACK TO SAVEPOINT tessera_row")
                problems = exc.problems or [Problem(exc.code, exc.message, "")]
                for p in problems:
                    where = f"row {number}" + (f", {p.path}" if p.path else "")
                    if len(result.problems) < _MAX_PROBLEMS:
                        result.problems.append(Problem(p.code, p.message, where))
                continue
            result.created += 1
            if progress is not None and result.created % 1000 == 0:
                progress(result.created)
        if result.problems:
            # Nothing is half-applied: every row was checked, none is kept.
            raise ValidationFailed(
                f"{len(result.problems)} problem(s); nothing was imported", result.problems
            )
        if dry_run:
            raise _DryRun(result)
    return result


class _DryRun(Exception):
    """Leaves the import transaction by rolling it back."""

    def __init__(self, result: ImportResult) -> None:
        super().__init__("dry run")
        self.result = result


async def check_csv(
    ctx: CallContext, service: Any, entity_key: str, stream: IO[str]
) -> ImportResult:
    """An import that writes nothing: every row checked, then rolled back."""
    try:
        await import_csv(ctx, service, entity_key, stream, dry_run=True)
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
