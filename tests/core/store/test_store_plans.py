"""A filter plus sort on an indexed field is served by its slot index."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from core.query import And, Condition, OrderBy, Page
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


async def _items(db: Database, count: int, grade: Callable[[int], str]) -> None:
    async with db.transaction():
        for i in range(count):
            data = {"name": f"n{i:04}", "grade": grade(i), "active": i % 2 == 0}
            await db.insert_record(
                "acme", "item", f"r{i:04}", data, slots_for(ITEM, data), "u", NOW
            )
        if db.dialect == "sqlite":
            await db.execute("ANALYZE")


def _names(page: Page) -> list[str]:
    return [row["data"]["name"] for row in page.rows]


async def _all_pages(db: Database, condition: Condition, order: OrderBy, size: int) -> list[str]:
    names: list[str] = []
    after = None
    while True:
        page = await db.query_records("acme", ITEM, condition, [order], size, after)
        names += _names(page)
        if not page.has_next:
            return names
        after = page.end_cursor


@pytest.mark.parametrize(
    ("every", "size"),
    [
        (3, 20),  # a third of the rows: the first short walk finds the page
        (40, 5),  # one in 40: the longer walk finds it
        (500, 2),  # one in 500: too rare for a walk, the planner's plan serves it
        (10**9, 10),  # row 0 alone: the planner's plan again
    ],
)
async def test_pages_on_a_few_valued_field_in_another_order_are_exact(
    db: Database, every: int, size: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite walks the sort index a bounded way first (``walk_sort_index_first``), then
    falls back; every page, and the pages' concatenation, is what the predicate and the
    order give, on both engines."""
    walks: list[bool] = []  # SQLite: whether each walk found its page
    walk = Database._walked_page

    async def spy(self: Database, *args: Any) -> Any:
        rows = await walk(self, *args)
        walks.append(rows is not None)
        return rows

    monkeypatch.setattr(Database, "_walked_page", spy)
    await _items(db, 1200, lambda i: "x" if i % every == 0 else "y")
    for order in (OrderBy("name"), OrderBy("name", descending=True), OrderBy("created_at")):
        want = [f"n{i:04}" for i in range(1200) if i % every == 0]
        if order.descending:
            want.reverse()
        got = await _all_pages(db, Condition("grade", "eq", "x"), order, size)
        assert got == want if order.field == "name" else sorted(got) == sorted(want)
    both = await _all_pages(
        db,
        And((Condition("grade", "in", ["x"]), Condition("active", "eq", True))),
        OrderBy("name"),
        size,
    )
    assert both == [f"n{i:04}" for i in range(1200) if i % every == 0 and i % 2 == 0]
    if db.dialect == "sqlite":
        assert walks and all(walks) == (every < 500), walks
    else:
        assert not walks
