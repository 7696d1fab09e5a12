"""Quote totals, kept in step with the lines by the plugin itself.

A quote's total is the sum of its lines' amounts (each already rounded to
the currency, see ``amounts``) less the quote's own discount (a percent),
rounded once to the currency's minor units (ROUND_HALF_UP). The plugin
recalculates it whenever a line is added, changed, moved or deleted and
when the quote's discount changes, in the same transaction as that write;
the ``quoting.recalculate_total`` automation action stays for tenants that
call it from their own automations.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from babel.numbers import get_currency_precision

from core.context import CallContext, Operation, Record
from plugins.quoting.access import lines_of, service_of, system

__all__ = [
    "currency_of",
    "keep_totals",
    "quote_total",
    "recalculate_total",
    "refresh_total",
    "total_values",
]


def quote_total(amounts: list[Decimal], discount: Decimal | None, currency: str) -> Decimal:
    total = sum(amounts, Decimal(0)) * (1 - (discount or Decimal(0)) / Decimal(100))
    rounded = total.quantize(Decimal(1).scaleb(-get_currency_precision(currency)), ROUND_HALF_UP)
    return rounded.copy_abs() if rounded.is_zero() else rounded


def currency_of(ctx: CallContext, quote: Mapping[str, Any]) -> str:
    """The quote's currency: its own, else the tenant's."""
    return str(quote.get("currency") or ctx.model.currency)


async def total_values(ctx: CallContext, quote_id: str, quote: Mapping[str, Any]) -> dict[str, Any]:
    """``{"total": money}`` of a quote whose header values are ``quote``."""
    lines = await lines_of(system(ctx), quote_id)
    amounts = [ln.data["amount"]["amount"] for ln in lines if ln.data.get("amount")]
    currency = currency_of(ctx, quote)
    return {
        "total": {
            "amount": quote_total(amounts, quote.get("discount"), currency),
            "currency": currency,
        }
    }


async def refresh_total(ctx: CallContext, quote_id: str) -> None:
    """Recompute and store one quote's total (as the system: a derived value)."""
    sys = system(ctx)
    service = service_of(ctx)
    quote = await service.get(sys, "quote", quote_id)
    values = await total_values(ctx, quote_id, quote.data)
    if quote.data.get("total") != values["total"]:
        await service.update(sys, "quote", quote_id, values, None)


async def keep_totals(ctx: CallContext, operation: Operation, record: Record) -> None:
    """After a line is written or deleted, bring its quote's (or quotes') total in step."""
    if operation.entity != "quote_line" or service_of(ctx) is None:
        return
    quotes: set[str] = set()
    if operation.action in ("create", "delete"):
        quotes.add(record.data.get("quote") or "")
    elif "amount" in operation.changes or "quote" in operation.changes:
        before, after = operation.changes.get("quote", [None, record.data.get("quote")])
        quotes.update({before or "", after or ""})
    for quote_id in sorted(q for q in quotes if q):
        await refresh_total(ctx, quote_id)


async def total_on_discount(ctx: CallContext, operation: Operation) -> None:
    """A quote whose discount or currency changes gets its new total in the same write."""
    if operation.entity != "quote" or operation.action not in ("update", "transition"):
        return
    if service_of(ctx) is None or not ({"discount", "currency"} & set(operation.values)):
        return
    before = operation.previous.data if operation.previous else {}
    current = {**before, **operation.values}
    operation.values.update(await total_values(ctx, operation.record_id, current))


async def recalculate_total(
    ctx: CallContext, record: Record, params: Mapping[str, Any]
) -> Mapping[str, Any] | None:
    """The ``quoting.recalculate_total`` automation action."""
    if record.entity == "quote":
        return await total_values(ctx, record.id, record.data)
    if record.entity == "quote_line" and record.data.get("quote"):
        await refresh_total(ctx, record.data["quote"])
        return None
    raise ValueError("recalculate_total runs on a quote or a quote line")
