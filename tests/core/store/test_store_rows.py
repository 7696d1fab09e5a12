"""Records, configs, unique values, audit, outbox, users and tokens on both engines."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from core.query import Condition
from core.store import Database, UniqueViolation
from tests.core.store.model import item_entity, slots_for

NOW = datetime(2026, 3, 1, 12, 30, 15, 123456, tzinfo=UTC)
ITEM = item_entity()


async def test_configs_are_versioned_and_the_latest_is_current(db: Database) -> None:
    assert await db.current_config("acme") is None
    assert await db.save_config("acme", "Acme", {"v": 1, "名": "一"}, "k1", "ann") == 1
    assert await db.save_config("acme", "Acme Ltd", {"v": 2}, "k2", "bob") == 2
    current = await db.current_config("acme")
    assert current is not None
    assert (current["version"], current["config"], current["version_key"]) == (2, {"v": 2}, "k2")
    assert current["applied_at"].tzinfo is not None
    history = await db.config_history("acme")
    assert [(h["version"], h["applied_by"]) for h in history] == [(1, "ann"), (2, "bob")]
    assert history[0]["config"] == {"v": 1, "名": "一"}
    assert await db.list_tenants() == [
        {"tenant_id": "acme", "name": "Acme Ltd", "config_version": 2}
    ]


async def test_record_life_cycle(db: Database) -> None:
    data = {"name": "Ana", "amount": "12.50", "price": {"amount": "3.10", "currency": "CNY"}}
    east = NOW.astimezone(timezone(timedelta(hours=8)))
    await db.insert_record("acme", "item", "r1", data, slots_for(ITEM, data), "ann", east)
    row = await db.get_record("acme", "item", "r1")
    assert row is not None
    assert row["data"] == data and row["version"] == 1
    assert row["created_at"] == NOW and row["created_at"].utcoffset() == timedelta(0)
    assert (row["created_by"], row["updated_by"]) == ("ann", "ann")

    later = NOW + timedelta(minutes=5)
    new = {**data, "name": "Ana María"}
    assert (
        await db.update_record("acme", "item", "r1", 1, new, slots_for(ITEM, new), "bob", later)
        == 2
    )
    assert await db.update_record("acme", "item", "r1", 1, data, {}, "bob", later) is None
    row = await db.get_record("acme", "item", "r1")
    assert row is not None and row["data"]["name"] == "Ana María"
    assert (row["updated_at"], row["updated_by"], row["created_at"]) == (later, "bob", NOW)

    # Another tenant or another entity never sees it.
    assert await db.get_record("other", "item", "r1") is None
    assert await db.get_record("acme", "thing", "r1") is None
    assert await db.existing_ids("other", "item", ["r1"]) == set()

    assert await db.archive_record("acme", "item", "r1", 1, "bob", later) is None
    assert await db.archive_record("acme", "item", "r1", 2, "bob", later) == 3
    assert await db.get_record("acme", "item", "r1") is None
    assert await db.existing_ids("acme", "item", ["r1"]) == set()
    assert await db.update_record("acme", "item", "r1", 3, data, {}, "bob", later) is None


async def test_many_ids_at_once(db: Database) -> None:
    async with db.transaction():
        for i in range(1200):
            await db.insert_record("acme", "item", f"r{i}", {"n": i}, {}, "u", NOW)
    ids = [f"r{i}" for i in range(0, 1300, 2)]
    rows = await db.get_records("acme", "item", ids)
    assert len(rows) == 600 and rows["r10"]["data"] == {"n": 10}
    assert await db.existing_ids("acme", "item", ids) == {f"r{i}" for i in range(0, 1200, 2)}
    assert await db.get_records("acme", "item", []) == {}


async def test_backfill_recomputes_slots_from_data(db: Database) -> None:
    rows: list[dict[str, Any]] = [
        {"name": "b", "grade": "x", "amount": "2.50", "rank": 3, "active": True},
        {"name": "a", "amount": "-1", "active": False},
        {"city": "only json"},
    ]
    for i, data in enumerate(rows):
        # Written before the fields were indexed: no slot values, a stale one in s_t5.
        await db.insert_record("acme", "item", f"r{i}", data, {"s_t5": "stale"}, "u", NOW)
    assert await db.backfill_slots("acme", ITEM) == 3
    async with db.tenant_scope("acme"):
        got = await db.fetch(
            "SELECT id, s_t1, s_t2, s_t5, s_n1, s_n2, s_n3 FROM record ORDER BY id"
        )
    for row, data in zip(got, rows, strict=True):
        expected = {
            **dict.fromkeys(("s_t1", "s_t2", "s_t5", "s_n1", "s_n2", "s_n3")),
            **slots_for(ITEM, data),
        }
        actual = {k: v for k, v in row.items() if k != "id"}
        assert {
            k: (Decimal(str(v)) if k.startswith("s_n") and v is not None else v)
            for k, v in actual.items()
        } == expected
    count = await db.count_records("acme", ITEM, Condition("active", "eq", True))
    assert count == 1


async def test_unique_values_are_claimed_per_tenant(db: Database) -> None:
    await db.claim_unique("acme", "account", "tax_id", "b1", "r1")
    await db.claim_unique("acme", "account", "tax_id", "b1", "r1")  # same record: no-op
    await db.claim_unique("other", "account", "tax_id", "b1", "r9")  # other tenant
    await db.claim_unique("acme", "contact", "tax_id", "b1", "r2")  # other entity
    with pytest.raises(UniqueViolation) as err:
        await db.claim_unique("acme", "account", "tax_id", "b1", "r2")
    assert err.value.code == "CONFLICT" and err.value.field == "tax_id"
    await db.release_unique("acme", "account", "tax_id", "b1", "r2")  # not the holder
    with pytest.raises(UniqueViolation):
        await db.claim_unique("acme", "account", "tax_id", "b1", "r2")
    await db.release_unique("acme", "account", "tax_id", "b1", "r1")
    await db.claim_unique("acme", "account", "tax_id", "b1", "r2")


async def test_audit_is_kept_in_order_per_tenant(db: Database) -> None:
    for action in ("create", "update", "transition", "delete"):
        # The same timestamp for all: insertion order still decides.
        await db.append_audit("acme", "deal", "d1", action, "ann", NOW, {"stage": [None, action]})
    await db.append_audit("other", "deal", "d1", "create", "eve", NOW, {})
    trail = await db.audit_for("acme", "d1")
    assert [t["action"] for t in trail] == ["create", "update", "transition", "delete"]
    assert trail[1]["diff"] == {"stage": [None, "update"]}
    assert trail[0]["at"] == NOW and trail[0]["actor"] == "ann"


async def test_outbox_is_idempotent_and_tracks_delivery(db: Database) -> None:
    payload = {"id": "d1", "amount": Decimal("1.10")}
    await db.enqueue("acme", "record.created", payload, "d1:1:create", NOW)
    await db.enqueue("acme", "record.created", payload, "d1:1:create", NOW)  # duplicate
    await db.enqueue("acme", "record.updated", {"id": "d1"}, "d1:2:update", NOW + timedelta(1))
    await db.enqueue("other", "record.created", {}, "d1:1:create", NOW)
    assert len(await db.pending_outbox()) == 3
    pending = await db.pending_outbox("acme")
    assert [m["topic"] for m in pending] == ["record.created", "record.updated"]
    first = pending[0]
    assert first["payload"] == {"id": "d1", "amount": "1.10"} and first["attempts"] == 0
    assert [m["topic"] for m in await db.pending_outbox("acme", due=NOW)] == ["record.created"]

    # Delivery itself (claims, leases, retries) is the worker's: tests/worker/test_jobs.py.
    [claimed] = await db.jobs.claim_outbox("acme", "w1", NOW, 60, 1, 10)
    assert claimed["id"] == first["id"]
    await db.jobs.retry_outbox("acme", first["id"], "w1", "timeout", NOW + timedelta(days=2))
    again = await db.pending_outbox("acme")
    assert [m["topic"] for m in again] == ["record.updated", "record.created"]
    assert again[1]["attempts"] == 1 and again[1]["last_error"] == "timeout"
    later = await db.jobs.claim_outbox("acme", "w1", NOW + timedelta(days=3), 60, 5, 10)
    assert [m["topic"] for m in later] == ["record.updated", "record.created"]


async def test_users_have_unique_lower_case_emails_per_tenant(db: Database) -> None:
    uid = await db.add_user("acme", " Ana@Example.COM ", "Ana", "h1", ["sales", "admin"], "es-ES")
    with pytest.raises(UniqueViolation):
        await db.add_user("acme", "ana@example.com", "Other", "h2", [], None)
    other = await db.add_user("other", "ana@example.com", "Ana", "h3", [], None)
    assert other != uid
    user = await db.get_user("acme", "ANA@example.com")
    assert user is not None
    assert (user["id"], user["email"], user["roles"], user["locale"]) == (
        uid,
        "ana@example.com",
        ["sales", "admin"],
        "es-ES",
    )
    assert user["active"] is True and user["created_at"].tzinfo is not None
    assert await db.get_user_by_id("acme", uid) == user
    assert await db.get_user_by_id("other", uid) is None


async def test_tokens_expire_and_revoke(db: Database) -> None:
    uid = await db.add_user("acme", "ana@example.com", "Ana", "h", ["admin"], "en")
    await db.store_token("hash-a", "acme", uid, label="cli")
    await db.store_token("hash-b", "acme", uid, expires_at=NOW + timedelta(hours=1))
    principal = await db.token_principal("hash-a", NOW)
    assert principal == {
        "tenant_id": "acme",
        "user_id": uid,
        "email": "ana@example.com",
        "name": "Ana",
        "roles": ["admin"],
        "locale": "en",
    }
    assert await db.token_principal("hash-b", NOW) is not None
    assert await db.token_principal("hash-b", NOW + timedelta(hours=2)) is None
    assert await db.token_principal("nope", NOW) is None
    assert await db.revoke_token("hash-a", NOW) is True
    assert await db.revoke_token("hash-a", NOW) is False
    assert await db.token_principal("hash-a", NOW) is None

    async with db.tenant_scope("acme"):
        await db.execute("UPDATE app_user SET active = {} WHERE id = {}", False, uid)
    assert await db.token_principal("hash-b", NOW) is None


async def test_naive_times_are_refused(db: Database) -> None:
    with pytest.raises(ValueError):
        await db.insert_record("acme", "item", "r1", {}, {}, "u", datetime(2026, 1, 1))


async def test_config_version_follows_saves(db: Database) -> None:
    assert await db.config_version("acme") is None
    await db.save_config("acme", "Acme", {"tenant": "acme"}, "k1", "cli")
    await db.save_config("acme", "Acme", {"tenant": "acme", "x": 1}, "k2", "cli")
    assert await db.config_version("acme") == 2
    assert await db.config_version("other") is None


async def test_the_audit_trail_is_append_only_in_the_database(db: Database) -> None:
    await db.append_audit("acme", "deal", "d1", "create", "ann", NOW, {"stage": [None, "new"]})
    for statement in (
        "UPDATE audit SET actor = 'mallory' WHERE tenant_id = {}",
        "DELETE FROM audit WHERE tenant_id = {}",
    ):
        with pytest.raises(Exception, match="append-only"):
            async with db.tenant_scope("acme"), db.transaction():
                await db.execute(statement, "acme")
    [entry] = await db.audit_for("acme", "d1")
    assert entry["actor"] == "ann"
