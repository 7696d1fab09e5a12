"""The ``quoting.recalculate_total`` automation action.

A quote's total is the sum of its lines' amounts less the quote's own
discount (a percent), rounded once to the currency's minor units
(ROUND_HALF_UP). Run on a quote it returns the new total; run on a quote
line (e.g. ``on: field_changed [amount]``) it updates the line's quote
through the service, so the quote's rules, audit and automations apply.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from babel.numbers import get_currency_precision

from core.context import CallContext, Record
from core.query import Condition

__all__ = ["quote_total", "recalculate_total"]

_PAGE = 200


def quote_total(amounts: list[Decimal], discount: Decimal | None, currency: str) -> Decimal:
    total = sum(amounts, Decimal(0)) * (1 - (discount or Decimal(0)) / Decimal(100))
    return total.quantize(Decimal(1).scaleb(-get_currency_precision(currency)), ROUND_HALF_UP)


async def _total_of(ctx: CallContext, quote: Record) -> dict[str, Any]:
    service = ctx.extra["service"]
    amounts: list[Decimal] = []
    after: str | None = None
    while True:
        lines, page = await service.list(
            ctx, "quote_line", Condition("quote", "eq", quote.id), [], _PAGE, after
        )
        amounts += [ln.data["amount"]["amount"] for ln in lines if ln.data.get("amount")]
        if not page.has_next:
            break
        after = page.end_cursor
    currency = ctx.model.currency
    return {
        "total": {
            "amount": quote_total(amounts, quote.data.get("discount"), currency),
            "currency": currency,
        }
    }


async def recalculate_total(
    ctx: CallContext, record: Record, params: Mapping[str, Any]
) -> Mapping[str, Any] | None:
    service = ctx.extra["service"]
    if record.entity == "quote":
        return await _total_of(ctx, record)
    if record.entity == "quote_line" and record.data.get("quote"):
        quote = await service.get(ctx, "quote", record.data["quote"])
        values = await _total_of(ctx, quote)
        if quote.data.get("total") != values["total"]:
            await service.update(ctx, "quote", quote.id, values, None)
        return None
    raise ValueError("recalculate_total runs on a quote or a quote line")
