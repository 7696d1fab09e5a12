"""Shared scalars: Decimal, Date, DateTime and JSON, exact in both directions.

Decimals travel as strings so no amount ever passes through a float; an int or
float *literal* in a query is read from its source text, which is exact too.
"""

from __future__ import annotations

import math
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from graphql import FloatValueNode, IntValueNode, StringValueNode, ValueNode
from strawberry.types.scalar import ScalarDefinition

__all__ = [
    "DATE",
    "DATETIME",
    "DECIMAL",
    "parse_date",
    "parse_datetime",
    "parse_decimal",
    "serialize_decimal",
]


def parse_decimal(value: Any) -> Decimal:
    """A finite Decimal from a string, int or float (never a bool)."""
    if isinstance(value, bool):
        raise ValueError("Decimal cannot represent a boolean")
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("Decimal cannot represent a non-finite number")
        # repr() is the shortest text that reads back as this float.
        value = repr(value)
    if isinstance(value, int | Decimal):
        value = str(value)
    if not isinstance(value, str):
        raise ValueError(f"Decimal cannot represent {type(value).__name__}")
    try:
        out = Decimal(value.strip())
    except InvalidOperation:
        raise ValueError(f"'{value[:40]}' is not a decimal number") from None
    if not out.is_finite():
        raise ValueError("Decimal cannot represent a non-finite number")
    return out


def serialize_decimal(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, Decimal | int | str):
        raise ValueError(f"Decimal cannot represent {value!r}")
    return str(value if isinstance(value, Decimal) else parse_decimal(value))


def _decimal_literal(node: ValueNode, _variables: Any = None) -> Decimal:
    if isinstance(node, StringValueNode | IntValueNode | FloatValueNode):
        return parse_decimal(node.value)
    raise ValueError("Decimal literals are strings or numbers")


def parse_date(value: Any) -> date:
    if not isinstance(value, str):
        raise ValueError("Date values are strings (YYYY-MM-DD)")
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise ValueError(f"'{value[:40]}' is not a date (YYYY-MM-DD)") from None


def serialize_date(value: Any) -> str:
    if isinstance(value, datetime) or not isinstance(value, date):
        raise ValueError(f"Date cannot represent {value!r}")
    return value.isoformat()


def _date_literal(node: ValueNode, _variables: Any = None) -> date:
    if isinstance(node, StringValueNode):
        return parse_date(node.value)
    raise ValueError("Date literals are strings (YYYY-MM-DD)")


def parse_datetime(value: Any) -> datetime:
    """ISO 8601; a value without offset is read by the service in the tenant's zone."""
    if not isinstance(value, str):
        raise ValueError("DateTime values are ISO 8601 strings")
    try:
        return datetime.fromisoformat(value.strip())
    except ValueError:
        raise ValueError(f"'{value[:40]}' is not a date-time (ISO 8601)") from None


def serialize_datetime(value: Any) -> str:
    if not isinstance(value, datetime):
        raise ValueError(f"DateTime cannot represent {value!r}")
    return value.isoformat()


def _datetime_literal(node: ValueNode, _variables: Any = None) -> datetime:
    if isinstance(node, StringValueNode):
        return parse_datetime(node.value)
    raise ValueError("DateTime literals are ISO 8601 strings")


DECIMAL = ScalarDefinition(
    name="Decimal",
    description='An exact decimal number, serialised as a string such as "1234.50".',
    specified_by_url=None,
    serialize=serialize_decimal,
    parse_value=parse_decimal,
    parse_literal=_decimal_literal,
    origin=Decimal,
)

DATE = ScalarDefinition(
    name="Date",
    description="A calendar date, ISO 8601 (YYYY-MM-DD).",
    specified_by_url=None,
    serialize=serialize_date,
    parse_value=parse_date,
    parse_literal=_date_literal,
    origin=date,
)

DATETIME = ScalarDefinition(
    name="DateTime",
    description="An instant, ISO 8601 with offset; returned in UTC.",
    specified_by_url=None,
    serialize=serialize_datetime,
    parse_value=parse_datetime,
    parse_literal=_datetime_literal,
    origin=datetime,
)
