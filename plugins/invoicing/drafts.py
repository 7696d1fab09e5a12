"""An accepted quote becomes a draft invoice (``quoting.quote_accepted``).

The invoicing plugin listens through the core's ``tessera_plugin_event``
hook; it does not import quoting, and quoting does not import it. The draft
is written through the service as the system (it is a consequence of the
acceptance, like an automation's work), in the acceptance's transaction.
It is made once per quote: a second acceptance (after a revision) finds the
draft and leaves it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from core.context import CallContext, Principal
from core.query import Condition

__all__ = ["QUOTE_ACCEPTED", "draft_from_quote"]

QUOTE_ACCEPTED = "quoting.quote_accepted"


async def draft_from_quote(ctx: CallContext, payload: Mapping[str, Any]) -> None:
    service = ctx.extra["service"]
    sys = CallContext(
        model=ctx.model,
        principal=Principal.system(ctx.tenant),
        clock=ctx.clock,
        extra={"service": service},
    )
    quote = payload["quote"]
    # Narrowed by the indexed account, then matched on the quote id.
    flt = Condition("account", "eq", quote["account"]) if quote.get("account") else None
    after: str | None = None
    while True:
        page, info = await service.list(sys, "invoice", flt, [], 200, after)
        if any(inv.data.get("source_quote") == quote["id"] for inv in page):
            return
        if not info.has_next:
            break
        after = info.end_cursor
    values: dict[str, Any] = {
        "source_quote": quote["id"],
        "quote_number": quote.get("number"),
        "account": quote.get("account"),
        "total": quote.get("total"),
        "status": "draft",
    }
    await service.create(sys, "invoice", {k: v for k, v in values.items() if v is not None})
