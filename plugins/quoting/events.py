"""``quoting.quote_accepted``: the event other plugins hear when a quote is accepted.

Announced through the core's ``tessera_plugin_event`` hook from inside the
accepting transition's transaction, whichever way the acceptance happened
(the ``acceptQuote`` action, the generic transition mutation, or the last
approval of an approval step), so a handler that fails rolls the
acceptance back. Quoting imports none of the plugins that listen.

Payload::

    {"quote": {"id", "number", "title", "account", "owner", "currency",
               "discount", "total", "revision", "valid_until"},
     "lines": [{"id", "product", "description", "quantity", "unit_price",
                "discount", "tax_rate", "amount"}]}

Values are Python values as ``Record.data`` holds them (Decimal, money dicts).
"""

from __future__ import annotations

from core.context import CallContext, Operation, Record
from plugins.quoting.access import lines_of, service_of, system
from plugins.quoting.settings import settings_of
from plugins.quoting.totals import currency_of

__all__ = ["QUOTE_ACCEPTED", "announce_acceptance"]

QUOTE_ACCEPTED = "quoting.quote_accepted"

_HEADER = ("number", "title", "account", "owner", "discount", "total", "valid_until")
_LINE = ("product", "description", "quantity", "unit_price", "discount", "tax_rate", "amount")


async def announce_acceptance(ctx: CallContext, operation: Operation, record: Record) -> None:
    if operation.entity != "quote" or operation.action != "transition":
        return
    if operation.transition != settings_of(ctx.model).transitions["accept"]:
        return
    service = service_of(ctx)
    if service is None:
        return
    lines = await lines_of(system(ctx), record.id)
    payload = {
        "quote": {
            "id": record.id,
            **{k: record.data.get(k) for k in _HEADER},
            "currency": currency_of(ctx, record.data),
            "revision": record.data.get("revision") or 1,
        },
        "lines": [{"id": ln.id, **{k: ln.data.get(k) for k in _LINE}} for ln in lines],
    }
    await service.announce(ctx, QUOTE_ACCEPTED, payload)
