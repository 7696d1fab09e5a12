"""The tenant's ``settings.quoting`` (schema in manifest.json), with defaults."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from core.metadata import TenantModel

__all__ = ["ACTIONS", "QuotingSettings", "settings_of"]

#: The quote actions, each run as the workflow transition the tenant maps it to.
ACTIONS = ("send", "revise", "accept", "reject")


@dataclass(frozen=True, slots=True)
class QuotingSettings:
    transitions: Mapping[str, str]
    template: str
    default_tax_rate: Decimal | None


def settings_of(model: TenantModel) -> QuotingSettings:
    raw: Mapping[str, Any] = model.settings.get("quoting", {}) or {}
    given = raw.get("transitions") or {}
    tax = raw.get("default_tax_rate")
    return QuotingSettings(
        transitions={a: str(given.get(a, a)) for a in ACTIONS},
        template=str(raw.get("template", "quote")),
        default_tax_rate=None if tax is None else Decimal(str(tax)),
    )
