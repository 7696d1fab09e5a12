"""A list filter and sort written as the GraphQL ``<Type>Filter`` / ``orderBy`` inputs,
as JSON -> core filters.

Downloads (the Excel export of any list, the quoting plugin's documents) take
the same filter the list query takes (field names in camelCase, operators
``eq``, ``in``, ``gte``..., ``and`` / ``or``), so a screen can export exactly
the list it shows.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from core.errors import BadRequest, Problem
from core.graphql.static import FILTER_OPS
from core.metadata import EntityDef
from core.naming import camel
from core.query import And, Condition, Filter, Or, OrderBy

__all__ = ["graphql_filter", "graphql_order"]

_SYSTEM = ("id", "created_at", "created_by", "updated_at", "updated_by")


def _names(entity: EntityDef) -> dict[str, str]:
    names = {f.graphql_name: key for key, f in entity.fields.items()}
    names.update({camel(s): s for s in _SYSTEM})
    return names


def _bad(message: str, where: str) -> BadRequest:
    return BadRequest(message, [Problem("FILTER_INVALID", message, where)])


def graphql_filter(entity: EntityDef, raw: Any, where: str = "filter") -> Filter | None:
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        raise _bad("a filter is a JSON object", where)
    names = _names(entity)
    items: list[Filter] = []
    for name, value in raw.items():
        if value is None:
            continue
        if name in ("and", "or"):
            if not isinstance(value, list):
                raise _bad(f"'{name}' takes a list of filters", f"{where}.{name}")
            subs = [graphql_filter(entity, v, f"{where}.{name}.{i}") for i, v in enumerate(value)]
            kept = [s for s in subs if s is not None]
            if name == "and":
                items += kept
            elif kept and len(kept) == len(subs):
                items.append(kept[0] if len(kept) == 1 else Or(tuple(kept)))
            continue
        key = names.get(name)
        if key is None or not isinstance(value, Mapping):
            raise _bad(f"'{entity.key}' cannot be filtered on '{name}'", f"{where}.{name}")
        for op, operand in value.items():
            if op not in FILTER_OPS:
                raise _bad(f"unknown operator '{op}'", f"{where}.{name}.{op}")
            if operand is not None:
                items.append(Condition(key, FILTER_OPS[op], operand))  # type: ignore[arg-type]
    if not items:
        return None
    return items[0] if len(items) == 1 else And(tuple(items))


def graphql_order(entity: EntityDef, raw: Any) -> list[OrderBy]:
    """``[{"field": "createdAt", "direction": "DESC"}]`` -> OrderBy items."""
    names = _names(entity)
    out: list[OrderBy] = []
    for i, item in enumerate(raw or ()):
        field = names.get(str((item or {}).get("field")))
        if field is None:
            raise _bad("unknown field to sort by", f"orderBy.{i}.field")
        out.append(OrderBy(field, str(item.get("direction", "ASC")).upper() == "DESC"))
    return out
