"""Loyalty cards for Tessera CRM: an example partner plugin using most hooks."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import strawberry
from litestar import get
from litestar.params import FromPath

from core.context import CallContext, Operation
from core.errors import Problem, ValidationFailed
from core.hookspecs import FieldTypeSpec, GraphQLContribution, JobSpec, TemplateSpec, hookimpl
from core.metadata import TenantModel

TIERS = (("gold", 5000), ("silver", 1000), ("bronze", 0))


def luhn_error(value: Any) -> str | None:
    """``None`` when ``value`` is a digit string with a valid Luhn check digit."""
    text = str(value)
    if not text.isdigit() or len(text) < 8:
        return "a card number has at least 8 digits"
    total = 0
    for i, ch in enumerate(reversed(text)):
        digit = int(ch) * (2 if i % 2 else 1)
        total += digit - 9 if digit > 9 else digit
    return None if total % 10 == 0 else "the card number's check digit is wrong"


def tier_for(points: int) -> str:
    return next(name for name, floor in TIERS if points >= floor)


@hookimpl
def tessera_field_types() -> Mapping[str, FieldTypeSpec]:
    return {
        "loyalty_number": FieldTypeSpec(
            base="text", validate=luhn_error, label={"en": "Loyalty card number"}
        )
    }


@hookimpl
def tessera_entities() -> Mapping[str, Mapping[str, Any]]:
    tiers = [{"value": name, "label": {"en": name.title()}} for name, _ in TIERS]
    return {
        "loyalty_card": {
            "label": {"en": "Loyalty card", "es-ES": "Tarjeta de fidelidad"},
            "plural": "loyalty_cards",
            "title_field": "number",
            "fields": {
                "number": {
                    "type": "loyalty_number",
                    "label": {"en": "Number"},
                    "required": True,
                    "unique": True,
                },
                "account": {
                    "type": "relation",
                    "target": "account",
                    "label": {"en": "Account"},
                    "indexed": True,
                },
                "points": {"type": "integer", "label": {"en": "Points"}, "default": 0},
                "tier": {"type": "enum", "label": {"en": "Tier"}, "options": tiers},
            },
        },
        # Extends the sales plugin's account (allowed: the manifest requires sales).
        "account": {
            "fields": {
                "loyalty_tier": {"type": "enum", "label": {"en": "Loyalty tier"}, "options": tiers}
            }
        },
    }


@hookimpl
async def tessera_pre_validate(ctx: CallContext, operation: Operation) -> None:
    if operation.entity != "loyalty_card":
        return
    points = operation.values.get("points")
    if points is not None and points < 0:
        raise ValidationFailed(
            "points cannot be negative", [Problem("MIN", "points cannot be negative", "points")]
        )


@hookimpl
def tessera_pre_operation(ctx: CallContext, operation: Operation) -> None:
    if operation.entity == "loyalty_card" and "points" in operation.values:
        operation.values["tier"] = tier_for(operation.values["points"] or 0)


@strawberry.field(description="The loyalty tier a number of points earns.")
def loyalty_tier_for(points: int) -> str:
    return tier_for(points)


@hookimpl
def tessera_graphql_reports(model: TenantModel) -> list[GraphQLContribution]:
    return [GraphQLContribution("loyaltyTierFor", loyalty_tier_for)]


async def expire_points(tenant: str, runtime: Any) -> None:
    """Nightly: points older than two years expire (needs the runtime's service)."""


@hookimpl
def tessera_jobs() -> list[JobSpec]:
    return [
        JobSpec("expire_points", expire_points, schedule="0 3 * * *"),
        JobSpec("sync_partners", expire_points, interval=timedelta(hours=1)),
    ]


@hookimpl
def tessera_document_templates() -> list[TemplateSpec]:
    return [
        TemplateSpec(
            key="card_letter",
            entity="loyalty_card",
            locale="en",
            content="<p>Welcome! Your card {{ record.number }} is {{ record.tier }}.</p>",
        )
    ]


@get("/tiers/{points:int}")
async def tier_route(tenant: FromPath[str], points: FromPath[int]) -> dict[str, str]:
    return {"tenant": tenant, "tier": tier_for(points)}


@hookimpl
def tessera_http_routes() -> list[Any]:
    return [tier_route]
