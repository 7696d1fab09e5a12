"""Small tenant configs for the process tests, built in code so each test adds what it needs."""

from __future__ import annotations

import copy
from typing import Any

__all__ = ["ROLES", "field", "sales_config"]

ROLES: dict[str, Any] = {
    "rep": {
        "label": {"en": "Rep"},
        "permissions": {
            "entities": {"*": ["create", "read", "update", "transition"]},
            "record_scope": "own",
        },
    },
    "manager": {"label": {"en": "Manager"}, "permissions": {"entities": {"*": ["*"]}}},
    "finance": {"label": {"en": "Finance"}, "permissions": {"entities": {"*": ["read"]}}},
}


def field(type: str, label: str, **spec: Any) -> dict[str, Any]:
    return {"type": type, "label": {"en": label}, **spec}


def _options(*values: str) -> list[dict[str, Any]]:
    return [{"value": v, "label": {"en": v.title()}} for v in values]


def sales_config(
    tenant: str = "auto",
    *,
    timezone: str = "Europe/Madrid",
    country: str = "ES",
    automations: dict[str, Any] | None = None,
    timers: dict[str, Any] | None = None,
    limits: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Accounts, their contacts and deals (with a small workflow), and the three roles."""
    doc: dict[str, Any] = {
        "tenant": tenant,
        "name": {"en": tenant.title()},
        "locales": ["en"],
        "currency": "EUR",
        "timezone": timezone,
        "country": country,
        "entities": {
            "account": {
                "label": {"en": "Account"},
                "plural": "accounts",
                "title_field": "name",
                "fields": {
                    "name": field("text", "Name", required=True),
                    "email": field("email", "Email"),
                    "owner": field("user", "Owner"),
                    "tier": field("enum", "Tier", options=_options("basic", "gold")),
                    "score": field("integer", "Score"),
                    "note": field("text", "Note"),
                    "a": field("integer", "A"),
                    "b": field("integer", "B"),
                    "n": field("integer", "N"),
                    "renewal": field("date", "Renewal"),
                    "callback_at": field("datetime", "Call back at"),
                },
            },
            "contact": {
                "label": {"en": "Contact"},
                "plural": "contacts",
                "title_field": "name",
                "fields": {
                    "name": field("text", "Name", required=True),
                    "account": field("relation", "Account", target="account"),
                    "role": field("text", "Role"),
                },
            },
            "deal": {
                "label": {"en": "Deal"},
                "plural": "deals",
                "title_field": "title",
                "fields": {
                    "title": field("text", "Title", required=True),
                    "stage": field("enum", "Stage", options=_options("open", "won", "lost")),
                    "amount": field("money", "Amount"),
                    "account": field("relation", "Account", target="account"),
                    "owner": field("user", "Owner"),
                    "close_date": field("date", "Close date"),
                },
            },
        },
        "workflows": {
            "deal_flow": {
                "entity": "deal",
                "field": "stage",
                "states": {
                    "open": {"initial": True},
                    "won": {"final": True},
                    "lost": {"final": True},
                },
                "transitions": {
                    "win": {"from": ["open"], "to": "won"},
                    "lose": {"from": ["open"], "to": "lost"},
                },
            }
        },
        "roles": copy.deepcopy(ROLES),
    }
    if automations:
        doc["automations"] = copy.deepcopy(automations)
    if timers:
        doc["timers"] = copy.deepcopy(timers)
    if limits:
        doc["limits"] = copy.deepcopy(limits)
    return doc
