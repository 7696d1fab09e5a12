"""Compile neutral filters and orders (core.query) into parameterised SQL.

A field with an index slot compiles to its slot column, so the slot index
serves the condition and the sort; other fields use JSON extraction, and so
does a field whose slot a re-index is still rewriting (``pending``: the
slot columns not to trust yet, see :mod:`core.store.reindex`). Field
keys come from the EntityDef (and are checked again here); values are always
bound parameters. Ordering is NULLS LAST ascending and NULLS FIRST descending
on both engines, with ``id`` as the final tie-break; pages are keyset pages
whose opaque cursor carries the sort-key values of a row.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

import orjson

from core.errors import BadRequest, Problem
from core.metadata import NUMBER_SLOTS, TEXT_SLOTS, EntityDef
from core.query import And, Condition, Filter, Or, OrderBy
from core.store.url import Dialect
from core.store.values import as_datetime, bind_number, bind_time

__all__ = [
    "Cursor",
    "Expr",
    "Sql",
    "compile_filter",
    "compile_order",
    "json_expr",
    "reads_document",
    "resolve",
    "walk_sort_index_first",
]

Kind = Literal["text", "number", "int", "bool", "time", "list", "object"]

_KEY = re.compile(r"^[a-z][a-z0-9_]*$")
_TEXT_TYPES = frozenset(
    {"text", "long_text", "email", "phone", "url", "enum", "date", "datetime", "relation", "user"}
)
_SORTABLE: frozenset[str] = frozenset({"text", "number", "int", "bool", "time"})
_SYSTEM: dict[str, Kind] = {
    "id": "text",
    "version": "int",
    "created_at": "time",
    "created_by": "text",
    "updated_at": "time",
    "updated_by": "text",
}


@dataclass(frozen=True, slots=True)
class Sql:
    """A fragment with ``{}`` placeholders and its arguments, in order."""

    text: str
    args: tuple[Any, ...] = ()

    def __and__(self, other: Sql) -> Sql:
        return Sql(f"({self.text}) AND ({other.text})", self.args + other.args)


def _join(parts: Sequence[Sql], sep: str) -> Sql:
    return Sql(sep.join(f"({p.text})" for p in parts), tuple(a for p in parts for a in p.args))


@dataclass(frozen=True, slots=True)
class Expr:
    """How one field reads in SQL.

    ``sql`` is what WHERE and ORDER BY use (the bare slot column, so its index
    applies); ``select`` reads the same value back exactly for a cursor.
    """

    field: str
    sql: str
    select: str
    kind: Kind
    bool_slot: bool = False  # a boolean kept as 1/0 in a number slot


def _bad(field: str, message: str) -> BadRequest:
    return BadRequest(message, [Problem("BAD_FILTER", message, field)])


_TRUSTED: frozenset[str] = frozenset()


def resolve(
    dialect: Dialect, entity: EntityDef, key: str, pending: frozenset[str] = _TRUSTED
) -> Expr:
    """The SQL expression of a field or system field of ``entity``.

    A field whose slot is in ``pending`` reads the JSON document instead.
    """
    pg = dialect == "postgresql"
    if key in _SYSTEM:
        return Expr(key, key, key, _SYSTEM[key])
    f = entity.fields.get(key)
    if f is None or not _KEY.match(key):
        raise _bad(key, f"'{entity.key}' has no field '{key}'")
    t = f.value_type
    if f.slot is not None and f.slot not in pending:
        if f.slot not in TEXT_SLOTS and f.slot not in NUMBER_SLOTS:
            raise _bad(key, f"field '{key}' names an unknown slot")
        if f.slot in TEXT_SLOTS:
            return Expr(key, f.slot, f.slot, "text")
        # On SQLite "+ 0" drops the NUMERIC declared type, so the cursor gets the
        # stored INTEGER/REAL exactly instead of a 15-digit Decimal rendering.
        select = f.slot if pg else f"({f.slot} + 0)"
        return Expr(key, f.slot, select, "number", bool_slot=t == "boolean")
    return json_expr(dialect, key, t)


def json_expr(dialect: Dialect, key: str, value_type: str) -> Expr:
    """A field read from the JSON document (no slot involved)."""
    pg = dialect == "postgresql"
    if not _KEY.match(key):
        raise _bad(key, f"'{key}' is not a field key")
    t = value_type
    if t in _TEXT_TYPES:
        sql = f"""((data->>'{key}') COLLATE "C")""" if pg else f"json_extract(data, '$.{key}')"
        return Expr(key, sql, sql, "text")
    if t in ("integer", "decimal", "percent", "money"):
        if pg:
            path = f"data->'{key}'->>'amount'" if t == "money" else f"data->>'{key}'"
            sql = f"(({path})::numeric)"
        else:
            path = f"$.{key}.amount" if t == "money" else f"$.{key}"
            raw = f"json_extract(data, '{path}')"
            sql = raw if t == "integer" else f"CAST({raw} AS NUMERIC)"
        return Expr(key, sql, sql, "number")
    if t == "boolean":
        sql = f"((data->>'{key}')::boolean)" if pg else f"json_extract(data, '$.{key}')"
        return Expr(key, sql, sql, "bool")
    sql = f"(data->'{key}')" if pg else f"json_extract(data, '$.{key}')"
    return Expr(key, sql, sql, "list" if t in ("multi_enum", "relation_list") else "object")


def reads_document(
    entity: EntityDef,
    flt: Filter | None,
    order: Sequence[OrderBy] = (),
    pending: frozenset[str] = _TRUSTED,
) -> bool:
    """Whether the filter or the order reads a field from the JSON document.

    Such a query may scan the entity (no index serves it): on a large tenant
    it takes seconds, and the store runs it apart from the quick ones.
    """

    def from_document(key: str) -> bool:
        f = entity.fields.get(key)
        return f is not None and (f.slot is None or f.slot in pending)

    def walk(item: Filter) -> bool:
        if isinstance(item, And | Or):
            return any(walk(i) for i in item.items)
        return isinstance(item, Condition) and from_document(item.field)

    return (flt is not None and walk(flt)) or any(from_document(o.field) for o in order)


# -- values ---------------------------------------------------------------------


def _value(dialect: Dialect, e: Expr, value: Any) -> Any:
    """Check one operand against the field's kind; return what to bind."""
    if e.kind in ("text", "list"):
        if not isinstance(value, str):
            raise _bad(e.field, f"'{e.field}' compares with text")
        return value
    if e.kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise _bad(e.field, f"'{e.field}' compares with a whole number")
        return value
    if e.kind == "time":
        try:
            when = as_datetime(value)
        except (TypeError, ValueError):
            raise _bad(e.field, f"'{e.field}' compares with a date-time") from None
        if when is None or (isinstance(value, datetime) and value.tzinfo is None):
            raise _bad(e.field, f"'{e.field}' compares with a date-time with an offset")
        return bind_time(dialect, when)
    if e.kind == "bool" or e.bool_slot:
        if not isinstance(value, bool):
            raise _bad(e.field, f"'{e.field}' compares with true or false")
        if e.bool_slot:
            return bind_number(dialect, int(value))
        return value if dialect == "postgresql" else int(value)
    if e.kind == "number":
        return bind_number(dialect, _decimal(e.field, value))
    raise _bad(e.field, f"'{e.field}' can only be tested with is_null")


def _decimal(field: str, value: Any) -> Decimal:
    if isinstance(value, bool):
        raise _bad(field, f"'{field}' compares with a number")
    try:
        d = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    except (InvalidOperation, TypeError, ValueError):
        raise _bad(field, f"'{field}' compares with a number") from None
    if not d.is_finite():
        raise _bad(field, f"'{field}' compares with a finite number")
    return d


def _like_pattern(value: str, prefix_only: bool) -> str:
    escaped = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"{escaped}%" if prefix_only else f"%{escaped}%"


# -- filters --------------------------------------------------------------------

_COMPARE = {"eq": "=", "lt": "<", "lte": "<=", "gt": ">", "gte": ">="}


def compile_filter(
    dialect: Dialect, entity: EntityDef, flt: Filter, pending: frozenset[str] = _TRUSTED
) -> Sql:
    """A filter as one SQL boolean expression."""
    if isinstance(flt, And | Or):
        if not flt.items:
            return Sql("1 = 1" if isinstance(flt, And) else "1 = 0")
        parts = [compile_filter(dialect, entity, item, pending) for item in flt.items]
        return _join(parts, " AND " if isinstance(flt, And) else " OR ")
    if not isinstance(flt, Condition):
        raise BadRequest(f"not a filter: {type(flt).__name__}")
    return _condition(dialect, resolve(dialect, entity, flt.field, pending), flt.op, flt.value)


def _condition(dialect: Dialect, e: Expr, op: str, value: Any) -> Sql:
    pg = dialect == "postgresql"
    if op in ("eq", "ne") and value is None:
        op, value = "is_null", op == "eq"
    if op == "is_null":
        if not isinstance(value, bool):
            raise _bad(e.field, "is_null takes true or false")
        if e.kind == "list":
            length = f"jsonb_array_length({e.sql})" if pg else f"json_array_length({e.sql})"
            empty = f"COALESCE({length}, 0) = 0"
            return Sql(empty if value else f"NOT ({empty})")
        return Sql(f"{e.sql} IS NULL" if value else f"{e.sql} IS NOT NULL")
    if e.kind == "list":
        if op != "contains":
            raise _bad(e.field, f"'{e.field}' is a list: use contains or is_null")
        item = _value(dialect, e, value)
        if pg:
            return Sql(f"jsonb_exists({e.sql}, {{}})", (item,))
        return Sql(
            f"EXISTS (SELECT 1 FROM json_each(data, '$.{e.field}') WHERE value = {{}})", (item,)
        )
    if e.kind == "object":
        raise _bad(e.field, f"'{e.field}' can only be tested with is_null")
    if op in _COMPARE:
        return Sql(f"{e.sql} {_COMPARE[op]} {{}}", (_value(dialect, e, value),))
    if op == "ne":
        return Sql(f"{e.sql} <> {{}} OR {e.sql} IS NULL", (_value(dialect, e, value),))
    if op == "in":
        if not isinstance(value, list | tuple | set | frozenset):
            raise _bad(e.field, "'in' takes a list")
        items = [_value(dialect, e, v) for v in value if v is not None]
        nulls = len(items) != len(value)
        parts = []
        if items:
            parts.append(Sql(f"{e.sql} IN ({', '.join('{}' for _ in items)})", tuple(items)))
        if nulls:
            parts.append(Sql(f"{e.sql} IS NULL"))
        return _join(parts, " OR ") if parts else Sql("1 = 0")
    if op in ("contains", "starts_with"):
        if e.kind != "text":
            raise _bad(e.field, f"'{op}' works on text fields")
        pattern = _like_pattern(_value(dialect, e, value), op == "starts_with")
        # Case-insensitive for ASCII letters on both engines (SQLite LIKE, ILIKE on "C").
        like = "ILIKE" if pg else "LIKE"
        return Sql(f"{e.sql} {like} {{}} ESCAPE '\\'", (pattern,))
    raise _bad(e.field, f"unknown operator '{op}'")


#: Columns with an index of their own after (tenant_id, entity): slots and two times.
_ORDER_INDEXED: frozenset[str] = frozenset({*TEXT_SLOTS, *NUMBER_SLOTS, "created_at", "updated_at"})
#: Value types of few distinct values: an equality on one keeps a large share of the rows.
_FEW_VALUES = frozenset({"enum", "boolean"})


def walk_sort_index_first(
    dialect: Dialect,
    entity: EntityDef,
    flt: Filter | None,
    keys: Sequence[SortKey],
    pending: frozenset[str] = _TRUSTED,
) -> bool:
    """Whether a page should first walk its sort index a bounded way (SQLite).

    SQLite's planner does not weigh ``LIMIT``: for an equality on an indexed
    enum (a sixth of a million records, say) and a sort on another indexed
    column, it takes the enum's index and sorts every match (220 ms at 1M
    records) where walking the sort index would find a page within a few
    hundred rows (1.3 ms). Forcing the walk is no answer either: for a value
    few records have, it reads the whole entity (1.9 s at 1M). The store
    walks a bounded number of rows first and falls back to the planner's
    choice when they hold too few matches (:meth:`Database.query_records`).
    PostgreSQL's planner weighs the ``LIMIT`` itself.
    """
    if dialect != "sqlite" or flt is None or not keys or keys[0].expr.sql not in _ORDER_INDEXED:
        return False
    items = flt.items if isinstance(flt, And) else (flt,)
    for item in items:
        if not isinstance(item, Condition) or item.op not in ("eq", "in"):
            continue
        f = entity.fields.get(item.field)
        if (
            f is not None
            and f.value_type in _FEW_VALUES
            and f.slot is not None
            and f.slot not in pending
            and f.slot != keys[0].expr.sql
        ):
            return True
    return False


# -- order and keyset -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SortKey:
    expr: Expr
    descending: bool


def compile_order(
    dialect: Dialect,
    entity: EntityDef,
    order: Sequence[OrderBy],
    pending: frozenset[str] = _TRUSTED,
) -> list[SortKey]:
    """Sort keys, ending with ``id`` (in the direction of the last key)."""
    keys: list[SortKey] = []
    seen: set[str] = set()
    for item in order:
        if item.field in seen or item.field == "id":
            continue
        e = resolve(dialect, entity, item.field, pending)
        if e.kind not in _SORTABLE:
            raise _bad(item.field, f"cannot sort by '{item.field}'")
        seen.add(item.field)
        keys.append(SortKey(e, item.descending))
    id_desc = next((o.descending for o in order if o.field == "id"), None)
    if id_desc is None:
        id_desc = keys[-1].descending if keys else False
    keys.append(SortKey(resolve(dialect, entity, "id"), id_desc))
    return keys


def order_by_sql(keys: Sequence[SortKey]) -> str:
    return ", ".join(
        f"{k.expr.sql} DESC NULLS FIRST" if k.descending else f"{k.expr.sql} ASC NULLS LAST"
        for k in keys
    )


def after_sql(dialect: Dialect, keys: Sequence[SortKey], values: Sequence[Any]) -> Sql:
    """Rows strictly after the row whose sort-key values are ``values``."""
    branches: list[Sql] = []
    equal: list[Sql] = []
    for key, value in zip(keys, values, strict=True):
        e = key.expr
        bound = None if value is None else _bind_key(dialect, e, value)
        after: Sql | None
        if value is None:
            # NULLs are last ascending (nothing after them) and first descending.
            after = Sql(f"{e.sql} IS NOT NULL") if key.descending else None
        elif key.descending:
            after = Sql(f"{e.sql} < {{}}", (bound,))
        else:
            after = Sql(f"{e.sql} > {{}} OR {e.sql} IS NULL", (bound,))
        if after is not None:
            branches.append(_join([*equal, after], " AND "))
        equal.append(Sql(f"{e.sql} IS NULL") if value is None else Sql(f"{e.sql} = {{}}", (bound,)))
    return _join(branches, " OR ") if branches else Sql("1 = 0")


def _bind_key(dialect: Dialect, e: Expr, value: Any) -> Any:
    if e.kind == "time":
        when = as_datetime(value)
        assert when is not None
        return bind_time(dialect, when)
    if e.kind == "number":
        return bind_number(dialect, value)
    if e.kind == "bool":
        return bool(value) if dialect == "postgresql" else int(value)
    return value


class Cursor:
    """Opaque keyset cursors: base64url JSON of the order and a row's key values."""

    @staticmethod
    def signature(keys: Sequence[SortKey]) -> str:
        return ",".join(f"{k.expr.field}:{'d' if k.descending else 'a'}" for k in keys)

    @staticmethod
    def encode(keys: Sequence[SortKey], values: Sequence[Any], signature: str | None = None) -> str:
        """``signature`` may be given, computed once for a page of rows."""
        doc = {"o": signature or Cursor.signature(keys), "k": [_tag(v) for v in values]}
        return base64.urlsafe_b64encode(orjson.dumps(doc)).decode().rstrip("=")

    @staticmethod
    def decode(keys: Sequence[SortKey], cursor: str) -> list[Any]:
        try:
            raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
            doc = orjson.loads(raw)
            values = [_untag(v) for v in doc["k"]]
            same = doc["o"] == Cursor.signature(keys) and len(values) == len(keys)
        except (binascii.Error, ValueError, KeyError, TypeError, InvalidOperation):
            same = False
        if not same:
            message = "the cursor is not valid for this query (was the order changed?)"
            raise BadRequest(message, [Problem("BAD_CURSOR", message, "after")])
        return values


def _tag(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, bool):
        return ["b", value]
    if isinstance(value, int):
        return ["i", str(value)]
    if isinstance(value, float):
        return ["f", repr(value)]
    if isinstance(value, Decimal):
        return ["n", str(value)]
    if isinstance(value, datetime):
        return ["t", value.isoformat()]
    return ["s", str(value)]


def _untag(item: Any) -> Any:
    if item is None:
        return None
    tag, raw = item
    if tag == "b":
        return bool(raw)
    if tag == "i":
        return int(raw)
    if tag == "f":
        return float(raw)
    if tag == "n":
        return Decimal(raw)
    if tag == "t":
        return as_datetime(raw)
    if tag == "s":
        return str(raw)
    raise ValueError(f"unknown cursor tag {tag!r}")
