"""A filter plus sort on an indexed field is served by its slot index."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from core.query import Condition, OrderBy
from core.store import Database
from tests.core.store.model import item_entity, slots_for

ITEM = item_entity()
NOW = datetime(2026, 3, 1, tzinfo=UTC)


async def _plan(db: Database, condition: Condition, order: OrderBy) -> str:
    async with db.transaction():
        if db.dialect == "postgresql":
            # A handful of rows: without this the planner rightly prefers a scan.
            await db.execute("SET LOCAL enable_seqscan = off")
        lines = await db.explain_records("acme", ITEM, condition, [order], 20)
    return "\n".join(lines)


@pytest.mark.parametrize(
    ("condition", "order", "index"),
    [
        (Condition("name", "eq", "n7"), OrderBy("name"), "record_s_t1"),
        (Condition("amount", "gt", "10"), OrderBy("amount", descending=True), "record_s_n1"),
        (Condition("rank", "lte", 3), OrderBy("rank"), "record_s_n2"),
    ],
)
async def test_slot_index_serves_filter_and_sort(
    db: Database, condition: Condition, order: OrderBy, index: str
) -> None:
    assert ITEM.fields["name"].slot == "s_t1" and ITEM.fields["amount"].slot == "s_n1"
    async with db.transaction():
        for i in range(40):
            data = {"name": f"n{i % 10}", "amount": f"{i}.25", "rank": i % 7, "city": "x"}
            await db.insert_record("acme", "item", f"r{i}", data, slots_for(ITEM, data), "u", NOW)
    plan = await _plan(db, condition, order)
    assert index in plan, plan
