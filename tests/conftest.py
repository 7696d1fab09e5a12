"""Shared fixtures: ``db`` is a migrated, empty Database on SQLite and on PostgreSQL.

PostgreSQL tests use one database created for the session (dropped at the
end) and emptied before each test. The database is owned by a throw-away
ordinary role (no superuser, no BYPASSRLS) that the tests connect as, so the
row-level security wall is exercised by every PostgreSQL test, as in
production. Set ``TESSERA_TEST_POSTGRES_URL`` to use
another server; if none is reachable the PostgreSQL cases are skipped.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from core.store import Database, open_database
from core.store.migrations import TENANT_TABLES

# The webhook receivers of the tests listen on loopback, which production refuses.
os.environ.setdefault("TESSERA_WEBHOOK_ALLOWED_NETWORKS", "127.0.0.0/8,::1/128")
# Tests apply configs through several runtimes in one process: check versions every time
# (tests/test_runtime.py covers the window).
os.environ.setdefault("TESSERA_CONFIG_CHECK_SECONDS", "0")

POSTGRES_SERVER = os.environ.get(
    "TESSERA_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
_TABLES = TENANT_TABLES


def _run(coro: Coroutine[Any, Any, None]) -> None:
    """Run set-up code on its own loop; the requesting test's loop may be running."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, coro).result()


def _with_database(server_url: str, name: str, user: str | None = None) -> str:
    parts = urlsplit(server_url)
    netloc = parts.netloc
    if user is not None:
        netloc = f"{user}@{netloc.rpartition('@')[2]}"
    return urlunsplit((parts.scheme, netloc, f"/{name}", parts.query, parts.fragment))


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(POSTGRES_SERVER, timeout=3)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def _create_and_migrate(url: str, name: str, owner: str | None) -> None:
    if owner is None:
        await _admin(f'CREATE DATABASE "{name}"')
    else:
        await _admin(f'CREATE DATABASE "{name}" OWNER "{owner}"')
    db = await open_database(url)
    try:
        await db.migrate()
    finally:
        await db.close()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A migrated PostgreSQL database for this test session."""
    name = f"tessera_test_{uuid.uuid4().hex[:12]}"
    owner: str | None = name
    try:
        try:
            _run(_admin(f'CREATE ROLE "{name}" LOGIN NOSUPERUSER NOBYPASSRLS'))
        except asyncpg.InsufficientPrivilegeError:
            owner = None  # the server user cannot create roles: test as that user
        url = _with_database(POSTGRES_SERVER, name, owner)
        _run(_create_and_migrate(url, name, owner))
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        host = POSTGRES_SERVER.rpartition("@")[2].split("/")[0]
        pytest.skip(f"PostgreSQL not reachable at {host}: {exc}")
    yield url
    _run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    if owner is not None:
        _run(_admin(f'DROP ROLE IF EXISTS "{owner}"'))


@pytest.fixture(params=["sqlite", "postgresql"])
async def db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    """A migrated database with no rows, on each engine."""
    if request.param == "sqlite":
        database = await open_database(f"sqlite:///{tmp_path / 'tessera.db'}")
        await database.migrate()
    else:
        database = await open_database(request.getfixturevalue("postgres_url"))
        await database.execute(f"TRUNCATE {', '.join(_TABLES)}")
    try:
        yield database
    finally:
        await database.close()
