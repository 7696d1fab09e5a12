"""Invoicing reports: receivables aging and monthly cash flow.

Every record is read through the service with the caller's context, so a
report covers only what the caller may read (record scope); a report that
needs a field or an entity the caller may not read is refused with
``FORBIDDEN`` rather than computed from part of the data. Money is summed
exactly in ``Decimal`` and rounded once per figure to the currency's minor
unit (half up). Amounts are in the tenant's currency: invoices and payments
in another currency are left out, as the sales reports leave them out of
their tenant-currency figures.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from babel.numbers import get_currency_precision

from core import authz
from core.context import CallContext, Record
from core.errors import BadRequest, Forbidden, Problem
from core.query import And, Condition
from plugins import labels as L

__all__ = [
    "BUCKETS",
    "BUCKET_LABELS",
    "MAX_MONTHS",
    "OPEN_STATUSES",
    "AgingRow",
    "CashFlowRow",
    "bucket_of",
    "cash_flow",
    "local_date",
    "month_key",
    "months",
    "receivables_aging",
    "report_range",
]

#: Invoice ids per ``in`` condition when fetching their payments.
_CHUNK = 500

#: Invoice statuses that still wait for money.
OPEN_STATUSES = ("issued", "partially_paid")

#: Aging buckets, in report order, and the highest number of days past due each holds.
BUCKETS: tuple[tuple[str, int | None], ...] = (
    ("current", 0),
    ("days_1_30", 30),
    ("days_31_60", 60),
    ("days_61_90", 90),
    ("over_90", None),
)

BUCKET_LABELS: dict[str, dict[str, str]] = {
    "current": L("Current", "未到期", "No vencido", "Hindi pa takdang petsa"),
    "days_1_30": L("1–30 days", "逾期 1–30 天", "1–30 días", "1–30 araw"),
    "days_31_60": L("31–60 days", "逾期 31–60 天", "31–60 días", "31–60 araw"),
    "days_61_90": L("61–90 days", "逾期 61–90 天", "61–90 días", "61–90 araw"),
    "over_90": L("Over 90 days", "逾期超过 90 天", "Más de 90 días", "Higit sa 90 araw"),
}

#: The longest cash-flow range, in calendar months.
MAX_MONTHS = 36

_OUT = "out"


def rounded(amount: Decimal, currency: str) -> Decimal:
    return amount.quantize(Decimal(1).scaleb(-get_currency_precision(currency)), ROUND_HALF_UP)


def local_date(ctx: CallContext, moment: datetime | None = None) -> date:
    """``moment`` (default: now) as a date in the tenant's time zone."""
    return (moment or ctx.clock()).astimezone(ZoneInfo(ctx.model.timezone)).date()


def bucket_of(days_past_due: int) -> str:
    """The aging bucket of an invoice ``days_past_due`` days after its due date."""
    for key, upto in BUCKETS:
        if upto is None or days_past_due <= upto:
            return key
    raise AssertionError("the last bucket has no upper bound")


def month_key(day: date) -> str:
    return f"{day.year}-{day.month:02d}"


def _month_index(day: date) -> int:
    return day.year * 12 + day.month - 1


def months(start: date, end: date) -> list[str]:
    """``YYYY-MM`` of every calendar month from ``start``'s to ``end``'s."""
    return [
        f"{i // 12}-{i % 12 + 1:02d}" for i in range(_month_index(start), _month_index(end) + 1)
    ]


def _first_of_month(index: int) -> date:
    return date(index // 12, index % 12 + 1, 1)


def report_range(ctx: CallContext, start: date | None, end: date | None) -> tuple[date, date]:
    """The days a cash-flow report covers, defaults filled in and the range checked.

    Without ``to``: the last day of this month (tenant time zone); without
    ``from``: the first day of the eleventh month before ``to``'s, so the
    default is twelve whole months ending with this one.
    """
    if end is None:
        end = _first_of_month(_month_index(local_date(ctx)) + 1) - timedelta(days=1)
    if start is None:
        start = _first_of_month(_month_index(end) - 11)
    if start > end:
        raise BadRequest(
            f"'from' ({start}) is after 'to' ({end})",
            [Problem("RANGE_REVERSED", "must not be after 'to'", "from")],
        )
    count = _month_index(end) - _month_index(start) + 1
    if count > MAX_MONTHS:
        raise BadRequest(
            f"the range covers {count} months; at most {MAX_MONTHS}",
            [Problem("RANGE_TOO_LONG", f"at most {MAX_MONTHS} months after 'from'", "to")],
        )
    return start, end


# -- reading ----------------------------------------------------------------------


def _require_readable(ctx: CallContext, entity: str, fields: Iterable[str]) -> None:
    """Refuse a report the caller could only compute from part of the data."""
    authz.require(ctx, entity, "read")
    edef = ctx.model.entities[entity]
    acc = authz.access(ctx, edef)
    denied = [f for f in fields if f in edef.fields and not acc.can_read(f)]
    if denied:
        raise Forbidden(
            f"this report needs {entity} fields your roles may not read",
            [
                Problem(
                    "FIELD_HIDDEN",
                    f"you may not read this {entity} field",
                    f"{edef.type_name}.{edef.fields[f].graphql_name}",
                )
                for f in denied
            ],
        )


def _amount(money: Any, currency: str) -> Decimal | None:
    """The amount of a money value in ``currency``; ``None`` if absent or in another currency."""
    if not money or money.get("currency") != currency:
        return None
    amount: Decimal = money["amount"]
    return amount


def _payment_day(ctx: CallContext, payment: Record) -> date:
    """When a payment moved: its ``paid_on``, else the local day it was recorded."""
    paid_on: date | None = payment.data.get("paid_on")
    return paid_on if paid_on is not None else local_date(ctx, payment.created_at)


def _signed(payment: Record, amount: Decimal) -> Decimal:
    """Money received is positive, money paid out (a refund) negative."""
    return -amount if payment.data.get("direction") == _OUT else amount


# -- receivables aging ---------------------------------------------------------------

_INVOICE_FIELDS = ("status", "issue_date", "due_date", "total")
_PAYMENT_FIELDS = ("invoice", "amount", "paid_on", "direction")


@dataclass(slots=True)
class AgingRow:
    bucket: str
    count: int = 0
    amount: Decimal = Decimal(0)


async def _received(
    ctx: CallContext, invoice_ids: Sequence[str], day: date, currency: str
) -> dict[str, Decimal]:
    """Invoice id -> money received against it up to ``day`` (net of refunds)."""
    out: dict[str, Decimal] = {}
    for i in range(0, len(invoice_ids), _CHUNK):
        chunk = list(invoice_ids[i : i + _CHUNK])
        async for pay in ctx.extra["service"].iterate(
            ctx, "payment", Condition("invoice", "in", chunk)
        ):
            amount = _amount(pay.data.get("amount"), currency)
            if amount is None or _payment_day(ctx, pay) > day:
                continue
            key = pay.data["invoice"]
            out[key] = out.get(key, Decimal(0)) + _signed(pay, amount)
    return out


async def receivables_aging(ctx: CallContext, day: date) -> list[AgingRow]:
    """Open invoices by days past due at ``day``: count and outstanding amount per bucket.

    Open: status issued or partially paid, issued on or before ``day``. Due:
    its due date, else its issue date; none of them: current. Outstanding:
    the total less the payments received against it up to ``day``, plus the
    refunds paid out against it. All five buckets, in order.
    """
    _require_readable(ctx, "invoice", _INVOICE_FIELDS)
    _require_readable(ctx, "payment", _PAYMENT_FIELDS)
    currency = ctx.model.currency
    invoices: list[tuple[str, Decimal, int]] = []  # id, total, days past due
    async for inv in ctx.extra["service"].iterate(
        ctx, "invoice", Condition("status", "in", list(OPEN_STATUSES))
    ):
        total = inv.data.get("total")
        amount = _amount(total, currency) if total else Decimal(0)
        issued: date | None = inv.data.get("issue_date")
        if amount is None or (issued is not None and issued > day):
            continue
        due: date | None = inv.data.get("due_date") or issued
        invoices.append((inv.id, amount, (day - due).days if due is not None else 0))
    received = await _received(ctx, [i for i, _, _ in invoices], day, currency)
    rows = {key: AgingRow(key) for key, _ in BUCKETS}
    for invoice_id, total, days in invoices:
        row = rows[bucket_of(days)]
        row.count += 1
        row.amount += total - received.get(invoice_id, Decimal(0))
    for row in rows.values():
        row.amount = rounded(row.amount, currency)
    return list(rows.values())


# -- cash flow --------------------------------------------------------------------------


@dataclass(slots=True)
class CashFlowRow:
    month: str
    cash_in: Decimal = Decimal(0)
    cash_out: Decimal = Decimal(0)


def _day_start(ctx: CallContext, day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=ZoneInfo(ctx.model.timezone)).astimezone(UTC)


async def cash_flow(ctx: CallContext, start: date, end: date) -> list[CashFlowRow]:
    """Money received and paid out per calendar month, ``start`` to ``end`` (both included).

    A payment counts on its ``paid_on`` date, else on the day it was recorded
    (tenant time zone). Every month of the range has a row, zero when empty.
    """
    _require_readable(ctx, "payment", ("amount", "paid_on", "direction"))
    currency = ctx.model.currency
    rows = {key: CashFlowRow(key) for key in months(start, end)}
    dated = And((Condition("paid_on", "gte", start), Condition("paid_on", "lte", end)))
    undated = And(
        (
            Condition("paid_on", "is_null", True),
            Condition("created_at", "gte", _day_start(ctx, start)),
            Condition("created_at", "lt", _day_start(ctx, end + timedelta(days=1))),
        )
    )
    for flt in (dated, undated):
        async for pay in ctx.extra["service"].iterate(ctx, "payment", flt):
            amount = _amount(pay.data.get("amount"), currency)
            day = _payment_day(ctx, pay)
            if amount is None or not start <= day <= end:
                continue
            row = rows[month_key(day)]
            if pay.data.get("direction") == _OUT:
                row.cash_out += amount
            else:
                row.cash_in += amount
    for row in rows.values():
        row.cash_in = rounded(row.cash_in, currency)
        row.cash_out = rounded(row.cash_out, currency)
    return list(rows.values())
