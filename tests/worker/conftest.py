"""Fixtures for the worker tests."""

from __future__ import annotations

import pytest

from core.store import Database
from core.store.jobs import JobStore


@pytest.fixture
def jobs(db: Database) -> JobStore:
    """The database's job store (outbox leases and timers)."""
    return db.jobs
