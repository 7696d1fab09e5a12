"""Any list as an Excel workbook (.xlsx): ``GET /t/{tenant}/export/{entity}``.

The rows are those the list query would return to the caller, through the
service (roles, record scope and field access apply: a field the caller may
not read is not a column). The filter and sort are the list query's own
inputs, as JSON (``?filter={"stage": {"eq": "won"}}&orderBy=[...]``).

Cells are typed: numbers, money (amount, with the currency's minor units in
the number format), percents, dates and datetimes (in the tenant's time
zone: Excel has none) are real cells, so the sheet sums and sorts; enums show
their label in the caller's locale. Amounts go through ``float`` only at the
cell, as Excel stores numbers; the exact values stay in Tessera.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from babel.numbers import get_currency_precision
from openpyxl import Workbook
from openpyxl.styles import Font

from core.context import CallContext
from core.errors import LimitExceeded
from core.metadata import EntityDef, FieldDef
from core.query import Filter, OrderBy

__all__ = ["MAX_EXPORT_ROWS", "list_workbook"]

#: A larger export is refused (narrow the filter), never silently cut.
MAX_EXPORT_ROWS = 100_000
_PAGE = 200
_PERCENT = '0.##" %"'
_DATE = "yyyy-mm-dd"
_DATETIME = "yyyy-mm-dd hh:mm"


def _money_format(currency: str) -> str:
    places = get_currency_precision(currency)
    return "#,##0" + ("." + "0" * places if places else "") + f' "{currency}"'


def _cell(ctx: CallContext, f: FieldDef, value: Any) -> tuple[Any, str | None]:
    """A stored value as a cell value and its number format."""
    if value is None:
        return None, None
    vt = f.value_type
    if vt == "money":
        return float(value["amount"]), _money_format(str(value["currency"]))
    if vt == "percent":
        return float(value), _PERCENT
    if isinstance(value, Decimal):
        return float(value), None
    if isinstance(value, datetime):
        local = value.astimezone(ZoneInfo(ctx.model.timezone)).replace(tzinfo=None)
        return local, _DATETIME
    if isinstance(value, date):
        return value, _DATE
    if vt in ("enum", "multi_enum"):
        labels = {o.value: ctx.model.label(o.label, ctx.locale) or o.value for o in f.options}
        if isinstance(value, list):
            return ", ".join(str(labels.get(v, v)) for v in value), None
        return labels.get(value, value), None
    if vt == "address":
        parts = ("street", "postal_code", "city", "region", "country")
        return ", ".join(str(value[p]) for p in parts if value.get(p)), None
    if isinstance(value, list):
        return ", ".join(str(v) for v in value), None
    return value, None


async def list_workbook(
    ctx: CallContext,
    service: Any,
    entity: EntityDef,
    flt: Filter | None,
    order: Sequence[OrderBy],
    hidden: frozenset[str] = frozenset(),
) -> bytes:
    """Every record of ``entity`` matching ``flt`` that the caller may read, one row each;
    ``hidden`` fields (those the caller's roles cannot read) are not columns."""
    fields = [f for f in entity.fields.values() if f.key not in hidden]
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = (ctx.model.label(entity.plural_label, ctx.locale) or entity.plural)[:31]
    header = ["id", *(ctx.model.label(f.label, ctx.locale) or f.key for f in fields)]
    for col, name in enumerate(header, 1):
        ws.cell(row=1, column=col, value=name).font = Font(bold=True)
    row, after = 1, None
    while True:
        records, page = await service.list(ctx, entity.key, flt, list(order), _PAGE, after)
        for record in records:
            row += 1
            if row - 1 > MAX_EXPORT_ROWS:
                raise LimitExceeded(
                    f"more than {MAX_EXPORT_ROWS} {entity.plural} match: narrow the filter"
                )
            ws.cell(row=row, column=1, value=record.id)
            for col, f in enumerate(fields, 2):
                value, fmt = _cell(ctx, f, record.data.get(f.key))
                cell = ws.cell(row=row, column=col, value=value)
                if fmt is not None:
                    cell.number_format = fmt
        if not page.has_next:
            break
        after = page.end_cursor
    ws.freeze_panes = "B2"
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
