"""Contact channel preferences, honoured by every automation that sends messages.

A contact refuses a channel by listing it in ``refused_channels`` (or, for
email and phone, with ``do_not_email`` / ``do_not_call``). Through the
``tessera_message_refusals`` hook the core's ``notify`` action asks before
sending; a refused recipient is skipped and the skip is written to the
record's history. Contacts are found by their stored match keys (the same
indexed ``match_key`` rows the duplicate check uses): no scan.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from core.context import CallContext, Record
from core.query import And, Condition
from plugins.sales.duplicates import system_context
from plugins.sales.matching import normalise_email, normalise_phone

__all__ = ["refusals", "refuses"]

#: Older boolean flags that mean the same as a refused channel.
_FLAGS = {"email": "do_not_email", "phone": "do_not_call", "sms": "do_not_call"}
_ADDRESS_FIELDS = ("email", "phone", "mobile")


def refuses(data: Mapping[str, Any], channel: str) -> bool:
    flag = _FLAGS.get(channel)
    return channel in (data.get("refused_channels") or ()) or bool(flag and data.get(flag))


def _key(ctx: CallContext, channel: str, recipient: str) -> str | None:
    if channel == "email":
        email = normalise_email(recipient)
        return f"em:{email}" if email else None
    if channel in ("phone", "sms"):
        phone = normalise_phone(recipient, ctx.model.country)
        return f"ph:{phone}" if phone else None
    return None


async def refusals(
    ctx: CallContext, channel: str, recipients: Sequence[str], entity: str, record: Record
) -> dict[str, str]:
    if "contact" not in ctx.model.entities or "match_key" not in ctx.model.entities:
        return {}
    service = ctx.extra["service"]
    system = system_context(ctx)
    out: dict[str, str] = {}
    for recipient in recipients:
        key = _key(ctx, channel, recipient)
        if key is None:
            continue
        rows, _page = await service.list(
            system,
            "match_key",
            And((Condition("target", "eq", "contact"), Condition("key", "eq", key))),
            [],
            50,
            None,
        )
        contacts = await service.get_many(system, "contact", [r.data["record"] for r in rows])
        if record.entity == "contact":
            contacts.setdefault(record.id, record)  # the record itself, keyed or not yet
        for contact in contacts.values():
            own = {_key(ctx, channel, str(contact.data.get(f))) for f in _ADDRESS_FIELDS}
            if key in own and refuses(contact.data, channel):
                name = contact.data.get("name") or contact.id
                out[recipient] = f"contact '{name}' refuses {channel}"
                break
    return out
