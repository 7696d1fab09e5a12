"""Quotes as Excel workbooks (.xlsx, openpyxl): one quote, or a list of quotes.

Numbers are real numeric cells with number formats (the currency's minor
units; percents as 0–100 numbers with a "%" suffix format, as the fields
store them), dates are date cells, so the sheet sums and sorts like any
other. Labels are the tenant's, in the caller's locale. Amounts go through
``float`` only at the cell: openpyxl stores numbers as IEEE doubles, as
Excel itself does; the exact amounts stay in Tessera.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from babel.numbers import get_currency_precision
from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.worksheet.worksheet import Worksheet

from core.context import CallContext, Record
from core.query import Filter, OrderBy
from plugins.quoting.access import all_records, lines_of, service_of
from plugins.quoting.totals import currency_of

__all__ = ["list_workbook", "quote_workbook"]

_PERCENT = '0.##" %"'
_QUANTITY = "#,##0.####"
_DATE = "yyyy-mm-dd"
_MAX_ROWS = 100_000  # a list export larger than this is refused, not truncated


def _money_format(currency: str) -> str:
    places = get_currency_precision(currency)
    return "#,##0" + ("." + "0" * places if places else "") + f' "{currency}"'


def _label(ctx: CallContext, entity: str, field: str) -> str:
    f = ctx.model.entities[entity].fields[field]
    return ctx.model.label(f.label, ctx.locale) or field


def _option(ctx: CallContext, entity: str, field: str, value: Any) -> Any:
    f = ctx.model.entities[entity].fields.get(field)
    for option in f.options if f else ():
        if option.value == value:
            return ctx.model.label(option.label, ctx.locale)
    return value


def _number(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def _put(ws: Worksheet, row: int, col: int, value: Any, fmt: str | None = None) -> None:
    cell = ws.cell(row=row, column=col, value=value)
    if fmt is not None and value is not None:
        cell.number_format = fmt


def _header(ws: Worksheet, row: int, names: Sequence[str]) -> None:
    for col, name in enumerate(names, 1):
        ws.cell(row=row, column=col, value=name).font = Font(bold=True)


def _save(wb: Workbook) -> bytes:
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


async def quote_workbook(ctx: CallContext, quote_id: str) -> bytes:
    """One quote: its header, its lines and its total, on one sheet."""
    quote = await service_of(ctx).get(ctx, "quote", quote_id)
    data = quote.data
    currency = currency_of(ctx, data)
    money = _money_format(currency)
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = (data.get("number") or "quote")[:31].replace("/", "-")
    header = [
        ("number", data.get("number"), None),
        ("title", data.get("title"), None),
        ("status", _option(ctx, "quote", "status", data.get("status")), None),
        ("valid_until", data.get("valid_until"), _DATE),
        ("revision", data.get("revision"), "0"),
        ("discount", _number(data.get("discount")), _PERCENT),
    ]
    for row, (key, value, fmt) in enumerate(header, 1):
        ws.cell(row=row, column=1, value=_label(ctx, "quote", key)).font = Font(bold=True)
        _put(ws, row, 2, value, fmt)
    fields = ("description", "quantity", "unit_price", "discount", "tax_rate", "amount")
    formats = (None, _QUANTITY, money, _PERCENT, _PERCENT, money)
    top = len(header) + 2
    _header(ws, top, [_label(ctx, "quote_line", f) for f in fields])
    row = top
    for row, line in enumerate(await lines_of(ctx, quote.id), top + 1):
        d = line.data
        values = (
            d.get("description"),
            _number(d.get("quantity")),
            _number((d.get("unit_price") or {}).get("amount")),
            _number(d.get("discount")),
            _number(d.get("tax_rate")),
            _number((d.get("amount") or {}).get("amount")),
        )
        for col, (value, fmt) in enumerate(zip(values, formats, strict=True), 1):
            _put(ws, row, col, value, fmt)
    total_row = row + 2
    ws.cell(row=total_row, column=5, value=_label(ctx, "quote", "total")).font = Font(bold=True)
    _put(ws, total_row, 6, _number((data.get("total") or {}).get("amount")), money)
    ws.column_dimensions["A"].width = 28
    ws.column_dimensions["B"].width = 14
    ws.column_dimensions["C"].width = 16
    ws.column_dimensions["F"].width = 18
    return _save(wb)


async def list_workbook(
    ctx: CallContext, flt: Filter | None, order: list[OrderBy] | None = None
) -> bytes:
    """Every quote matching ``flt`` that the caller may read, one row each."""
    columns = ("number", "title", "account", "status", "valid_until", "discount", "total")
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = ctx.model.label(ctx.model.entities["quote"].plural_label, ctx.locale)[:31]
    names = [_label(ctx, "quote", c) for c in columns]
    _header(ws, 1, [*names, "currency"])
    quotes: list[Record] = []
    async for quote in all_records(ctx, "quote", flt, order):
        quotes.append(quote)
        if len(quotes) > _MAX_ROWS:
            from core.errors import LimitExceeded

            raise LimitExceeded(f"more than {_MAX_ROWS} quotes: narrow the filter")
    account_ids = [q.data["account"] for q in quotes if q.data.get("account")]
    accounts = await service_of(ctx).get_many(ctx, "account", account_ids) if account_ids else {}
    for row, quote in enumerate(quotes, 2):
        d = quote.data
        currency = currency_of(ctx, d)
        account = accounts.get(d.get("account") or "")
        values: list[tuple[Any, str | None]] = [
            (d.get("number"), None),
            (d.get("title"), None),
            (account.data.get("name") if account else None, None),
            (_option(ctx, "quote", "status", d.get("status")), None),
            (d.get("valid_until"), _DATE),
            (_number(d.get("discount")), _PERCENT),
            (_number((d.get("total") or {}).get("amount")), _money_format(currency)),
            (currency, None),
        ]
        for col, (value, fmt) in enumerate(values, 1):
            _put(ws, row, col, value, fmt)
    for letter, width in zip("ABCDEFGH", (16, 30, 28, 14, 12, 10, 18, 8), strict=True):
        ws.column_dimensions[letter].width = width
    return _save(wb)
