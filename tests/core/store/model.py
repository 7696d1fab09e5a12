"""A Python model of query_records: the same filter and order rules, on dicts."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from core.metadata import EntityDef, build_tenant_model
from core.query import And, Filter, Or, OrderBy

ITEM_CONFIG: dict[str, Any] = {
    "tenant": "model",
    "entities": {
        "item": {
            "label": {"en": "Item"},
            "plural": "items",
            "fields": {
                "name": {"type": "text", "indexed": True},
                "grade": {
                    "type": "enum",
                    "indexed": True,
                    "options": [{"value": v} for v in ("x", "y", "z")],
                },
                "city": {"type": "text"},
                "due": {"type": "date"},
                "amount": {"type": "decimal", "indexed": True},
                "rank": {"type": "integer", "indexed": True},
                "active": {"type": "boolean", "indexed": True},
                "qty": {"type": "integer"},
                "price": {"type": "money"},
                "flag": {"type": "boolean"},
                "tags": {
                    "type": "multi_enum",
                    "options": [{"value": v} for v in ("a", "b", "c")],
                },
            },
        }
    },
}


def item_entity() -> EntityDef:
    return build_tenant_model(ITEM_CONFIG, {}).entities["item"]


TEXT_FIELDS = ("name", "grade", "city", "due", "id", "created_by")
NUMBER_FIELDS = ("amount", "rank", "qty", "price", "version")
BOOL_FIELDS = ("active", "flag")
LIST_FIELDS = ("tags",)
TIME_FIELDS = ("created_at",)
SORTABLE = TEXT_FIELDS + NUMBER_FIELDS + BOOL_FIELDS + TIME_FIELDS


def slots_for(entity: EntityDef, data: dict[str, Any]) -> dict[str, Any]:
    """Slot values as the service computes them from storage-form data."""
    out: dict[str, Any] = {}
    for key, f in entity.fields.items():
        if f.slot is None:
            continue
        value = data.get(key)
        if value is not None and f.value_type == "decimal":
            value = Decimal(value)
        elif value is not None and f.value_type == "boolean":
            value = 1 if value else 0
        out[f.slot] = value
    return out


def value_of(row: dict[str, Any], key: str) -> Any:
    """A comparable Python value of a field of a stored row (``None`` if missing)."""
    if key in ("id", "version", "created_at", "created_by"):
        return row[key]
    value = row["data"].get(key)
    if value is None:
        return None
    if key == "price":
        return Decimal(value["amount"])
    if key in ("amount", "qty"):
        return Decimal(value)
    return value


def _ascii_lower(text: str) -> str:
    return "".join(c.lower() if "A" <= c <= "Z" else c for c in text)


def _number(key: str, value: Any) -> Any:
    if key in ("created_at",):
        return value
    if key in NUMBER_FIELDS and not isinstance(value, bool):
        return Decimal(value)
    return value


def matches(row: dict[str, Any], flt: Filter) -> bool:
    if isinstance(flt, And):
        return all(matches(row, item) for item in flt.items)
    if isinstance(flt, Or):
        return any(matches(row, item) for item in flt.items)
    v = value_of(row, flt.field)
    op, x = flt.op, flt.value
    if flt.field in LIST_FIELDS:
        if op == "is_null":
            return (not v) == x
        return x in (v or [])
    if op == "is_null":
        return (v is None) == x
    if op == "ne":
        return v is None or v != _number(flt.field, x)
    if v is None:
        return False
    if op == "in":
        return v in [_number(flt.field, i) for i in x]
    if op == "contains":
        return _ascii_lower(x) in _ascii_lower(v)
    if op == "starts_with":
        return _ascii_lower(v).startswith(_ascii_lower(x))
    y = _number(flt.field, x)
    return {
        "eq": v == y,
        "lt": v < y,
        "lte": v <= y,
        "gt": v > y,
        "gte": v >= y,
    }[op]


def _cmp_asc(a: Any, b: Any) -> int:
    if a == b:
        return 0
    if a is None:
        return 1  # NULLS LAST ascending
    if b is None:
        return -1
    return -1 if a < b else 1


def ordered(rows: Sequence[dict[str, Any]], order: Sequence[OrderBy]) -> list[dict[str, Any]]:
    keys = [(o.field, o.descending) for o in order if o.field != "id"]
    id_desc = next((o.descending for o in order if o.field == "id"), keys[-1][1] if keys else False)
    keys.append(("id", id_desc))

    def compare(a: dict[str, Any], b: dict[str, Any]) -> int:
        for key, desc in keys:
            c = _cmp_asc(value_of(a, key), value_of(b, key))
            if c:
                return -c if desc else c
        return 0

    return sorted(rows, key=functools.cmp_to_key(compare))


def is_time(value: Any) -> bool:
    return isinstance(value, datetime)
