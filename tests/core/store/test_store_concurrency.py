"""Concurrent writers: compare-and-set updates, unique claims, config versions."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime

import pytest

from core.store import Database, UniqueViolation

NOW = datetime(2026, 3, 1, tzinfo=UTC)


async def test_same_expected_version_lets_exactly_one_update_win(db: Database) -> None:
    await db.insert_record("acme", "deal", "d1", {"stage": "new"}, {}, "u", NOW)

    async def update(stage: str) -> int | None:
        async with db.transaction():
            version = await db.update_record(
                "acme", "deal", "d1", 1, {"stage": stage}, {}, stage, NOW
            )
            await asyncio.sleep(0.05)  # hold the transaction so the other overlaps
            return version

    results = await asyncio.gather(update("won"), update("lost"))
    assert sorted(results, key=lambda v: v or 0) == [None, 2]
    row = await db.get_record("acme", "deal", "d1")
    assert row is not None and row["version"] == 2
    winner = "won" if results[0] == 2 else "lost"
    assert row["data"] == {"stage": winner} and row["updated_by"] == winner


async def test_concurrent_claims_of_one_value_have_one_winner(db: Database) -> None:
    async def claim(record_id: str) -> str:
        try:
            async with db.transaction():
                await db.claim_unique("acme", "account", "tax_id", "b123", record_id)
                await asyncio.sleep(0.05)
        except UniqueViolation as exc:
            assert (exc.entity, exc.field, exc.value) == ("account", "tax_id", "b123")
            return "lost"
        return "won"

    results = await asyncio.gather(*(claim(f"a{i}") for i in range(3)))
    assert sorted(results) == ["lost", "lost", "won"]


async def test_concurrent_config_applies_get_distinct_versions(db: Database) -> None:
    versions = await asyncio.gather(
        *(db.save_config("acme", "Acme", {"n": i}, f"k{i}", "cli") for i in range(3))
    )
    assert sorted(versions) == [1, 2, 3]
    current = await db.current_config("acme")
    assert current is not None and current["version"] == 3


@pytest.mark.parametrize("rollback", [True, False])
async def test_a_failed_transaction_leaves_nothing(db: Database, rollback: bool) -> None:
    with pytest.raises(RuntimeError) if rollback else contextlib.nullcontext():
        async with db.transaction():
            await db.insert_record("acme", "deal", "d9", {}, {}, "u", NOW)
            async with db.transaction():  # nested: the same transaction
                await db.claim_unique("acme", "deal", "code", "x", "d9")
            if rollback:
                raise RuntimeError("plugin refused")
    assert (await db.get_record("acme", "deal", "d9") is None) is rollback
    async with db.tenant_scope("acme"):
        claimed = await db.fetch("SELECT record_id FROM unique_value WHERE tenant_id = {}", "acme")
    assert (claimed == []) is rollback
