"""The tenant's ``settings.sales``, read with defaults (schema in manifest.json)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from core.metadata import TenantModel

__all__ = [
    "DEFAULT_STAGES",
    "Stage",
    "duplicate_settings",
    "pipelines",
    "sales_settings",
]

#: Used when the tenant declares no pipeline: the plugin's own stage options.
DEFAULT_STAGES: tuple[tuple[str, int, str], ...] = (
    ("prospecting", 10, "open"),
    ("qualification", 25, "open"),
    ("proposal", 50, "open"),
    ("negotiation", 75, "open"),
    ("closed_won", 100, "won"),
    ("closed_lost", 0, "lost"),
)


@dataclass(frozen=True, slots=True)
class Stage:
    stage: str
    probability: Decimal
    outcome: str  # open | won | lost


def sales_settings(model: TenantModel) -> Mapping[str, Any]:
    settings: Mapping[str, Any] = model.settings.get("sales") or {}
    return settings


def duplicate_settings(model: TenantModel) -> tuple[str, float, frozenset[str]]:
    """``(mode, threshold, extra free-mail domains)``; off unless the tenant turns it on."""
    spec = sales_settings(model).get("duplicates") or {}
    return (
        str(spec.get("mode", "off")),
        float(spec.get("threshold", 85)),
        frozenset(str(d).lower() for d in spec.get("free_mail_domains") or ()),
    )


def pipelines(model: TenantModel) -> dict[str, tuple[Stage, ...]]:
    """Pipeline key -> its stages in order; the first pipeline is the default."""
    declared = sales_settings(model).get("pipelines") or {}
    if not declared:
        # Every option of the tenant's stage field, with the plugin's probabilities for
        # the plugin's own stages (a relabelled or new option is open at 0 %).
        known = {s: (Decimal(p), o) for s, p, o in DEFAULT_STAGES}
        entity = model.entities.get("opportunity")
        field = entity.fields.get("stage") if entity else None
        values = field.option_values if field is not None else tuple(known)
        return {"default": tuple(Stage(v, *known.get(v, (Decimal(0), "open"))) for v in values)}
    return {
        key: tuple(
            Stage(
                str(s["stage"]),
                Decimal(str(s["probability"])),
                str(s.get("outcome", "open")),
            )
            for s in spec["stages"]
        )
        for key, spec in declared.items()
    }
