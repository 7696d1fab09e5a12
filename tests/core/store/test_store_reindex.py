"""Re-indexing slot columns after a config change, batch by batch, on both engines (P6).

The entity ``item`` of ``tests/core/store/model.py`` (model A) gets a new
config (model B) that indexes ``city`` in front of ``grade`` (so ``grade``
moves from ``s_t2`` to ``s_t3``), indexes ``due`` and ``price``, and stops
indexing ``rank`` (so ``active`` moves from ``s_n3`` to ``s_n2``): five slot
columns change, two do not.
"""

from __future__ import annotations

import copy
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.metadata import EntityDef, build_tenant_model
from core.query import Condition, Filter, OrderBy
from core.reindex import Backfill
from core.store import Database
from core.store.reindex import (
    SLOT_COLUMNS,
    Reindex,
    SlotTarget,
    Superseded,
    changed_slots,
    slot_targets,
)
from core.values import from_storage, slot_value
from tests.core.store.model import ITEM_CONFIG, matches, ordered

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _model_b_config() -> dict[str, Any]:
    doc = copy.deepcopy(ITEM_CONFIG)
    fields = doc["entities"]["item"]["fields"]
    fields["city"]["indexed"] = True
    fields["due"]["indexed"] = True
    fields["price"]["indexed"] = True
    fields["rank"]["indexed"] = False
    # city before grade: grade's slot shifts
    order = ["name", "city", "grade", "due", "amount", "rank", "active", "qty", "price", "flag"]
    doc["entities"]["item"]["fields"] = {k: fields[k] for k in [*order, "tags"]}
    return doc


ITEM_A: EntityDef = build_tenant_model(ITEM_CONFIG, {}).entities["item"]
ITEM_B: EntityDef = build_tenant_model(_model_b_config(), {}).entities["item"]
CHANGES = changed_slots(ITEM_A, ITEM_B)


async def _no_sleep(_seconds: float) -> None:
    return None


def runner(db: Database, **kwargs: Any) -> Backfill:
    kwargs.setdefault("pause", 0.0)
    kwargs.setdefault("sleep", _no_sleep)  # SQLite's 0.1 s minimum rest, skipped
    return Backfill(db, **kwargs)


def slots_of(entity: EntityDef, data: dict[str, Any]) -> dict[str, Any]:
    """What the service writes for ``data`` (storage form) under ``entity``'s model."""
    return {
        f.slot: slot_value(f, from_storage(f, data.get(key)))
        for key, f in entity.fields.items()
        if f.slot is not None
    }


def _normal(slot: str, value: Any) -> Any:
    if value is None or slot.startswith("s_t"):
        return value
    return Decimal(str(value))


async def stored_slots(db: Database, tenant: str) -> dict[str, dict[str, Any]]:
    async with db.tenant_scope(tenant):
        rows = await db.fetch(
            f"SELECT id, {', '.join(SLOT_COLUMNS)} FROM record WHERE tenant_id = {{}}", tenant
        )
    return {r["id"]: {s: _normal(s, r[s]) for s in SLOT_COLUMNS} for r in rows}


async def stored_data(db: Database, tenant: str) -> dict[str, dict[str, Any]]:
    async with db.tenant_scope(tenant):
        rows = await db.fetch("SELECT id, data FROM record WHERE tenant_id = {}", tenant)
    from core.store.values import load_json

    return {r["id"]: load_json(r["data"]) for r in rows}


def expected_slots(entity: EntityDef, data: dict[str, Any]) -> dict[str, Any]:
    wanted = dict.fromkeys(SLOT_COLUMNS)
    wanted.update({s: _normal(s, v) for s, v in slots_of(entity, data).items()})
    return wanted


def sample(i: int) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": f"n{i % 5}",
        "grade": "xyz"[i % 3],
        "city": ["Madrid", "Manila", "Shenzhen", "ávila"][i % 4],
        "due": date(2025, 1, 1 + i % 9).isoformat(),
        "amount": f"{i * 7 % 50}.25",
        "rank": i % 4,
        "active": i % 2 == 0,
        "price": {"amount": f"{(i * 13) % 40}.50", "currency": "EUR"},
        "tags": ["a"],
    }
    if i % 6 == 5:
        for key in ("city", "due", "price", "active"):
            del data[key]  # missing values sort last and match is_null
    return data


async def insert(db: Database, tenant: str, count: int, entity: EntityDef = ITEM_A) -> None:
    async with db.transaction():
        for i in range(count):
            data = sample(i)
            await db.insert_record(
                tenant, "item", f"r{i:03d}", data, slots_of(entity, data), "u", NOW
            )


async def schedule(db: Database, tenant: str, changes: Any = None, version: int = 2) -> Reindex:
    task = await db.reindex.schedule(
        tenant, "item", CHANGES if changes is None else changes, version, 0, datetime.now(UTC)
    )
    assert task is not None
    await db.reindex.load_pending(tenant)  # what apply_config does after its commit
    return task


CASES: list[tuple[Filter | None, list[OrderBy]]] = [
    (Condition("city", "eq", "Manila"), [OrderBy("name")]),
    (None, [OrderBy("city", descending=True)]),
    (Condition("grade", "in", ["x", "z"]), [OrderBy("grade"), OrderBy("due")]),
    (Condition("due", "gte", "2025-01-04"), [OrderBy("due", descending=True)]),
    (Condition("active", "eq", True), [OrderBy("price")]),
    (Condition("price", "gt", "10"), [OrderBy("active"), OrderBy("city")]),
    (Condition("city", "is_null", True), []),
    (Condition("city", "starts_with", "M"), [OrderBy("price", descending=True)]),
]


async def check_queries(db: Database, tenant: str) -> None:
    """Every case pages through the same ids as the Python model of the data."""
    rows = [{"id": rid, "data": data} for rid, data in (await stored_data(db, tenant)).items()]
    for flt, order in CASES:
        expected = [
            r["id"] for r in ordered([r for r in rows if flt is None or matches(r, flt)], order)
        ]
        seen: list[str] = []
        after = None
        while True:
            page = await db.query_records(tenant, ITEM_B, flt, order, 7, after)
            seen += [r["id"] for r in page.rows]
            if not page.has_next:
                break
            after = page.end_cursor
        assert seen == expected, (flt, order)
        assert await db.count_records(tenant, ITEM_B, flt) == len(expected)


async def plan(db: Database, tenant: str, flt: Filter, order: OrderBy) -> str:
    async with db.transaction():
        if db.dialect == "postgresql":
            await db.execute("SET LOCAL enable_seqscan = off")
        return "\n".join(await db.explain_records(tenant, ITEM_B, flt, [order], 20))


def test_only_the_slots_whose_content_changes_are_rewritten() -> None:
    assert {f.key: f.slot for f in ITEM_B.fields.values() if f.slot} == {
        "name": "s_t1",
        "city": "s_t2",
        "grade": "s_t3",
        "due": "s_t4",
        "amount": "s_n1",
        "active": "s_n2",
        "price": "s_n3",
    }
    assert CHANGES == {
        "s_t2": SlotTarget("city", "text"),
        "s_t3": SlotTarget("grade", "enum"),
        "s_t4": SlotTarget("due", "date"),
        "s_n2": SlotTarget("active", "boolean"),
        "s_n3": SlotTarget("price", "money"),
    }
    assert changed_slots(ITEM_A, ITEM_A) == {}
    # Back again: the same five slots, with A's content (s_t4 cleared).
    back = changed_slots(ITEM_B, ITEM_A)
    assert set(back) == set(CHANGES) and back["s_t4"] is None
    # An entity new to the model: nothing is known of its columns.
    assert changed_slots(None, ITEM_A) == slot_targets(ITEM_A)


async def test_queries_are_right_while_pending_and_use_the_slot_index_after(
    db: Database,
) -> None:
    await insert(db, "acme", 40)
    task = await schedule(db, "acme")
    assert task.slots == frozenset(CHANGES) and task.last_id == ""
    assert await db.reindex.pending_slots("acme", "item") == frozenset(CHANGES)
    await check_queries(db, "acme")  # slots still hold model A's values
    pending_plan = await plan(db, "acme", Condition("city", "eq", "Manila"), OrderBy("city"))
    assert "record_s_t2" not in pending_plan

    report = await runner(db, batch=7).run("acme")
    assert report.finished == ["item"] and report.pending == []
    assert report.rows_checked == 40 and report.rows_changed == 40
    assert await db.reindex.pending_slots("acme", "item") == frozenset()
    data = await stored_data(db, "acme")
    assert await stored_slots(db, "acme") == {
        rid: expected_slots(ITEM_B, d) for rid, d in data.items()
    }
    await check_queries(db, "acme")
    for flt, order, index in [
        (Condition("city", "eq", "Manila"), OrderBy("city"), "record_s_t2"),
        (Condition("due", "gte", "2025-01-04"), OrderBy("due"), "record_s_t4"),
        (Condition("price", "gt", "10"), OrderBy("price", descending=True), "record_s_n3"),
    ]:
        assert index in await plan(db, "acme", flt, order)
    (done,) = await db.reindex.history("acme")
    assert done.finished_at is not None and done.rows_done == 40 and done.leased_by is None


async def test_rows_already_right_are_not_rewritten(db: Database) -> None:
    await insert(db, "acme", 12, entity=ITEM_B)  # written by servers already on model B
    await schedule(db, "acme")
    report = await runner(db, batch=5).run("acme")
    assert (report.rows_checked, report.rows_changed) == (12, 0)


async def test_an_interrupted_backfill_resumes_where_it_stopped(db: Database) -> None:
    await insert(db, "acme", 23)
    task = await schedule(db, "acme")
    store = db.reindex
    now = datetime.now(UTC)
    claimed = await store.claim("acme", task.id, "first", now, 30)
    assert claimed is not None
    claimed = await store.walk_batch(claimed, "first", 5, now, 30)
    claimed = await store.walk_batch(claimed, "first", 5, now, 30)
    assert (claimed.last_id, claimed.rows_done) == ("r009", 10)
    # "first" dies here, its lease held for 30 s: nobody else walks meanwhile.
    blocked = await runner(db, owner="second").run("acme")
    assert blocked.pending == ["item"] and blocked.rows_checked == 0
    assert (await store.get("acme", task.id)).rows_done == 10  # type: ignore[union-attr]
    # Once the lease ran out, another process takes over from r009.
    later = runner(
        db, owner="second", batch=5, clock=lambda: datetime.now(UTC) + timedelta(minutes=1)
    )
    report = await later.run("acme")
    assert report.finished == ["item"] and report.rows_checked == 13
    (done,) = await store.history("acme")
    assert done.rows_done == 23 and done.rows_changed == 23
    data = await stored_data(db, "acme")
    assert await stored_slots(db, "acme") == {
        rid: expected_slots(ITEM_B, d) for rid, d in data.items()
    }


async def test_a_batch_that_fails_writes_nothing(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    await insert(db, "acme", 6)
    task = await schedule(db, "acme")
    before = await stored_slots(db, "acme")
    store = db.reindex
    claimed = await store.claim("acme", task.id, "me", datetime.now(UTC), 30)
    assert claimed is not None

    async def crash(*_args: Any) -> int:
        await db.execute("SELECT 1")  # inside the batch transaction, then the process "dies"
        raise RuntimeError("killed")

    real = store._rewrite_range
    monkeypatch.setattr(store, "_rewrite_range", crash)
    with pytest.raises(RuntimeError):
        await store.walk_batch(claimed, "me", 4, datetime.now(UTC), 30)
    monkeypatch.setattr(store, "_rewrite_range", real)
    assert await stored_slots(db, "acme") == before
    assert (await store.get("acme", task.id)).last_id == ""  # type: ignore[union-attr]
    report = await runner(db, owner="me", batch=4).run("acme")
    assert report.finished == ["item"]


async def test_writes_during_the_backfill_stay_right(db: Database) -> None:
    await insert(db, "acme", 20)
    task = await schedule(db, "acme")
    store = db.reindex
    now = datetime.now(UTC)
    claimed = await store.claim("acme", task.id, "me", now, 30)
    assert claimed is not None
    claimed = await store.walk_batch(claimed, "me", 8, now, 30)  # r000..r007 done
    # Writes on model B: one behind the position, one ahead, one new record.
    for rid in ("r003", "r015"):
        data = {**sample(99), "name": f"changed {rid}"}
        version = await db.update_record(
            "acme", "item", rid, 1, data, slots_of(ITEM_B, data), "u", datetime.now(UTC)
        )
        assert version == 2
    await db.insert_record(
        "acme", "item", "r050", sample(50), slots_of(ITEM_B, sample(50)), "u", datetime.now(UTC)
    )
    # A server still on model A writes after the apply: the final recheck fixes it.
    stale = {**sample(7), "city": "stale"}
    await db.update_record(
        "acme", "item", "r001", 1, stale, slots_of(ITEM_A, stale), "u", datetime.now(UTC)
    )
    await check_queries(db, "acme")
    await store.release("acme", task.id, "me")
    report = await runner(db, batch=8).run("acme")
    assert report.finished == ["item"]
    data = await stored_data(db, "acme")
    assert await stored_slots(db, "acme") == {
        rid: expected_slots(ITEM_B, d) for rid, d in data.items()
    }
    await check_queries(db, "acme")


async def test_a_second_apply_widens_and_restarts_the_running_reindex(db: Database) -> None:
    await insert(db, "acme", 15)
    task = await schedule(db, "acme")
    store = db.reindex
    now = datetime.now(UTC)
    claimed = await store.claim("acme", task.id, "me", now, 30)
    assert claimed is not None
    claimed = await store.walk_batch(claimed, "me", 6, now, 30)
    # Model C: city stops being indexed again (s_t2 goes back to grade, s_t3 ... shift).
    doc_c = _model_b_config()
    doc_c["entities"]["item"]["fields"]["city"]["indexed"] = False
    item_c = build_tenant_model(doc_c, {}).entities["item"]
    again = changed_slots(ITEM_B, item_c)
    assert set(again) >= {"s_t2", "s_t3"}
    widened = await schedule(db, "acme", again, version=3)
    assert widened.id == task.id and widened.config_version == 3
    assert widened.last_id == "" and widened.rows_done == 0
    assert widened.slots == frozenset(CHANGES) | frozenset(again)
    # The runner that was walking notices and follows the new targets.
    with pytest.raises(Superseded):
        await store.walk_batch(claimed, "me", 6, now, 30)
    report = await runner(db, owner="me", batch=6).run("acme")
    assert report.finished == ["item"]
    data = await stored_data(db, "acme")
    assert await stored_slots(db, "acme") == {
        rid: expected_slots(item_c, d) for rid, d in data.items()
    }
    # An apply that changes no slot leaves a running re-index alone.
    other = await schedule(db, "acme", {"s_t5": SlotTarget("city", "text")}, version=4)
    assert await db.reindex.schedule("acme", "item", {}, 5, 0, now) == other


async def test_the_lease_keeps_a_second_runner_off(db: Database) -> None:
    await insert(db, "acme", 5)
    task = await schedule(db, "acme")
    assert await db.reindex.claim("acme", task.id, "one", datetime.now(UTC), 30) is not None
    assert await db.reindex.claim("acme", task.id, "two", datetime.now(UTC), 30) is None
    await db.reindex.release("acme", task.id, "one")
    assert await db.reindex.claim("acme", task.id, "two", datetime.now(UTC), 30) is not None


async def test_rewrite_all_ignores_bookkeeping_and_fixes_every_slot(db: Database) -> None:
    await insert(db, "acme", 9)
    assert await db.backfill_slots("acme", ITEM_B) == 9
    data = await stored_data(db, "acme")
    assert await stored_slots(db, "acme") == {
        rid: expected_slots(ITEM_B, d) for rid, d in data.items()
    }


# -- any interleaving of batches and writes ends with the right slots ------------------

values = st.fixed_dictionaries(
    {},
    optional={
        "name": st.text(alphabet="abé中", min_size=1, max_size=3),
        "grade": st.sampled_from(["x", "y", "z"]),
        "city": st.text(alphabet="aAé", min_size=1, max_size=3),
        "due": st.dates(min_value=date(2025, 1, 1), max_value=date(2025, 3, 1)).map(date.isoformat),
        "amount": st.decimals(min_value=-99, max_value=99, places=2).map(str),
        "rank": st.integers(min_value=-3, max_value=3),
        "active": st.booleans(),
        "price": st.decimals(min_value=0, max_value=99, places=2).map(
            lambda d: {"amount": str(d), "currency": "EUR"}
        ),
    },
)
steps = st.lists(
    st.one_of(
        st.tuples(st.just("batch"), st.integers(min_value=1, max_value=4)),
        st.tuples(st.just("update"), st.integers(min_value=0, max_value=11), values),
        st.tuples(st.just("stale"), st.integers(min_value=0, max_value=11), values),
        st.tuples(st.just("insert"), st.integers(min_value=12, max_value=40), values),
        st.tuples(st.just("archive"), st.integers(min_value=0, max_value=11)),
    ),
    max_size=14,
)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(first=st.lists(values, min_size=0, max_size=12), plan=steps)
async def test_any_interleaving_ends_with_every_slot_equal_to_its_field(
    db: Database, first: list[dict[str, Any]], plan: list[tuple[Any, ...]]
) -> None:
    tenant = f"p-{uuid.uuid4().hex[:8]}"
    versions: dict[str, int] = {}
    async with db.transaction():
        for i, data in enumerate(first):
            await db.insert_record(
                tenant, "item", f"r{i:02d}", data, slots_of(ITEM_A, data), "u", NOW
            )
            versions[f"r{i:02d}"] = 1
    task = await schedule(db, tenant)
    store = db.reindex
    claimed = await store.claim(tenant, task.id, "me", datetime.now(UTC), 30)
    assert claimed is not None
    for step in plan:
        kind, n = step[0], step[1]
        rid = f"r{n:02d}"
        now = datetime.now(UTC)
        if kind == "batch":
            if claimed.scanned_at is None:
                claimed = await store.walk_batch(claimed, "me", n, now, 30)
        elif kind in ("update", "stale") and rid in versions:
            model = ITEM_B if kind == "update" else ITEM_A  # "stale": a server on model A
            data = step[2]
            got = await db.update_record(
                tenant, "item", rid, versions[rid], data, slots_of(model, data), "u", now
            )
            if got is not None:
                versions[rid] = got
        elif kind == "insert" and rid not in versions:
            await db.insert_record(
                tenant, "item", rid, step[2], slots_of(ITEM_B, step[2]), "u", now
            )
            versions[rid] = 1
        elif kind == "archive" and rid in versions:
            got = await db.archive_record(tenant, "item", rid, versions[rid], "u", now)
            if got is not None:
                versions[rid] = got
    await store.release(tenant, task.id, "me")
    report = await runner(db, batch=3).run(tenant)
    assert report.pending == []
    data = await stored_data(db, tenant)
    assert await stored_slots(db, tenant) == {
        rid: expected_slots(ITEM_B, d) for rid, d in data.items()
    }


def test_the_pace_settings_are_checked() -> None:
    from core.reindex import DEFAULT_PAUSE, default_batch, default_pause

    assert default_batch({}) is None and default_batch({"TESSERA_REINDEX_BATCH": "500"}) == 500
    assert default_pause({}) == DEFAULT_PAUSE and default_pause({"TESSERA_REINDEX_PAUSE": "0"}) == 0
    for env in ({"TESSERA_REINDEX_BATCH": "0"}, {"TESSERA_REINDEX_BATCH": "lots"}):
        with pytest.raises(ValueError):
            default_batch(env)
    for env in ({"TESSERA_REINDEX_PAUSE": "-1"}, {"TESSERA_REINDEX_PAUSE": "nan"}):
        with pytest.raises(ValueError):
            default_pause(env)


async def test_a_batch_is_sized_to_its_time_and_followed_by_a_rest(db: Database) -> None:
    """Adaptive batches grow while fast (here: a clock that says each took 10 ms)."""
    await insert(db, "acme", 60)
    await schedule(db, "acme")
    rests: list[float] = []
    ticks = iter(x * 0.01 for x in range(10**6))

    async def rest(seconds: float) -> None:
        rests.append(seconds)

    run = Backfill(db, pause=2.0, hold=0.1, sleep=rest, monotonic=lambda: next(ticks))
    run.batch = 4
    await run.run("acme")
    assert run.batch > 4  # fast batches grew (at most doubling each time)
    minimum = 0.1 if db.dialect == "sqlite" else 0.0
    assert rests and all(r >= minimum for r in rests)
    assert run.pause(0.3) == pytest.approx(0.6) and run.pause(0.01) == max(minimum, 0.02)


async def test_queries_reading_the_document_skip_the_shared_sqlite_reader(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A scan (an unindexed or pending field) must not hold up the process's other reads."""
    from core.store.querying import reads_document

    await insert(db, "acme", 5)
    shared: list[str] = []
    read = db._sqlite_read

    async def counted(query: Any) -> Any:
        shared.append(str(query))
        return await read(query)

    monkeypatch.setattr(db, "_sqlite_read", counted)
    city, name = Condition("city", "eq", "Madrid"), Condition("name", "eq", "n1")
    assert reads_document(ITEM_A, city) and not reads_document(ITEM_A, name)
    assert reads_document(ITEM_A, None, [OrderBy("city")])
    assert reads_document(ITEM_B, name, [], frozenset({"s_t1"}))  # pending: from the document
    assert len((await db.query_records("acme", ITEM_A, city, [], 10, None)).rows) == 2
    assert await db.count_records("acme", ITEM_A, city) == 2
    scans = [q for q in shared if "record" in q]
    assert scans == []
    await db.query_records("acme", ITEM_A, name, [OrderBy("name")], 10, None)
    quick = [q for q in shared if "FROM record" in q]
    assert len(quick) == (1 if db.dialect == "sqlite" else 0)
