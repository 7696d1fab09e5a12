"""The duplicate check's key lookup is served by a slot index, never by a scan of records."""

from __future__ import annotations

from datetime import UTC, datetime

from core.metadata import build_tenant_model
from core.query import And, Condition
from core.store import Database
from core.testing import plugin_host
from core.values import slot_value

NOW = datetime(2026, 3, 1, tzinfo=UTC)


async def test_key_lookup_uses_the_key_index(db: Database) -> None:
    model = build_tenant_model(
        {"tenant": "acme", "plugins": ["sales"]}, plugin_host().contributions()
    )
    entity = model.entities["match_key"]
    key_slot = entity.fields["key"].slot
    async with db.transaction():
        for i in range(60):
            data = {"target": "account", "record": f"r{i}", "key": f"s:name{i % 20}"}
            slots = {f.slot: slot_value(f, data.get(k)) for k, f in entity.fields.items() if f.slot}
            await db.insert_record("acme", "match_key", f"k{i}", data, slots, "u", NOW)
    flt = And((Condition("target", "eq", "account"), Condition("key", "eq", "s:name7")))
    async with db.transaction():
        if db.dialect == "postgresql":
            await db.execute("SET LOCAL enable_seqscan = off")  # a few rows: scans are cheaper
        plan = "\n".join(await db.explain_records("acme", entity, flt, [], 50))
    # The key's own index: the lookup reads the rows of one key, not every account's keys.
    assert f"record_{key_slot}" in plan, plan
    page = await db.query_records("acme", entity, flt, [], 50, None)
    assert sorted(r["data"]["record"] for r in page.rows) == ["r27", "r47", "r7"]
