"""Quote line amounts: exact Decimal arithmetic, rounded once at the end.

``amount = quantity × unit_price × (1 − discount/100) × (1 + tax_rate/100)``,
rounded to the currency's minor units (Babel's precision: JPY 0, EUR 2,
KWD 3) with ROUND_HALF_UP, the commercial rounding customers expect on
quotes and invoices.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Decimal, localcontext
from typing import Any

from babel.numbers import get_currency_precision

from core.context import CallContext, Operation

__all__ = ["line_amount", "set_line_amount"]

_HUNDRED = Decimal(100)
_INPUTS = ("quantity", "unit_price", "discount", "tax_rate")


def line_amount(
    quantity: Decimal,
    unit_price: Decimal,
    currency: str,
    discount: Decimal | None = None,
    tax_rate: Decimal | None = None,
) -> Decimal:
    """The rounded amount of one line; ``discount`` and ``tax_rate`` are percents."""
    with localcontext() as exact:
        # Enough digits that nothing is rounded before the final quantize.
        exact.prec = 200
        raw = (
            quantity
            * unit_price
            * (1 - (discount or 0) / _HUNDRED)
            * (1 + (tax_rate or 0) / _HUNDRED)
        )
        minor = Decimal(1).scaleb(-get_currency_precision(currency))
        amount = raw.quantize(minor, rounding=ROUND_HALF_UP)
    # A zero product of a negative price is -0; show and store it as 0.
    return amount.copy_abs() if amount.is_zero() else amount


def set_line_amount(ctx: CallContext, operation: Operation) -> None:
    """Set ``amount`` of a quote line being created or updated from its inputs."""
    if operation.entity != "quote_line" or operation.action not in ("create", "update"):
        return
    if operation.action == "update" and not any(k in operation.values for k in _INPUTS):
        return
    before: Mapping[str, Any] = operation.previous.data if operation.previous else {}
    current = {**before, **operation.values}
    quantity, price = current.get("quantity"), current.get("unit_price")
    if quantity is None or price is None:
        operation.values["amount"] = None
        return
    currency = price.get("currency") or ctx.model.currency
    amount = line_amount(
        quantity, price["amount"], currency, current.get("discount"), current.get("tax_rate")
    )
    operation.values["amount"] = {"amount": amount, "currency": currency}
