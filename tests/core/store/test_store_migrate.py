"""migrate() is idempotent and the schema does not grow with tenants (D1)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from core.store import Database, open_database
from core.store.migrations import MIGRATIONS

NOW = datetime(2026, 3, 1, tzinfo=UTC)


async def _objects(db: Database) -> list[str]:
    if db.dialect == "sqlite":
        rows = await db.fetch("SELECT type || ':' || name AS o FROM sqlite_master ORDER BY 1")
    else:
        rows = await db.fetch(
            "SELECT relkind::text || ':' || relname AS o FROM pg_class "
            "WHERE relnamespace = 'public'::regnamespace ORDER BY 1"
        )
    return [r["o"] for r in rows]


async def test_migrate_twice_changes_nothing(db: Database) -> None:
    before = await _objects(db)
    await db.migrate()
    await db.migrate()
    assert await _objects(db) == before
    applied = await db.fetch("SELECT id FROM tessera_migration")
    assert [r["id"] for r in applied] == [m.ID for m in MIGRATIONS]
    if db.dialect == "sqlite":
        assert (await db.fetch("PRAGMA journal_mode"))[0]["journal_mode"] == "wal"
    assert {"table:record", "index:record_s_t1", "index:record_updated"} <= set(
        o.replace("r:", "table:").replace("i:", "index:") for o in before
    )


async def test_concurrent_migrations_agree(db: Database) -> None:
    other = await open_database(db.url)
    try:
        await asyncio.gather(db.migrate(), other.migrate())
    finally:
        await other.close()
    assert len(await db.fetch("SELECT id FROM tessera_migration")) == len(MIGRATIONS)


async def test_tenants_add_rows_not_database_objects(db: Database) -> None:
    before = await _objects(db)
    for i in range(5):
        tenant = f"tenant-{i}"
        await db.save_config(tenant, tenant, {"tenant": tenant}, f"k{i}", "cli")
        await db.insert_record(tenant, "thing", "r1", {"x": i}, {"s_t1": "a"}, "u", NOW)
        await db.add_user(tenant, "a@example.com", "A", "hash", ["admin"], "en")
    assert await _objects(db) == before
    assert len(await db.list_tenants()) == 5
