"""Persistence: shared, tenant-keyed tables on SQLite or PostgreSQL (decision D1)."""

from core.store.database import Database, open_database
from core.store.errors import UniqueViolation
from core.store.url import default_database_url

__all__ = ["Database", "UniqueViolation", "default_database_url", "open_database"]
