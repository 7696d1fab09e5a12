"""Ordered schema migrations of the shared tables (D1: no per-tenant DDL).

Each migration module defines ``ID`` and ``statements(dialect) -> list[str]``.
Applied ids are recorded in ``tessera_migration``; a migration runs once.
"""

from __future__ import annotations

from types import ModuleType

from core.store.migrations import (
    m0001_initial,
    m0002_row_security,
    m0003_processes,
    m0004_login,
    m0005_append_only,
    m0006_number_series,
    m0007_reindex,
)

__all__ = ["MIGRATIONS", "SYSTEM_READ_TABLES", "TENANT_TABLES"]

MIGRATIONS: tuple[ModuleType, ...] = (
    m0001_initial,
    m0002_row_security,
    m0003_processes,
    m0004_login,
    m0005_append_only,
    m0006_number_series,
    m0007_reindex,
)

#: Every table behind the tenant wall, and those the system scope may read.
TENANT_TABLES: tuple[str, ...] = (
    *m0002_row_security.TENANT_TABLES,
    *m0003_processes.NEW_TABLES,
    *m0006_number_series.NEW_TABLES,
    *m0007_reindex.NEW_TABLES,
)
SYSTEM_READ_TABLES: tuple[str, ...] = (
    *m0002_row_security.SYSTEM_READ_TABLES,
    "timer",
    "reindex",
)
