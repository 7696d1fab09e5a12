"""Row-level security on PostgreSQL: a second wall between tenants (D8).

These tests connect as an ordinary role that owns the tables (superusers and
BYPASSRLS roles are never subject to row-level security), in a database of
their own, so the wall is really in force.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
from piccolo.querystring import QueryString

from core.query import Condition, OrderBy
from core.store import Database, UniqueViolation, open_database
from core.store.migrations import SYSTEM_READ_TABLES, TENANT_TABLES
from tests.api_helpers import Api, acme_config, make_runtime
from tests.conftest import POSTGRES_SERVER, _run
from tests.core.store.model import item_entity, slots_for

ITEM = item_entity()
NOW = datetime(2026, 3, 1, tzinfo=UTC)


def _url(user: str, database: str) -> str:
    parts = urlsplit(POSTGRES_SERVER)
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, f"{user}@{host}", f"/{database}", "", ""))


async def _admin(*statements: str) -> None:
    conn = await asyncpg.connect(POSTGRES_SERVER, timeout=3)
    try:
        for sql in statements:
            await conn.execute(sql)
    finally:
        await conn.close()


async def _create(role: str, name: str, url: str) -> None:
    await _admin(
        f'CREATE ROLE "{role}" LOGIN NOSUPERUSER NOBYPASSRLS',
        f'CREATE DATABASE "{name}" OWNER "{role}"',
    )
    db = await open_database(url)
    try:
        await db.migrate()
    finally:
        await db.close()


@pytest.fixture(scope="module")
def rls_url() -> Iterator[str]:
    """A migrated database owned by a role that row-level security applies to."""
    suffix = uuid.uuid4().hex[:12]
    role, name = f"tessera_rls_{suffix}", f"tessera_rls_{suffix}"
    url = _url(role, name)
    try:
        _run(_create(role, name, url))
    except (OSError, TimeoutError, asyncpg.PostgresConnectionError) as exc:
        pytest.skip(f"PostgreSQL not reachable at {urlsplit(POSTGRES_SERVER).hostname}: {exc}")
    except asyncpg.InsufficientPrivilegeError as exc:
        pytest.skip(f"cannot create a test role on {POSTGRES_SERVER}: {exc}")
    yield url
    _run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'DROP ROLE IF EXISTS "{role}"'))


@pytest.fixture
async def db(rls_url: str) -> AsyncIterator[Database]:
    database = await open_database(rls_url)
    # TRUNCATE is not subject to row-level security: the owner may empty the tables.
    await database.execute(f"TRUNCATE {', '.join(TENANT_TABLES)}")
    try:
        yield database
    finally:
        await database.close()


async def _raw(db: Database, sql: str, *args: Any) -> list[dict[str, Any]]:
    """SQL straight through the engine: no tenant set by the store."""
    rows = await db.engine.run_querystring(QueryString(sql, *args))
    return [dict(r) for r in rows or ()]


async def _two_tenants(db: Database) -> dict[str, str]:
    """Each tenant gets a config, a record, a unique value, audit, outbox, a user, a token."""
    users = {}
    for tenant in ("acme", "globex"):
        await db.save_config(tenant, tenant.title(), {"tenant": tenant}, f"k-{tenant}", "cli")
        data: dict[str, Any] = {"name": f"n-{tenant}", "amount": "12.50", "rank": 1, "city": tenant}
        async with db.transaction():
            await db.insert_record(tenant, "item", "r1", data, slots_for(ITEM, data), "u", NOW)
            await db.claim_unique(tenant, "item", "name", data["name"], "r1")
            await db.append_audit(tenant, "item", "r1", "create", "u", NOW, {"name": [None, "n"]})
            await db.enqueue(tenant, "record.created", {"id": "r1"}, "r1:1", NOW)
        users[tenant] = await db.add_user(tenant, "ana@example.com", "Ana", "h", ["admin"], "en")
        await db.store_token(f"hash-{tenant}", tenant, users[tenant])
    return users


async def test_every_tenant_table_has_forced_row_security(db: Database) -> None:
    me = await db.fetch("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user")
    assert me == [{"rolsuper": False, "rolbypassrls": False}]
    rows = await db.fetch(
        "SELECT relname, relrowsecurity, relforcerowsecurity FROM pg_class "
        "WHERE relnamespace = 'public'::regnamespace AND relkind = 'r'"
    )
    secured = {r["relname"] for r in rows if r["relrowsecurity"] and r["relforcerowsecurity"]}
    assert secured == set(TENANT_TABLES)
    policies = await db.fetch("SELECT tablename, policyname, cmd FROM pg_policies")
    assert {(p["tablename"], p["policyname"], p["cmd"]) for p in policies} == {
        *((t, "tenant_isolation", "ALL") for t in TENANT_TABLES),
        *((t, "system_read", "SELECT") for t in SYSTEM_READ_TABLES),
    }


async def test_store_methods_work_under_row_security(db: Database) -> None:
    users = await _two_tenants(db)
    assert [t["tenant_id"] for t in await db.list_tenants()] == ["acme", "globex"]
    config = await db.current_config("acme")
    assert config is not None and config["config"] == {"tenant": "acme"}
    assert [c["version"] for c in await db.config_history("globex")] == [1]

    got = await db.get_record("acme", "item", "r1")
    assert got is not None and got["data"]["city"] == "acme"
    assert set(await db.get_records("globex", "item", ["r1", "r2"])) == {"r1"}
    assert await db.existing_ids("acme", "item", ["r1", "r2"]) == {"r1"}
    page = await db.query_records(
        "acme", ITEM, Condition("rank", "eq", 1), [OrderBy("name")], 10, None
    )
    assert [r["data"]["city"] for r in page.rows] == ["acme"]
    assert await db.count_records("globex", ITEM, None) == 1
    data = {"name": "n2", "amount": "1", "rank": 2, "city": "acme"}
    assert (
        await db.update_record("acme", "item", "r1", 1, data, slots_for(ITEM, data), "u", NOW) == 2
    )
    assert await db.backfill_slots("acme", ITEM) == 1
    assert await db.archive_record("acme", "item", "r1", 2, "u", NOW) == 3
    assert await db.get_record("acme", "item", "r1") is None
    assert await db.get_record("globex", "item", "r1") is not None

    with pytest.raises(UniqueViolation):
        await db.claim_unique("globex", "item", "name", "n-globex", "r9")
    await db.claim_unique("acme", "item", "name", "n-globex", "r9")  # another tenant's value
    await db.release_unique("acme", "item", "name", "n-globex", "r9")
    assert [a["action"] for a in await db.audit_for("globex", "r1")] == ["create"]

    assert {m["tenant_id"] for m in await db.pending_outbox()} == {"acme", "globex"}
    [message] = await db.pending_outbox("acme")
    [claimed] = await db.jobs.claim_outbox("acme", "w1", NOW, 60, 10, 10)
    assert claimed["id"] == message["id"]  # the claim sees only acme's message
    assert await db.jobs.finish_outbox("acme", message["id"], "w1", NOW)
    assert [m["tenant_id"] for m in await db.pending_outbox()] == ["globex"]

    with pytest.raises(UniqueViolation):
        await db.add_user("acme", "ANA@example.com", "Ana", "h", ["admin"], "en")
    assert (await db.get_user("globex", "ana@example.com") or {})["id"] == users["globex"]
    assert await db.get_user_by_id("acme", users["globex"]) is None
    principal = await db.token_principal("hash-globex", NOW)
    assert principal is not None and principal["tenant_id"] == "globex"
    assert await db.revoke_token("hash-globex", NOW) is True
    assert await db.revoke_token("hash-globex", NOW) is False
    assert await db.revoke_token("unknown", NOW) is False
    assert await db.token_principal("hash-globex", NOW) is None
    assert await db.token_principal("hash-acme", NOW + timedelta(days=1)) is not None


async def test_statements_without_a_tenant_see_and_change_nothing(db: Database) -> None:
    await _two_tenants(db)
    for table in TENANT_TABLES:
        assert await _raw(db, f"SELECT * FROM {table}") == [], table
        assert await db.fetch(f"SELECT * FROM {table}") == [], table
    assert await _raw(db, "UPDATE record SET version = 99 RETURNING id") == []
    assert await _raw(db, "DELETE FROM audit RETURNING id") == []
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="row-level security"):
        await _raw(db, "INSERT INTO unique_value VALUES ('acme', 'item', 'name', 'x', 'r1')")
    async with db.tenant_scope("acme"):
        assert len(await db.fetch("SELECT * FROM audit")) == 1
        assert (await db.fetch("SELECT version FROM record"))[0]["version"] == 1


async def test_a_row_of_another_tenant_is_refused(db: Database) -> None:
    await _two_tenants(db)
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="row-level security"):
        async with db.tenant_scope("acme"):
            await db.execute(
                "INSERT INTO audit (tenant_id, id, record_id, entity, action, actor, at, diff) "
                "VALUES ('globex', 'a1', 'r1', 'item', 'create', 'u', now(), {})",
                "{}",
            )
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="row-level security"):
        async with db.tenant_scope("acme"):
            await db.execute("UPDATE record SET tenant_id = 'globex' WHERE id = 'r1'")
    async with db.tenant_scope("acme"):
        changed = await db.fetch(
            "UPDATE record SET version = 99 WHERE tenant_id = 'globex' RETURNING id"
        )
        assert changed == []
    assert [a["id"] for a in await db.audit_for("globex", "r1")] != ["a1"]
    assert (await db.get_record("globex", "item", "r1") or {})["version"] == 1
    assert (await db.get_record("acme", "item", "r1") or {})["version"] == 1


async def test_the_tenant_setting_ends_with_its_transaction(db: Database) -> None:
    await _two_tenants(db)
    for _ in range(3):
        assert await db.get_record("acme", "item", "r1") is not None
        async with db.tenant_scope("globex"):
            assert len(await db.fetch("SELECT id FROM record")) == 1
    # The pool hands the same connections out again: none of them keeps a tenant.
    for _ in range(12):
        settings = await _raw(
            db,
            "SELECT current_setting('tessera.tenant', true) AS tenant, "
            "current_setting('tessera.scope', true) AS scope",
        )
        assert settings[0]["tenant"] in ("", None) and settings[0]["scope"] in ("", None)
        assert await _raw(db, "SELECT id FROM record") == []


async def test_the_system_scope_reads_only_and_ends_with_its_method(db: Database) -> None:
    await _two_tenants(db)
    async with db.tenant_scope("acme"):
        assert len(await db.list_tenants()) == 2
        assert await db.token_principal("hash-globex", NOW) is not None
        # Back to the tenant's own rows after the cross-tenant read.
        assert [r["tenant_id"] for r in await db.fetch("SELECT tenant_id FROM tenant")] == ["acme"]
        assert len(await db.fetch("SELECT id FROM record")) == 1
    async with db.transaction():
        await db.execute("SELECT set_config('tessera.scope', 'system', true)")
        assert len(await db.fetch("SELECT tenant_id FROM tenant")) == 2
        assert await db.fetch("SELECT id FROM record") == []  # not a cross-tenant table
        assert await db.fetch("UPDATE tenant SET name = 'x' RETURNING tenant_id") == []
        assert await db.fetch("UPDATE api_token SET label = 'x' RETURNING label") == []


@pytest.mark.parametrize(
    ("condition", "order", "index"),
    [
        (Condition("name", "eq", "n7"), OrderBy("name"), "record_s_t1"),
        (Condition("amount", "gt", "10"), OrderBy("amount", descending=True), "record_s_n1"),
    ],
)
async def test_slot_indexes_still_serve_queries(
    db: Database, condition: Condition, order: OrderBy, index: str
) -> None:
    async with db.transaction():
        for i in range(40):
            data = {"name": f"n{i % 10}", "amount": f"{i}.25", "rank": i % 7, "city": "x"}
            await db.insert_record("acme", "item", f"r{i}", data, slots_for(ITEM, data), "u", NOW)
    async with db.transaction():
        await db.execute("SET LOCAL enable_seqscan = off")  # a handful of rows
        plan = "\n".join(await db.explain_records("acme", ITEM, condition, [order], 20))
    assert index in plan, plan


async def test_the_service_path_works_under_row_security(db: Database) -> None:
    api = Api(await make_runtime(db))
    try:
        acme = await api.tenant(acme_config("acme"))
        globex = await api.tenant(acme_config("globex"))
        created = await api.gql(
            "acme", acme, 'mutation { createPart(input: {name: "Bolt"}) { id name } }'
        )
        assert "errors" not in created, created
        listed = await api.gql("acme", acme, "{ parts { totalCount edges { node { name } } } }")
        assert listed["data"]["parts"]["totalCount"] == 1, listed
        other = await api.gql("globex", globex, "{ parts { totalCount } }")
        assert other["data"]["parts"]["totalCount"] == 0, other
        refused = await api.gql("globex", acme, "{ parts { totalCount } }")
        assert refused.get("data") is None or "errors" in refused, refused
    finally:
        await api.close()
