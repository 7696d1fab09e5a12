"""Numbering series counters (``core.numbering``).

One row per tenant, series (the numbered entity) and period (``2026``,
``2026-03`` or ``""`` for a series that never resets) holding the last
number given. The row is incremented in the same transaction as the insert
of the numbered record, so a rolled-back create gives its number back and
concurrent creates queue on the row: numbers are unique and gapless.
"""

from __future__ import annotations

from core.store.migrations.m0002_row_security import tenant_wall
from core.store.url import Dialect

ID = "0006_number_series"

NEW_TABLES = ("number_series",)


def statements(dialect: Dialect) -> list[str]:
    pg = dialect == "postgresql"
    key = 'TEXT COLLATE "C"' if pg else "TEXT"
    out = [
        f"""CREATE TABLE number_series (
  tenant_id {key} NOT NULL,
  series {key} NOT NULL,
  period {key} NOT NULL,
  last_value BIGINT NOT NULL,
  PRIMARY KEY (tenant_id, series, period)
)"""
    ]
    if pg:
        out += tenant_wall("number_series")
    return out
