"""How record values cross into CEL and how results come back.

CEL has no decimal type. Decimals, percents and money amounts cross as
``double``: comparisons are exact for values of up to 15 significant digits
(the decimal -> double rounding is monotonic and one-to-one there).
Arithmetic results for decimal computed fields are rounded back to 15
significant digits, as spreadsheets do, and then to the field's scale
(half up), which recovers the exact decimal result of a short calculation.
Dates cross as timestamps at midnight UTC, so date arithmetic with
``duration`` and the timestamp getters work on them.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, time
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from core.context import Principal
from core.errors import TesseraError
from core.expressions.checker import VarType
from core.metadata import SYSTEM_FIELDS, EntityDef

__all__ = [
    "SYSTEM_TYPES",
    "ExpressionError",
    "bindings",
    "from_cel",
    "record_to_cel",
    "record_variables",
    "to_cel",
]

SYSTEM_TYPES: dict[str, str] = {
    "id": "text",
    "version": "integer",
    "created_at": "datetime",
    "created_by": "user",
    "updated_at": "datetime",
    "updated_by": "user",
}
assert set(SYSTEM_TYPES) == set(SYSTEM_FIELDS)

#: The significant digits a double carries exactly from and to a decimal.
SIGNIFICANT_DIGITS = 15


class ExpressionError(TesseraError):
    """An expression failed while evaluating (error, limit or bad result)."""

    code = "EXPRESSION_FAILED"


def record_variables(entity: EntityDef) -> dict[str, VarType]:
    """The variables a record expression (rule, computed field, form rule) sees."""
    fields: dict[str, VarType] = {key: f.value_type for key, f in entity.fields.items()}
    fields.update(SYSTEM_TYPES)
    return {
        "record": dict(fields),
        "previous": dict(fields),
        "user": {"id": "text", "email": "email", "roles": "list:text"},
        "now": "datetime",
        "today": "date",
    }


def _midnight_utc(d: date) -> datetime:
    return datetime.combine(d, time(0), tzinfo=UTC)


def to_cel(value_type: str, value: Any) -> Any:
    """A field's Python value (see :class:`core.context.Record`) -> its CEL value."""
    if value is None:
        return None
    if value_type in ("decimal", "percent"):
        return float(value)
    if value_type == "money":
        return {"amount": float(value["amount"]), "currency": value["currency"]}
    if value_type == "date":
        return _midnight_utc(value)
    if value_type == "datetime":
        if value.tzinfo is None:
            raise ValueError("datetime values must be timezone-aware")
        return value.astimezone(UTC)
    if value_type in ("multi_enum", "relation_list"):
        return list(value)
    if value_type == "address":
        return {k: v for k, v in value.items() if v is not None}
    return value


def _decimal(value: Any, scale: int | None) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ExpressionError(f"expected a number, got {type(value).__name__}")
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise ExpressionError("the result is not a finite number (division by zero?)")
        d = Decimal(format(value, f".{SIGNIFICANT_DIGITS}g"))
    else:
        d = Decimal(value)
    if scale is not None:
        try:
            d = d.quantize(Decimal(1).scaleb(-scale), rounding=ROUND_HALF_UP)
        except InvalidOperation:
            raise ExpressionError("the result is out of range") from None
    return d


def from_cel(result_type: str, value: Any, *, scale: int | None = None) -> Any:
    """A CEL result -> the Python value of a computed field of ``result_type``.

    ``scale`` rounds decimal results (half up). Raises :class:`ExpressionError`
    when the value does not fit the type.
    """
    if value is None:
        return None
    if result_type in ("decimal", "percent"):
        return _decimal(value, scale)
    if result_type == "money":
        if not isinstance(value, Mapping) or "amount" not in value or "currency" not in value:
            raise ExpressionError("expected a map {amount, currency}")
        return {"amount": _decimal(value["amount"], scale), "currency": str(value["currency"])}
    if result_type == "integer":
        if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
            return int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ExpressionError(f"expected an int, got {type(value).__name__}")
        return value
    if result_type == "boolean":
        if not isinstance(value, bool):
            raise ExpressionError(f"expected a bool, got {type(value).__name__}")
        return value
    if result_type in ("date", "datetime"):
        if not isinstance(value, datetime):
            raise ExpressionError(f"expected a timestamp, got {type(value).__name__}")
        value = value.astimezone(UTC)
        return value.date() if result_type == "date" else value
    if result_type in ("text", "long_text", "email", "phone", "url", "enum"):
        if not isinstance(value, str):
            raise ExpressionError(f"expected a string, got {type(value).__name__}")
        return value
    raise ExpressionError(f"a computed field cannot have type '{result_type}'")


def record_to_cel(entity: EntityDef, data: Mapping[str, Any]) -> dict[str, Any]:
    """Record values (Python form, system fields allowed) -> a CEL map.

    Absent and ``None`` values are left out, so ``has(record.x)`` tells
    whether a field is set.
    """
    out: dict[str, Any] = {}
    for key, value in data.items():
        if value is None:
            continue
        f = entity.fields.get(key)
        value_type = f.value_type if f is not None else SYSTEM_TYPES.get(key)
        if value_type is not None:
            out[key] = to_cel(value_type, value)
    return out


def bindings(
    entity: EntityDef,
    record: Mapping[str, Any],
    *,
    previous: Mapping[str, Any] | None,
    principal: Principal,
    now: datetime,
    timezone: str,
) -> dict[str, Any]:
    """The CEL variables of a record expression (see :func:`record_variables`).

    ``record`` is the record as it will be after the write; ``previous`` the
    record before it (``None`` on create). ``today`` is the tenant-local date,
    as a timestamp at midnight UTC like every date field.
    """
    return {
        "record": record_to_cel(entity, record),
        "previous": record_to_cel(entity, previous or {}),
        "user": {"id": principal.user_id, "email": principal.email, "roles": list(principal.roles)},
        "now": now.astimezone(UTC),
        "today": _midnight_utc(now.astimezone(ZoneInfo(timezone)).date()),
    }
