"""query_records and count_records agree with a Python model, on both engines."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.errors import BadRequest
from core.query import And, Condition, Filter, Op, Or, OrderBy
from core.store import Database
from tests.core.store.model import (
    BOOL_FIELDS,
    LIST_FIELDS,
    NUMBER_FIELDS,
    SORTABLE,
    TEXT_FIELDS,
    TIME_FIELDS,
    item_entity,
    matches,
    ordered,
    slots_for,
)

ITEM = item_entity()
BASE_TIME = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)

texts = st.text(alphabet="aAbB%_\\é É中", min_size=1, max_size=4)
decimals = st.decimals(min_value=-1000, max_value=1000, places=2, allow_nan=False)
small_ints = st.integers(min_value=-5, max_value=5)
dates = st.dates(min_value=date(2025, 1, 1), max_value=date(2025, 1, 20)).map(date.isoformat)
times = st.integers(min_value=0, max_value=6).map(lambda m: BASE_TIME + timedelta(minutes=m))
grades = st.sampled_from(["x", "y", "z"])
tag_lists = st.lists(st.sampled_from(["a", "b", "c"]), unique=True, max_size=3)

FIELD_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "name": texts,
    "grade": grades,
    "city": texts,
    "due": dates,
    "amount": decimals.map(str),
    "rank": small_ints,
    "active": st.booleans(),
    "qty": small_ints,
    "price": decimals.map(lambda d: {"amount": str(d), "currency": "EUR"}),
    "flag": st.booleans(),
    "tags": tag_lists,
}


@st.composite
def records(draw: st.DrawFn) -> dict[str, Any]:
    data = {}
    for key, values in FIELD_VALUES.items():
        value = draw(st.none() | values)
        if value is not None:
            data[key] = value
    return {"data": data, "at": draw(times), "actor": draw(st.sampled_from(["ann", "Bob"]))}


def operand(field: str) -> st.SearchStrategy[Any]:
    """A condition value in storage form, drawn like the stored values."""
    if field == "id":
        return st.sampled_from([f"r{i:02d}" for i in range(30)])
    if field == "created_by":
        return st.sampled_from(["ann", "Bob", "bo"])
    if field == "version":
        return st.integers(min_value=0, max_value=2)
    if field == "price":
        return decimals.map(str)
    if field == "created_at":
        return times
    return FIELD_VALUES[field]


@st.composite
def conditions(draw: st.DrawFn) -> Condition:
    field = draw(
        st.sampled_from(TEXT_FIELDS + NUMBER_FIELDS + BOOL_FIELDS + LIST_FIELDS + TIME_FIELDS)
    )
    if field in LIST_FIELDS:
        op: Op = draw(st.sampled_from(["contains", "is_null"]))
        value = draw(st.booleans() if op == "is_null" else st.sampled_from(["a", "b", "c"]))
        return Condition(field, op, value)
    ops: list[Op] = ["eq", "ne", "in", "is_null"]
    if field not in BOOL_FIELDS:
        ops += ["lt", "lte", "gt", "gte"]
    if field in TEXT_FIELDS:
        ops += ["contains", "starts_with"]
    op = draw(st.sampled_from(ops))
    if op == "is_null":
        return Condition(field, op, draw(st.booleans()))
    if op == "in":
        return Condition(field, op, draw(st.lists(operand(field), max_size=3)))
    if op in ("contains", "starts_with"):
        return Condition(field, op, draw(st.text(alphabet="aAbB%_\\éÉ", min_size=1, max_size=2)))
    return Condition(field, op, draw(operand(field)))


filters = st.recursive(
    conditions(),
    lambda inner: st.lists(inner, min_size=1, max_size=3).flatmap(
        lambda items: st.sampled_from([And(tuple(items)), Or(tuple(items))])
    ),
    max_leaves=4,
)
orders = st.lists(st.sampled_from(SORTABLE), unique=True, max_size=3).flatmap(
    lambda fields: st.tuples(*[st.booleans() for _ in fields]).map(
        lambda dirs: [OrderBy(f, d) for f, d in zip(fields, dirs, strict=True)]
    )
)


async def _insert(db: Database, tenant: str, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    stored = []
    async with db.transaction():
        for i, row in enumerate(rows):
            rid = f"r{i:02d}"
            data = row["data"]
            await db.insert_record(
                tenant, "item", rid, data, slots_for(ITEM, data), row["actor"], row["at"]
            )
            stored.append(
                {
                    "id": rid,
                    "version": 1,
                    "data": data,
                    "created_at": row["at"],
                    "created_by": row["actor"],
                }
            )
    return stored


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    rows=st.lists(records(), min_size=0, max_size=14),
    others=st.lists(records(), min_size=1, max_size=4),
    archived=st.sets(st.integers(min_value=0, max_value=13), max_size=3),
    flt=st.none() | filters,
    order=orders,
    limit=st.integers(min_value=1, max_value=5),
)
async def test_pages_match_the_model(
    db: Database,
    rows: list[dict[str, Any]],
    others: list[dict[str, Any]],
    archived: set[int],
    flt: Filter | None,
    order: list[OrderBy],
    limit: int,
) -> None:
    tenant, other = f"t-{uuid.uuid4().hex[:8]}", f"o-{uuid.uuid4().hex[:8]}"
    stored = await _insert(db, tenant, rows)
    # Same ids in another tenant, and archived rows: neither may ever show up.
    await _insert(db, other, others)
    for i in sorted(archived):
        if i < len(stored):
            assert await db.archive_record(tenant, "item", f"r{i:02d}", 1, "x", BASE_TIME) == 2
    live = [r for i, r in enumerate(stored) if i not in archived]

    expected = [
        r["id"] for r in ordered([r for r in live if flt is None or matches(r, flt)], order)
    ]

    seen: list[str] = []
    cursors: list[str] = []
    after = None
    while True:
        page = await db.query_records(tenant, ITEM, flt, order, limit, after)
        assert len(page.rows) <= limit
        assert len(page.cursors) == len(page.rows)
        seen += [r["id"] for r in page.rows]
        cursors += page.cursors
        if not page.has_next:
            break
        assert page.end_cursor == page.cursors[-1]
        after = page.end_cursor
        assert len(seen) <= len(expected), "paging does not terminate"
    assert seen == expected
    assert await db.count_records(tenant, ITEM, flt) == len(expected)
    if len(cursors) > 1:
        # Any row's cursor resumes right after that row.
        middle = len(cursors) // 2
        rest = await db.query_records(tenant, ITEM, flt, order, 100, cursors[middle])
        assert [r["id"] for r in rest.rows] == expected[middle + 1 :]


@pytest.fixture
async def items(db: Database) -> Database:
    rows = [
        {"name": "50% off", "city": "Ávila", "amount": "10.50"},
        {"name": "500 off", "city": "ávila", "amount": "9.5"},
        {"name": "a_b", "city": "MADRID", "amount": "100"},
        {"name": "axb", "city": "madrid"},
        {"name": "back\\slash"},
    ]
    async with db.transaction():
        for i, data in enumerate(rows):
            await db.insert_record(
                "acme", "item", f"i{i}", data, slots_for(ITEM, data), "u", BASE_TIME
            )
    return db


async def _ids(db: Database, flt: Filter, order: list[OrderBy] | None = None) -> list[str]:
    page = await db.query_records("acme", ITEM, flt, order or [], 50, None)
    return [r["id"] for r in page.rows]


async def test_like_wildcards_in_values_are_literal(items: Database) -> None:
    assert await _ids(items, Condition("name", "contains", "%")) == ["i0"]
    assert await _ids(items, Condition("name", "contains", "_")) == ["i2"]
    assert await _ids(items, Condition("name", "starts_with", "back\\")) == ["i4"]


async def test_text_search_ignores_ascii_case(items: Database) -> None:
    assert await _ids(items, Condition("city", "contains", "drid")) == ["i2", "i3"]
    assert await _ids(items, Condition("city", "starts_with", "mad")) == ["i2", "i3"]


async def test_decimals_compare_as_numbers_not_text(items: Database) -> None:
    flt = Condition("amount", "gt", "9.6")
    assert await _ids(items, flt, [OrderBy("amount")]) == ["i0", "i2"]
    assert await _ids(items, Condition("amount", "eq", "10.5")) == ["i0"]


@pytest.mark.parametrize(
    "flt",
    [
        Condition("nope", "eq", "x"),
        Condition("name'; DROP TABLE record; --", "eq", "x"),
        Condition("tags", "eq", "a"),
        Condition("amount", "contains", "1"),
        Condition("amount", "eq", "twelve"),
        Condition("name", "in", "abc"),
        Condition("name", "is_null", "yes"),
    ],
)
async def test_bad_filters_are_refused(items: Database, flt: Filter) -> None:
    with pytest.raises(BadRequest):
        await items.query_records("acme", ITEM, flt, [], 10, None)


async def test_sorting_by_a_list_or_unknown_field_is_refused(items: Database) -> None:
    for field in ("tags", "nope"):
        with pytest.raises(BadRequest):
            await items.query_records("acme", ITEM, None, [OrderBy(field)], 10, None)


async def test_a_cursor_from_another_order_is_refused(items: Database) -> None:
    page = await items.query_records("acme", ITEM, None, [OrderBy("name")], 1, None)
    assert page.end_cursor is not None
    for cursor in (page.end_cursor, "not-a-cursor", ""):
        if not cursor:
            continue
        with pytest.raises(BadRequest):
            await items.query_records("acme", ITEM, None, [OrderBy("amount")], 1, cursor)


async def test_rows_carry_data_and_aware_times(items: Database) -> None:
    page = await items.query_records("acme", ITEM, Condition("id", "eq", "i0"), [], 5, None)
    (row,) = page.rows
    assert row["data"]["amount"] == "10.50"
    assert row["created_at"] == BASE_TIME and row["created_at"].tzinfo is not None
    assert row["version"] == 1 and not page.has_next
    assert Decimal(row["data"]["amount"]) == Decimal("10.5")


async def test_case_folding_is_ascii_only_on_both_engines(items: Database) -> None:
    # "Ávila" and "ávila" differ outside ASCII, so each matches only its own spelling.
    assert await _ids(items, Condition("city", "contains", "á")) == ["i1"]
    assert await _ids(items, Condition("city", "contains", "VILA")) == ["i0", "i1"]
