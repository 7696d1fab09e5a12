"""Python values to and from what each engine binds and returns."""

from __future__ import annotations

import secrets
import time
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import orjson

from core.store.url import Dialect

__all__ = [
    "as_datetime",
    "bind_number",
    "bind_time",
    "dump_json",
    "load_json",
    "ordered_id",
    "placeholders",
    "stored_order",
    "utcnow",
]


def utcnow() -> datetime:
    return datetime.now(UTC)


def bind_time(dialect: Dialect, value: datetime) -> Any:
    """A tz-aware datetime as the engine stores it (UTC; ISO-8601 text on SQLite)."""
    if value.tzinfo is None:
        raise ValueError("naive datetimes are not stored; pass a tz-aware datetime")
    value = value.astimezone(UTC)
    if dialect == "postgresql":
        return value
    # Fixed width, so text order is time order (keyset paging relies on it).
    return value.isoformat(timespec="microseconds")


def as_datetime(value: Any) -> datetime | None:
    """A stored time back as an aware UTC datetime, on both engines."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if not isinstance(value, datetime):
        raise TypeError(f"not a time value: {value!r}")
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def bind_number(dialect: Dialect, value: int | float | Decimal) -> Any:
    """A number as the engine compares it: exact on PostgreSQL, native on SQLite."""
    if dialect == "postgresql":
        if isinstance(value, Decimal):
            return value
        return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    if isinstance(value, Decimal):
        # SQLite compares NUMERIC as INTEGER or REAL; keep integers exact.
        return (
            int(value)
            if value == value.to_integral_value() and abs(value) < 2**63
            else float(value)
        )
    return value


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise TypeError(f"not JSON-serialisable: {type(value).__name__}")


def dump_json(value: Any) -> str:
    return orjson.dumps(value, default=_default).decode()


def load_json(value: Any) -> Any:
    if isinstance(value, str | bytes):
        return orjson.loads(value)
    return value


def ordered_id() -> str:
    """A row id that sorts by creation time (ties inside one timestamp keep order)."""
    return f"{time.time_ns():020d}{secrets.token_hex(4)}"


def placeholders(n: int) -> str:
    """``{}, {}, ...``: ``n`` parameter slots for a ``QueryString``."""
    return ", ".join("{}" for _ in range(n))


def stored_order(value: Any, dialect: Dialect) -> Any:
    """``value`` with its objects' keys in the order the database will give them back.

    PostgreSQL's JSONB keeps keys sorted (shorter first, then by bytes), not
    as written; SQLite keeps the text. Anything derived from key order (the
    index slots of a tenant's fields) must see the same order at apply time as
    when the stored config is read back.
    """
    if dialect != "postgresql":
        return value
    if isinstance(value, dict):
        keys = sorted(value, key=lambda k: (len(k.encode()), k.encode()))
        return {k: stored_order(value[k], dialect) for k in keys}
    if isinstance(value, list):
        return [stored_order(v, dialect) for v in value]
    return value
