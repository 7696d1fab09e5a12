"""A neutral filter/order language between callers (GraphQL, CLI) and the store.

Values in conditions are *storage form* (see :mod:`core.values`): decimals and
money amounts as decimal strings, dates and datetimes as ISO-8601 strings
(datetimes in UTC), booleans as ``bool``, relations as id strings.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, TypeAlias

__all__ = ["OPERATORS", "And", "Condition", "Filter", "Or", "OrderBy", "Page"]

#: Operators a filter may use on a field.
OPERATORS: tuple[str, ...] = (
    "eq",
    "ne",
    "in",
    "lt",
    "lte",
    "gt",
    "gte",
    "contains",
    "starts_with",
    "is_null",
)

Op = Literal["eq", "ne", "in", "lt", "lte", "gt", "gte", "contains", "starts_with", "is_null"]


@dataclass(frozen=True, slots=True)
class Condition:
    """``field`` is a field key or a system field (id, version, created_at, ...)."""

    field: str
    op: Op
    value: Any


@dataclass(frozen=True, slots=True)
class And:
    items: tuple[Filter, ...]


@dataclass(frozen=True, slots=True)
class Or:
    items: tuple[Filter, ...]


Filter: TypeAlias = Condition | And | Or


@dataclass(frozen=True, slots=True)
class OrderBy:
    field: str
    descending: bool = False


@dataclass(frozen=True, slots=True)
class Page:
    """One page of rows plus what a connection needs."""

    rows: list[Any]
    cursors: list[str]
    has_next: bool
    end_cursor: str | None
