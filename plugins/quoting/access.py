"""How the plugin reaches records: always through the service.

Derived values (a line's price, a quote's total, a version's snapshot) must
not depend on who is looking: a sales rep limited to their own records still
gets a total over every line of the quote. Those reads and the total's write
run as the system principal, as tenant automations do; everything a user
asks for directly runs as the user.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from core.context import CallContext, Principal, Record
from core.query import Condition, Filter, OrderBy

__all__ = ["all_records", "lines_of", "service_of", "system"]

_PAGE = 200


def service_of(ctx: CallContext) -> Any:
    """The record service the core hands stage hooks and actions (``None`` in a harness)."""
    return ctx.extra.get("service")


def system(ctx: CallContext) -> CallContext:
    """The same call, acting as the system (for derived values only)."""
    return CallContext(
        model=ctx.model,
        principal=Principal.system(ctx.tenant),
        clock=ctx.clock,
        extra={"service": service_of(ctx)},
    )


async def all_records(
    ctx: CallContext, entity: str, flt: Filter | None, order: list[OrderBy] | None = None
) -> AsyncIterator[Record]:
    """Every record matching ``flt``, page by page, as ``ctx`` may see them."""
    service = service_of(ctx)
    after: str | None = None
    while True:
        page, info = await service.list(ctx, entity, flt, order or [], _PAGE, after)
        for record in page:
            yield record
        if not info.has_next:
            return
        after = info.end_cursor


async def lines_of(ctx: CallContext, quote_id: str) -> list[Record]:
    """The quote's lines in the order they were added."""
    return [
        r
        async for r in all_records(
            ctx, "quote_line", Condition("quote", "eq", quote_id), [OrderBy("created_at")]
        )
    ]
