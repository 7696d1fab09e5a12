"""A new quote line's defaults: price from the quote's price list, tax and description.

A line that names a product but no unit price gets the price of that product
in the quote's price list (when the list is active, in the quote's currency
and valid on the tenant's today), else the product's own price when it is
in the quote's currency. A line without a tax rate takes the product's, else
``settings.quoting.default_tax_rate``. A unit price in another currency than
the quote's is refused: a total never adds up different currencies.
"""

from __future__ import annotations

from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from core.context import CallContext, Operation
from core.errors import Problem, ValidationFailed
from core.query import And, Condition
from plugins.quoting.access import all_records, service_of, system
from plugins.quoting.settings import settings_of
from plugins.quoting.totals import currency_of

__all__ = ["fill_line_defaults", "list_price"]


def _valid_on(data: dict[str, Any], today: date) -> bool:
    start, end = data.get("valid_from"), data.get("valid_until")
    return (
        data.get("active", True) is not False
        and (start is None or start <= today)
        and (end is None or today <= end)
    )


async def list_price(
    ctx: CallContext, price_list_id: str, product_id: str, currency: str, today: date
) -> dict[str, Any] | None:
    """The product's price in the list, if the list applies today in ``currency``."""
    sys = system(ctx)
    service = service_of(ctx)
    price_list = (await service.get_many(sys, "price_list", [price_list_id])).get(price_list_id)
    if price_list is None or price_list.data.get("currency") != currency:
        return None
    if not _valid_on(price_list.data, today):
        return None
    flt = And(
        (Condition("price_list", "eq", price_list_id), Condition("product", "eq", product_id))
    )
    async for item in all_records(sys, "price_list_item", flt):
        price = item.data.get("price")
        if price and price.get("currency") == currency:
            return dict(price)
    return None


async def fill_line_defaults(ctx: CallContext, operation: Operation) -> None:
    if operation.entity != "quote_line" or operation.action not in ("create", "update"):
        return
    service = service_of(ctx)
    before = operation.previous.data if operation.previous else {}
    current = {**before, **operation.values}
    quote_id = current.get("quote")
    if service is None or not quote_id:
        return
    sys = system(ctx)
    quote = (await service.get_many(sys, "quote", [quote_id])).get(quote_id)
    if quote is None:
        return  # the core reports the missing relation
    currency = currency_of(ctx, quote.data)
    product_id = current.get("product")
    product = None
    if product_id and operation.action == "create":
        product = (await service.get_many(sys, "product", [product_id])).get(product_id)
    if product is not None and "unit_price" not in operation.values:
        today = ctx.clock().astimezone(ZoneInfo(ctx.model.timezone)).date()
        price = None
        if quote.data.get("price_list"):
            price = await list_price(
                ctx, quote.data["price_list"], str(product_id), currency, today
            )
        own = product.data.get("price")
        if price is None and own and own.get("currency") == currency:
            price = dict(own)
        if price is not None:
            operation.values["unit_price"] = price
    if product is not None and not current.get("description"):
        operation.values["description"] = " ".join(
            str(v) for v in (product.data.get("model"), product.data.get("name")) if v
        )
    if operation.action == "create" and operation.values.get("tax_rate") is None:
        rate = product.data.get("tax_rate") if product is not None else None
        rate = rate if rate is not None else settings_of(ctx.model).default_tax_rate
        if rate is not None:
            operation.values["tax_rate"] = rate
    price = {**before, **operation.values}.get("unit_price")
    if price and price.get("currency") and price["currency"] != currency:
        raise ValidationFailed(
            f"the quote is in {currency}; this price is in {price['currency']}",
            [
                Problem(
                    "CURRENCY_MISMATCH",
                    f"use a price in {currency}, the quote's currency",
                    "unitPrice",
                )
            ],
        )
