"""Pending re-indexes: slot columns being rewritten after a config change (P6).

One row per entity whose index slots a config apply re-mapped
(``core.store.reindex``). ``slots`` maps each slot column to rewrite to what
it must hold (``{"field": key, "type": value_type}``, or ``null`` to clear
it); the slots of an unfinished row are read through the JSON document until
it finishes. The backfill walks the entity's records by primary key in short
transactions: ``last_id`` is the last id done, ``rows_done``/``rows_changed``
count rows checked and rewritten, ``rows_total`` is the estimate taken at
apply. ``scanned_at`` marks the end of the walk (a last pass over rows
written meanwhile follows), ``finished_at`` the end of the re-index.
``applied_at`` is when an apply last set ``slots`` (the walk restarts then).
A lease (``leased_by``, ``lease_until``) keeps two processes from walking the
same entity at once; an expired lease is taken over.

At most one unfinished row per tenant and entity (a partial unique index).
PostgreSQL: the tenant wall of migration 0002, and the worker may read the
table across tenants to find pending work (never write).
"""

from __future__ import annotations

from core.store.migrations.m0002_row_security import system_read, tenant_wall
from core.store.url import Dialect

ID = "0007_reindex"

NEW_TABLES = ("reindex",)


def statements(dialect: Dialect) -> list[str]:
    pg = dialect == "postgresql"
    key = 'TEXT COLLATE "C"' if pg else "TEXT"
    json = "JSONB" if pg else "TEXT"
    ts = "TIMESTAMPTZ"
    out = [
        f"""CREATE TABLE reindex (
  tenant_id {key} NOT NULL,
  id {key} NOT NULL,
  entity {key} NOT NULL,
  slots {json} NOT NULL,
  config_version INTEGER NOT NULL,
  last_id {key} NOT NULL DEFAULT '',
  rows_total BIGINT NOT NULL DEFAULT 0,
  rows_done BIGINT NOT NULL DEFAULT 0,
  rows_changed BIGINT NOT NULL DEFAULT 0,
  created_at {ts} NOT NULL,
  applied_at {ts} NOT NULL,
  updated_at {ts} NOT NULL,
  scanned_at {ts},
  finished_at {ts},
  lease_until {ts},
  leased_by TEXT,
  PRIMARY KEY (tenant_id, id)
)""",
        "CREATE UNIQUE INDEX reindex_pending ON reindex (tenant_id, entity) "
        "WHERE finished_at IS NULL",
    ]
    if pg:
        out += tenant_wall("reindex")
        out.append(system_read("reindex"))
    return out
