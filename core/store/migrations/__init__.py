"""Ordered schema migrations of the shared tables (D1: no per-tenant DDL).

Each migration module defines ``ID`` and ``statements(dialect) -> list[str]``.
Applied ids are recorded in ``tessera_migration``; a migration runs once.
"""

from __future__ import annotations

from types import ModuleType

from core.store.migrations import m0001_initial, m0002_row_security

__all__ = ["MIGRATIONS"]

MIGRATIONS: tuple[ModuleType, ...] = (m0001_initial, m0002_row_security)
