"""Lead conversion: lead → account + contact + opportunity, in one transaction.

The account is the one the caller names, else the lead's ``matched_account``,
else the best existing account the duplicate check finds (at the tenant's
threshold, counting accounts the caller cannot see) — only when none matches
is a new one created. A contact of that account matching the lead's person is
reused the same way. New records get their owner from the tenant's
assignment rule for their entity, else the lead's owner. The lead is marked
``converted`` with links to all three. Any failure rolls everything back.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from core.context import CallContext, Operation, Record
from core.errors import Problem, ValidationFailed
from plugins.sales.duplicates import CHECKED, find_candidates
from plugins.sales.settings import duplicate_settings, sales_settings

__all__ = ["CONVERSION", "Conversion", "convert_lead", "guard_lead_status"]

#: ``ctx.extra``: the links a conversion writes on its lead (read-only fields).
CONVERSION = "sales.conversion"


@dataclass(frozen=True, slots=True)
class Conversion:
    lead: Record
    account: Record
    contact: Record
    opportunity: Record | None
    account_reused: bool
    contact_reused: bool
    matched_by: tuple[str, ...]


def _has_rule(ctx: CallContext, entity: str) -> bool:
    return bool((sales_settings(ctx.model).get("assignment") or {}).get(entity))


def _owned(ctx: CallContext, entity: str, values: dict[str, Any], lead: Record) -> dict[str, Any]:
    if not _has_rule(ctx, entity) and lead.data.get("owner"):
        values["owner"] = lead.data["owner"]
    return {k: v for k, v in values.items() if v is not None}


async def _account(
    ctx: CallContext, lead: Record, account_id: str | None, threshold: float
) -> tuple[Record, bool, tuple[str, ...]]:
    service = ctx.extra["service"]
    if account_id:
        return await service.get(ctx, "account", account_id), True, ("CHOSEN",)
    matched = lead.data.get("matched_account")
    if matched:
        found = await service.get_many(ctx, "account", [matched])
        if matched in found:
            return found[matched], True, ("MATCHED_ON_CREATE",)
    candidates = await find_candidates(
        ctx, "account", lead.data, probe_entity="lead", minimum=threshold, as_system=True
    )
    if candidates:
        best = candidates[0]
        return best.record, True, best.reasons
    values = {
        "name": lead.data.get("company") or lead.data["name"],
        "phone": lead.data.get("phone"),
        "email": lead.data.get("email"),
        "source": lead.data.get("source"),
        "territory": lead.data.get("territory"),
        "party_type": "prospect",
    }
    return await service.create(ctx, "account", _owned(ctx, "account", values, lead)), False, ()


async def _contact(
    ctx: CallContext, lead: Record, account: Record, threshold: float
) -> tuple[Record, bool]:
    service = ctx.extra["service"]
    values = {
        "name": lead.data["name"],
        "account": account.id,
        "phone": lead.data.get("phone"),
        "email": lead.data.get("email"),
    }
    same = [
        c
        for c in await find_candidates(ctx, "contact", values, minimum=threshold, as_system=True)
        if c.record.data.get("account") == account.id
    ]
    if same:
        return same[0].record, True
    return await service.create(ctx, "contact", _owned(ctx, "contact", values, lead)), False


async def convert_lead(
    ctx: CallContext,
    lead_id: str,
    *,
    account_id: str | None = None,
    create_opportunity: bool = True,
    opportunity_name: str | None = None,
    amount: Decimal | None = None,
    close_date: date | None = None,
) -> Conversion:
    service = ctx.extra["service"]
    _mode, threshold, _free = duplicate_settings(ctx.model)
    # The records made here were checked against duplicates by the conversion itself.
    ctx = dataclasses.replace(ctx, extra={**ctx.extra, CHECKED: True})
    async with service.atomic():
        lead = await service.get(ctx, "lead", lead_id)
        if lead.data.get("status") == "converted":
            raise ValidationFailed(
                "this lead was converted already",
                [Problem("ALREADY_CONVERTED", "the lead is converted", "id")],
            )
        account, reused, reasons = await _account(ctx, lead, account_id, threshold)
        contact, contact_reused = await _contact(ctx, lead, account, threshold)
        opportunity: Record | None = None
        if create_opportunity:
            values: dict[str, Any] = {
                "name": opportunity_name or account.data.get("name") or lead.data["name"],
                "account": account.id,
                "contact": contact.id,
                "lead": lead.id,
                "close_date": close_date,
                "amount": {"amount": amount, "currency": ctx.model.currency}
                if amount is not None
                else None,
            }
            opportunity = await service.create(
                ctx, "opportunity", _owned(ctx, "opportunity", values, lead)
            )
        links = {
            "converted_account": account.id,
            "converted_contact": contact.id,
            "converted_opportunity": opportunity.id if opportunity else None,
            "converted_at": ctx.clock(),
        }
        marking = dataclasses.replace(ctx, extra={**ctx.extra, CONVERSION: (lead.id, links)})
        lead = await service.update(marking, "lead", lead.id, {"status": "converted"}, lead.version)
    return Conversion(lead, account, contact, opportunity, reused, contact_reused, reasons)


def guard_lead_status(ctx: CallContext, operation: Operation) -> None:
    """Only a conversion marks a lead converted, and it writes the links (pre_operation)."""
    if operation.entity != "lead" or operation.action not in ("create", "update"):
        return
    conversion: tuple[str, Mapping[str, Any]] | None = ctx.extra.get(CONVERSION)
    if conversion is not None and conversion[0] == operation.record_id:
        operation.values.update(conversion[1])
        return
    before = operation.previous.data.get("status") if operation.previous else None
    # The system may (imports, sample data); people convert with the action.
    if ctx.principal.is_system:
        return
    if operation.values.get("status") == "converted" and before != "converted":
        raise ValidationFailed(
            "a lead becomes converted only through convertLead",
            [Problem("CONVERT_WITH_ACTION", "use the convertLead action", "status")],
        )
