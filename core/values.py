"""Field values: checking input, and converting between Python and storage.

Three forms of a value exist:

* **Python** — what the service returns and accepts (``Decimal``, ``date``,
  aware ``datetime``, money ``{"amount": Decimal, "currency": str}``...).
* **storage** — JSON-ready, exact: decimals and money amounts as decimal
  strings, dates/datetimes as ISO-8601 strings (datetimes in UTC).
* **slot** — the value of an indexed slot column (text or number).

Input may also arrive as strings (CLI, import), so :func:`coerce` accepts
both and reports problems with the field's path.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from babel.numbers import get_currency_precision

from core.errors import Problem
from core.metadata import FieldDef, TenantModel
from core.naming import camel

__all__ = [
    "ADDRESS_KEYS",
    "coerce",
    "from_storage",
    "is_empty",
    "slot_value",
    "to_storage",
    "unique_key",
]

ADDRESS_KEYS = ("street", "city", "region", "postal_code", "country")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PHONE = re.compile(r"^\+?[0-9 ()./-]{5,32}$")
_URL = re.compile(r"^https?://[^\s/$.?#][^\s]*$", re.IGNORECASE)
_CURRENCY = re.compile(r"^[A-Z]{3}$")
_MAX_TEXT = 10_000
_MAX_LONG_TEXT = 1_000_000


class _Invalid(Exception):
    def __init__(self, code: str, message: str, sub: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.sub = sub


def is_empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def _decimal(value: Any) -> Decimal:
    if isinstance(value, bool):
        raise _Invalid("TYPE", "expected a number")
    if isinstance(value, Decimal):
        d = value
    elif isinstance(value, int):
        d = Decimal(value)
    elif isinstance(value, float):
        # Floats only arrive from loose callers; go through repr to avoid binary noise.
        d = Decimal(repr(value))
    elif isinstance(value, str):
        try:
            d = Decimal(value.strip())
        except InvalidOperation:
            raise _Invalid("TYPE", f"'{value[:40]}' is not a number") from None
    else:
        raise _Invalid("TYPE", "expected a number")
    if not d.is_finite():
        raise _Invalid("TYPE", "expected a finite number")
    if abs(d.adjusted()) > _MAX_EXPONENT and not d.is_zero():
        # Every number a CRM holds is far inside 10^±30; beyond, it is an attack or a typo.
        raise _Invalid("MAX", "is out of range")
    return d


_MAX_EXPONENT = 30


def _places(d: Decimal) -> int:
    exponent = d.as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


def _check_range(f: FieldDef, d: Decimal) -> None:
    if f.min is not None and d < f.min:
        raise _Invalid("MIN", f"must be at least {f.min}")
    if f.max is not None and d > f.max:
        raise _Invalid("MAX", f"must be at most {f.max}")


def _text(f: FieldDef, value: Any, limit: int) -> str:
    if not isinstance(value, str):
        raise _Invalid("TYPE", "expected text")
    if "\x00" in value:
        raise _Invalid("CONTROL_CHARACTER", "must not contain NUL characters")
    if len(value) > limit:
        raise _Invalid("MAX_LENGTH", f"must be at most {limit} characters")
    if f.min_length is not None and len(value) < f.min_length:
        raise _Invalid("MIN_LENGTH", f"must be at least {f.min_length} characters")
    if f.max_length is not None and len(value) > f.max_length:
        raise _Invalid("MAX_LENGTH", f"must be at most {f.max_length} characters")
    if f.pattern is not None and not re.fullmatch(f.pattern, value):
        raise _Invalid("PATTERN", f"does not match the required pattern {f.pattern}")
    return value


def _date(value: Any) -> date:
    if isinstance(value, datetime):
        raise _Invalid("TYPE", "expected a date without a time")
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            raise _Invalid("TYPE", f"'{value[:40]}' is not a date (YYYY-MM-DD)") from None
    raise _Invalid("TYPE", "expected a date")


def _datetime(value: Any, tz: str) -> datetime:
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            raise _Invalid("TYPE", f"'{value[:40]}' is not a date-time (ISO 8601)") from None
    if not isinstance(value, datetime):
        raise _Invalid("TYPE", "expected a date-time")
    if value.tzinfo is None:
        # A wall-clock time without offset is read in the tenant's time zone.
        value = value.replace(tzinfo=ZoneInfo(tz))
    return value.astimezone(UTC)


def _money(f: FieldDef, value: Any, model: TenantModel) -> dict[str, Any]:
    if isinstance(value, Mapping):
        amount_in = value.get("amount")
        currency = value.get("currency") or model.currency
    else:
        amount_in, currency = value, model.currency
    if amount_in is None:
        raise _Invalid("REQUIRED", "a money value needs an amount", "amount")
    try:
        amount = _decimal(amount_in)
    except _Invalid as exc:
        raise _Invalid(exc.code, exc.message, "amount") from None
    if not isinstance(currency, str) or not _CURRENCY.match(currency):
        raise _Invalid("CURRENCY", "currency must be an ISO 4217 code such as EUR", "currency")
    precision = get_currency_precision(currency)
    if _places(amount) > precision:
        raise _Invalid(
            "PRECISION", f"{currency} amounts have at most {precision} decimal places", "amount"
        )
    _check_range(f, amount)
    return {"amount": amount, "currency": currency}


def _address(value: Any) -> dict[str, str]:
    if not isinstance(value, Mapping):
        raise _Invalid("TYPE", "expected an address object")
    out: dict[str, str] = {}
    for key, part in value.items():
        if key not in ADDRESS_KEYS:
            raise _Invalid("UNKNOWN_FIELD", f"an address has no part '{key}'", camel(key))
        if part is None:
            continue
        if not isinstance(part, str) or len(part) > 500:
            raise _Invalid("TYPE", "expected text of at most 500 characters", camel(key))
        out[key] = part
    return out


def _ids(value: Any) -> list[str]:
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) and v for v in value):
        raise _Invalid("TYPE", "expected a list of ids")
    return list(dict.fromkeys(value))


def _coerce(f: FieldDef, value: Any, model: TenantModel) -> Any:
    t = f.value_type
    if t in ("text", "long_text"):
        return _text(f, value, _MAX_TEXT if t == "text" else _MAX_LONG_TEXT)
    if t == "email":
        v = _text(f, value, 320).strip()
        if not _EMAIL.match(v):
            raise _Invalid("EMAIL", "is not an email address")
        return v
    if t == "phone":
        v = _text(f, value, 64).strip()
        if not _PHONE.match(v) or sum(c.isdigit() for c in v) < 5:
            raise _Invalid("PHONE", "is not a phone number")
        return v
    if t == "url":
        v = _text(f, value, 2048).strip()
        if not _URL.match(v):
            raise _Invalid("URL", "is not an http(s) URL")
        return v
    if t == "integer":
        if isinstance(value, bool):
            raise _Invalid("TYPE", "expected a whole number")
        if isinstance(value, str):
            value = value.strip()
            if not re.fullmatch(r"[+-]?\d{1,19}", value):
                raise _Invalid("TYPE", "expected a whole number")
            value = int(value)
        if not isinstance(value, int):
            raise _Invalid("TYPE", "expected a whole number")
        if not -(2**63) <= value < 2**63:
            raise _Invalid("MAX", "is out of range")
        _check_range(f, Decimal(value))
        return value
    if t in ("decimal", "percent"):
        d = _decimal(value)
        if f.scale is not None and _places(d) > f.scale:
            raise _Invalid("PRECISION", f"has more than {f.scale} decimal places")
        if abs(d.adjusted()) > 30:
            raise _Invalid("MAX", "is out of range")
        _check_range(f, d)
        return d
    if t == "money":
        return _money(f, value, model)
    if t == "boolean":
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        if not isinstance(value, bool):
            raise _Invalid("TYPE", "expected true or false")
        return value
    if t == "date":
        return _date(value)
    if t == "datetime":
        return _datetime(value, model.timezone)
    if t == "enum":
        if value not in f.option_values:
            raise _Invalid("ENUM", f"must be one of {', '.join(f.option_values)}")
        return value
    if t == "multi_enum":
        if not isinstance(value, list | tuple):
            raise _Invalid("TYPE", "expected a list of options")
        bad = [v for v in value if v not in f.option_values]
        if bad:
            raise _Invalid("ENUM", f"'{bad[0]}' is not one of {', '.join(f.option_values)}")
        return list(dict.fromkeys(value))
    if t in ("relation", "user"):
        if not isinstance(value, str) or not value or len(value) > 64:
            raise _Invalid("TYPE", "expected an id")
        return value
    if t == "relation_list":
        return _ids(value)
    if t == "address":
        return _address(value)
    raise _Invalid("TYPE", f"unsupported field type '{t}'")


def coerce(f: FieldDef, value: Any, model: TenantModel) -> tuple[Any, Problem | None]:
    """Check one input value; return its Python form or a located problem.

    ``None`` (and empty text) clears a field and is returned as ``None``;
    the caller decides whether the field is required.
    """
    if is_empty(value):
        return None, None
    try:
        return _coerce(f, value, model), None
    except _Invalid as exc:
        path = f.graphql_name + (f".{exc.sub}" if exc.sub else "")
        return None, Problem(exc.code, exc.message, path)


def to_storage(f: FieldDef, value: Any) -> Any:
    """Python form -> exact, JSON-ready storage form."""
    if value is None:
        return None
    t = f.value_type
    if t in ("decimal", "percent"):
        return str(value)
    if t == "money":
        return {"amount": str(value["amount"]), "currency": value["currency"]}
    if t == "date":
        return value.isoformat()
    if t == "datetime":
        return value.astimezone(UTC).isoformat(timespec="microseconds")
    if t in ("multi_enum", "relation_list"):
        return list(value)
    if t == "address":
        return dict(value)
    return value


#: Value type -> storage form to Python form; types missing here are stored as they are.
STORAGE_CONVERTERS: dict[str, Callable[[Any], Any]] = {
    "decimal": Decimal,
    "percent": Decimal,
    "money": lambda v: {"amount": Decimal(v["amount"]), "currency": v["currency"]},
    "date": date.fromisoformat,
    "datetime": datetime.fromisoformat,
}


def from_storage(f: FieldDef, value: Any) -> Any:
    """Storage form -> Python form."""
    if value is None:
        return None
    convert = STORAGE_CONVERTERS.get(f.value_type)
    return value if convert is None else convert(value)


def condition_value(f: FieldDef | None, op: str, value: Any, model: TenantModel) -> Any:
    """A filter operand (Python form) -> storage form for the store."""
    if isinstance(value, str) and "\x00" in value:
        raise ValueError("a filter value must not contain NUL characters")
    if isinstance(value, list) and any(isinstance(v, str) and "\x00" in v for v in value):
        raise ValueError("a filter value must not contain NUL characters")
    if f is None or value is None or op == "is_null":
        return value
    if op == "in":
        return [condition_value(f, "eq", v, model) for v in value]
    t = f.value_type
    if t == "money":
        amount = value["amount"] if isinstance(value, Mapping) else value
        return str(_decimal(amount))
    if t in ("decimal", "percent"):
        return str(_decimal(value))
    if t == "date":
        return _date(value).isoformat()
    if t == "datetime":
        return _datetime(value, model.timezone).isoformat(timespec="microseconds")
    return value


def slot_value(f: FieldDef, value: Any) -> Any:
    """Python form -> the value of the field's indexed slot column."""
    if value is None:
        return None
    t = f.value_type
    if t == "money":
        return value["amount"]
    if t == "boolean":
        return 1 if value else 0
    if t in ("decimal", "percent", "integer"):
        return value
    return to_storage(f, value)


def unique_key(f: FieldDef, value: Any) -> str:
    """The normalised form under which a unique field's value is claimed."""
    stored = to_storage(f, value)
    if f.value_type == "money":
        return f"{Decimal(stored['amount']).normalize()} {stored['currency']}"
    if isinstance(stored, str):
        return " ".join(stored.split()).casefold()
    return str(stored)
