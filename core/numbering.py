"""Numbering series: readable, gapless record numbers from the tenant config.

A tenant numbers the records of an entity with a ``numbering`` entry::

    "numbering": {
      "quote": {"field": "number", "pattern": "报价-{YYYY}-{seq:4}", "reset": "yearly"}
    }

``pattern`` is literal text with tokens: ``{YYYY}`` (year), ``{YY}`` (two
digits), ``{MM}`` (month) and exactly one ``{seq:N}`` (the counter, zero
padded to ``N`` digits; it grows past ``N`` rather than wrap). ``reset`` is
``yearly``, ``monthly`` or ``never`` (default); dates are the tenant's local
date when the record is created.

The service calls :func:`assign` inside the create's transaction, before any
plugin hook. The counter row (table ``number_series``) is incremented with a
single ``INSERT ... ON CONFLICT DO UPDATE ... RETURNING``: on PostgreSQL the
row stays locked until the transaction ends, so concurrent creates queue on
it; SQLite serialises writers anyway. A create that rolls back rolls its
increment back too, so numbers never repeat and never skip.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol
from zoneinfo import ZoneInfo

from core.errors import Problem
from core.metadata import TenantModel

__all__ = [
    "Series",
    "assign",
    "format_number",
    "numbering_problems",
    "parse_pattern",
    "period_of",
    "series_of",
]

Reset = Literal["never", "yearly", "monthly"]

_TOKEN = re.compile(r"\{([^{}]*)\}")
_SEQ = re.compile(r"^seq:([1-9][0-9]?)$")
_DATE_TOKENS = ("YYYY", "YY", "MM")
_MAX_WIDTH = 12

_NEXT = (
    "INSERT INTO number_series (tenant_id, series, period, last_value) VALUES ({}, {}, {}, 1) "
    "ON CONFLICT (tenant_id, series, period) "
    "DO UPDATE SET last_value = number_series.last_value + 1 RETURNING last_value"
)


class _Db(Protocol):
    """The part of :class:`core.store.Database` numbering uses."""

    def tenant_scope(self, tenant: str) -> Any: ...
    async def fetch(self, sql: str, *args: Any) -> list[dict[str, Any]]: ...


@dataclass(frozen=True, slots=True)
class Series:
    """One entity's numbering series, parsed from the config."""

    entity: str
    field: str
    pattern: str
    reset: Reset
    #: The pattern split into literal text and tokens, e.g. ("PRE-", "{YYYY}", "/", "{seq:4}").
    parts: tuple[str, ...]


@functools.lru_cache(maxsize=256)
def parse_pattern(pattern: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The pattern's parts, and what is wrong with it (nothing when it is valid)."""
    parts: list[str] = []
    errors: list[str] = []
    literal = ""
    seqs = 0
    at = 0
    for m in _TOKEN.finditer(pattern):
        text = pattern[at : m.start()]
        literal += text
        if text:
            parts.append(text)
        token = m.group(1)
        seq = _SEQ.match(token)
        if seq is not None:
            seqs += 1
            if int(seq.group(1)) > _MAX_WIDTH:
                errors.append(f"{m.group(0)}: a counter has at most {_MAX_WIDTH} digits")
        elif token not in _DATE_TOKENS:
            errors.append(
                f"unknown token '{m.group(0)}' (known: {{YYYY}}, {{YY}}, {{MM}}, {{seq:N}})"
            )
        parts.append(m.group(0))
        at = m.end()
    if pattern[at:]:
        literal += pattern[at:]
        parts.append(pattern[at:])
    if "{" in literal or "}" in literal:
        errors.append("a '{' or '}' without its pair")
    if seqs != 1:
        errors.append("the pattern needs exactly one counter token {seq:N}, e.g. {seq:4}")
    return tuple(parts), tuple(errors)


def series_of(model: TenantModel, entity: str) -> Series | None:
    """The numbering series of ``entity``, if the tenant configures one."""
    spec = (model.config.get("numbering") or {}).get(entity)
    if not spec:
        return None
    pattern = str(spec["pattern"])
    parts, _ = parse_pattern(pattern)
    reset: Reset = spec.get("reset", "never")
    return Series(entity, str(spec["field"]), pattern, reset, parts)


def period_of(series: Series, local: datetime) -> str:
    """The counter's period for a record created at ``local`` (tenant time)."""
    if series.reset == "yearly":
        return f"{local.year:04d}"
    if series.reset == "monthly":
        return f"{local.year:04d}-{local.month:02d}"
    return ""


def format_number(series: Series, local: datetime, value: int) -> str:
    out: list[str] = []
    for part in series.parts:
        if part == "{YYYY}":
            out.append(f"{local.year:04d}")
        elif part == "{YY}":
            out.append(f"{local.year % 100:02d}")
        elif part == "{MM}":
            out.append(f"{local.month:02d}")
        elif part.startswith("{seq:"):
            out.append(str(value).zfill(int(part[5:-1])))
        else:
            out.append(part)
    return "".join(out)


async def assign(
    db: _Db, model: TenantModel, tenant: str, entity: str, now: datetime, values: dict[str, Any]
) -> str | None:
    """Give a record being created its number (call inside the create's transaction).

    Sets ``values[field]`` and returns the number; does nothing when the
    entity has no series or a trusted caller (an import) already set it.
    """
    series = series_of(model, entity)
    if series is None or values.get(series.field) is not None:
        return None
    local = now.astimezone(ZoneInfo(model.timezone))
    async with db.tenant_scope(tenant):
        rows = await db.fetch(_NEXT, tenant, series.entity, period_of(series, local))
    number = format_number(series, local, int(rows[0]["last_value"]))
    values[series.field] = number
    return number


def numbering_problems(model: TenantModel, file: str | None = None) -> list[Problem]:
    """What is wrong with the config's ``numbering`` section, each problem located."""
    problems: list[Problem] = []
    section: Mapping[str, Any] = model.config.get("numbering") or {}
    for ekey, spec in section.items():
        where = f"/numbering/{ekey}"
        entity = model.entities.get(ekey)
        if entity is None:
            problems.append(
                Problem("ENTITY_UNKNOWN", f"there is no entity '{ekey}' to number", where, file)
            )
            continue
        fkey = str(spec.get("field", ""))
        f = entity.fields.get(fkey)
        if f is None:
            problems.append(
                Problem("FIELD_UNKNOWN", f"'{ekey}' has no field '{fkey}'", f"{where}/field", file)
            )
        elif f.value_type != "text":
            problems.append(
                Problem(
                    "NUMBERING_FIELD_TYPE",
                    f"the numbered field '{fkey}' must be a text field, not {f.value_type}",
                    f"{where}/field",
                    file,
                )
            )
        elif not f.read_only:
            problems.append(
                Problem(
                    "NUMBERING_FIELD_WRITABLE",
                    f"the series fills '{fkey}': mark it \"read_only\": true so nobody types one",
                    f"{where}/field",
                    file,
                )
            )
        parts, errors = parse_pattern(str(spec.get("pattern", "")))
        problems += [Problem("NUMBERING_PATTERN", e, f"{where}/pattern", file) for e in errors]
        reset = spec.get("reset", "never")
        has_year = "{YYYY}" in parts or "{YY}" in parts
        if reset in ("yearly", "monthly") and not has_year:
            problems.append(
                Problem(
                    "NUMBERING_RESET",
                    f"a {reset} series restarts its counter: put {{YYYY}} or {{YY}} in the "
                    "pattern so numbers of different years differ",
                    f"{where}/pattern",
                    file,
                )
            )
        if reset == "monthly" and "{MM}" not in parts:
            problems.append(
                Problem(
                    "NUMBERING_RESET",
                    "a monthly series restarts every month: put {MM} in the pattern",
                    f"{where}/pattern",
                    file,
                )
            )
    return problems
