"""Database URLs: which engine, and where."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Literal

from core.errors import BadRequest, Problem

__all__ = ["DatabaseUrl", "Dialect", "default_database_url", "parse_database_url"]

Dialect = Literal["sqlite", "postgresql"]

ENV_VAR = "TESSERA_DATABASE_URL"
DEFAULT_URL = "sqlite:///tessera.db"


def default_database_url() -> str:
    """``TESSERA_DATABASE_URL``, else a SQLite file in the working directory."""
    return os.environ.get(ENV_VAR) or DEFAULT_URL


@dataclass(frozen=True, slots=True)
class DatabaseUrl:
    dialect: Dialect
    url: str
    path: str = ""  # SQLite file path; empty for PostgreSQL


def parse_database_url(url: str) -> DatabaseUrl:
    """Split ``sqlite:///relative.db``, ``sqlite:////abs.db`` or ``postgresql://...``."""
    if url.startswith("sqlite:///"):
        path = url[len("sqlite:///") :]
        if not path or path == ":memory:" or path.startswith("file:"):
            raise _bad(url, "SQLite needs a file path, e.g. sqlite:///tessera.db")
        return DatabaseUrl("sqlite", url, path)
    if url.startswith(("postgresql://", "postgres://")):
        return DatabaseUrl("postgresql", url)
    raise _bad(url, "expected sqlite:///path.db or postgresql://user@host:port/database")


def _bad(url: str, message: str) -> BadRequest:
    scheme = url.split(":", 1)[0]
    return BadRequest(
        f"unsupported database URL ({scheme}:...): {message}",
        [Problem("DATABASE_URL", message, ENV_VAR)],
    )
