"""GraphQL input values -> the service's language (core.query, Python values).

Tenant input types set each field's ``out_name`` to the field key, so coerced
inputs arrive keyed by field keys; ``and``/``or`` arrive under :data:`AND` and
:data:`OR`, which no field key can equal.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from core.errors import BadRequest, Problem
from core.graphql.static import FILTER_OPS, SortDirection
from core.metadata import EntityDef, TenantModel
from core.query import And, Condition, Filter, Or, OrderBy

__all__ = ["ADDRESS_PARTS", "AND", "OR", "to_filter", "to_order", "to_values"]

AND = "$and"
OR = "$or"

#: GraphQL names of AddressInput fields -> keys of a stored address.
ADDRESS_PARTS: Mapping[str, str] = {
    "street": "street",
    "city": "city",
    "region": "region",
    "postalCode": "postal_code",
    "country": "country",
}


def _joined(items: list[Filter], kind: type[And] | type[Or]) -> Filter:
    return items[0] if len(items) == 1 else kind(tuple(items))


def to_filter(raw: Mapping[str, Any] | None) -> Filter | None:
    """A ``<Type>Filter`` value -> a Condition tree; ``None`` matches everything."""
    if not raw:
        return None
    items: list[Filter] = []
    for key, value in raw.items():
        if value is None:
            continue
        if key == AND:
            items.extend(f for f in map(to_filter, value) if f is not None)
        elif key == OR:
            subs = [to_filter(v) for v in value]
            if subs and None not in subs:  # an empty branch matches everything
                items.append(_joined([s for s in subs if s is not None], Or))
        else:
            for op_name, operand in value.items():
                if operand is None:
                    continue
                items.append(Condition(key, FILTER_OPS[op_name], operand))  # type: ignore[arg-type]
    return _joined(items, And) if items else None


def to_order(raw: Sequence[Mapping[str, Any]] | None) -> list[OrderBy]:
    """``[<Type>OrderBy!]`` -> OrderBy items; the field enum's values are keys."""
    # The default direction arrives as its raw value, a given one as the enum member.
    return [
        OrderBy(item["field"], SortDirection(item.get("direction") or "asc") is SortDirection.DESC)
        for item in raw or ()
    ]


def to_values(entity: EntityDef, model: TenantModel, raw: Mapping[str, Any]) -> dict[str, Any]:
    """A create/update input -> service values; absent stays absent, null clears."""
    out: dict[str, Any] = {}
    for key, value in raw.items():
        f = entity.fields.get(key)
        if f is None:
            raise BadRequest(
                f"'{entity.key}' has no field '{key}'", [Problem("UNKNOWN_FIELD", "unknown", key)]
            )
        if value is None:
            out[key] = None
        elif f.value_type == "money":
            out[key] = {
                "amount": value["amount"],
                "currency": value.get("currency") or model.currency,
            }
        elif f.value_type == "address":
            out[key] = {ADDRESS_PARTS[k]: v for k, v in value.items()}
        elif isinstance(value, list):
            out[key] = list(value)
        else:
            out[key] = value
    return out
