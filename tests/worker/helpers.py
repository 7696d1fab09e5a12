"""Shared test data for the worker tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from core.store import Database

NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    """``NOW`` plus ``seconds``: the tests' injected clock readings."""
    return NOW + timedelta(seconds=seconds)


async def add_tenant(db: Database, tenant: str) -> None:
    """A ``tenant`` row (the worker finds work through it) with a placeholder config."""
    await db.save_config(tenant, tenant.title(), {"tenant": tenant}, f"key-{tenant}", "test")


class Clock:
    """A settable clock for ``Worker(clock=...)``."""

    def __init__(self, now: datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


#: Worker settings for tests: no SMTP from the process, webhooks may reach loopback receivers.
TEST_ENV = {"TESSERA_WEBHOOK_ALLOWED_NETWORKS": "127.0.0.0/8,::1/128"}
