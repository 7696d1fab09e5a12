"""A config apply that re-maps index slots returns at once; the re-index follows (P6).

Through the runtime, the service, GraphQL, the CLI and the worker, on both
engines: queries are right while the re-index is pending (the JSON path) and
use the slot index after it; another process notices both; an interrupted
re-index resumes; ``crm tenant plan`` names the fields and counts the rows.
"""

from __future__ import annotations

import asyncio
import copy
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from core.cli import main
from core.context import Principal
from core.query import Condition, OrderBy
from core.reindex import Progress
from core.runtime import Runtime
from core.store import Database, open_database
from core.store.reindex import changed_slots
from tests.api_helpers import Api, acme_config, make_runtime

WEIGHTS = [None, "0.5", "2.25", "7", "2.25", "11.125", None, "3.5", "0.75", "9"]
LIST_QUERY = """query($min: Decimal!) {
  widgets(filter: {weight: {gte: $min}}, orderBy: [{field: weight, direction: DESC}], first: 50) {
    totalCount edges { node { id weight } }
  }
}"""


def weight_indexed() -> dict[str, Any]:
    doc = acme_config()
    doc["entities"]["widget"]["fields"]["weight"]["indexed"] = True
    return doc


def _widgets(rt: Runtime, *docs: dict[str, Any]) -> list[Any]:
    """The ``widget`` entity of each config, with the key order the database keeps."""
    from core.store.values import stored_order

    out = []
    for doc in docs:
        model, problems = rt.validate(stored_order(doc, rt.db.dialect))
        assert model is not None, problems
        out.append(model.entities["widget"])
    return out


async def seed(rt: Runtime, count: int = 30) -> list[str]:
    await rt.apply_config(acme_config())
    ctx = rt.context(await rt.model("acme"), Principal.system("acme"))
    ids = []
    for i in range(count):
        values: dict[str, Any] = {"title": f"w{i:02d}"}
        if WEIGHTS[i % len(WEIGHTS)] is not None:
            values["weight"] = Decimal(WEIGHTS[i % len(WEIGHTS)])  # type: ignore[arg-type]
        ids.append((await rt.service.create(ctx, "widget", values)).id)
    return ids


async def expected_by_weight(rt: Runtime, at_least: Decimal) -> list[str]:
    """Ids by weight descending (then id descending), computed in Python from the records."""
    ctx = rt.context(await rt.model("acme"), Principal.system("acme"))
    records, _ = await rt.service.list(ctx, "widget", None, [], 200, None)
    hits = [r for r in records if r.data.get("weight") is not None and r.data["weight"] >= at_least]
    hits.sort(key=lambda r: (r.data["weight"], r.id), reverse=True)
    return [r.id for r in hits]


async def listed(rt: Runtime, at_least: Decimal) -> list[str]:
    ctx = rt.context(await rt.model("acme"), Principal.system("acme"))
    records, _ = await rt.service.list(
        ctx,
        "widget",
        Condition("weight", "gte", str(at_least)),
        [OrderBy("weight", descending=True)],
        200,
        None,
    )
    return [r.id for r in records]


async def weight_slot(db: Database) -> str:
    """The slot the current model gives ``weight`` (it depends on the engine's key order)."""
    rt = await make_runtime(db)
    slot = (await rt.model("acme")).entities["widget"].fields["weight"].slot
    assert slot is not None
    return slot


async def plan_of(db: Database) -> str:
    """The engine's plan of the weight list, with sequential scans discouraged."""
    rt = await make_runtime(db)
    entity = (await rt.model("acme")).entities["widget"]
    async with db.transaction():
        if db.dialect == "postgresql":
            await db.execute("SET LOCAL enable_seqscan = off")
        lines = await db.explain_records(
            "acme", entity, Condition("weight", "gte", "1"), [OrderBy("weight")], 20
        )
    return "\n".join(lines)


async def weight_slots(db: Database) -> dict[str, Any]:
    slot = await weight_slot(db)
    async with db.tenant_scope("acme"):
        rows = await db.fetch(
            f"SELECT id, {slot}, data FROM record WHERE tenant_id = {{}} AND entity = 'widget'",
            "acme",
        )
    from core.store.values import load_json

    return {
        r["id"]: (
            None if r[slot] is None else Decimal(str(r[slot])),
            load_json(r["data"]).get("weight"),
        )
        for r in rows
    }


async def test_apply_returns_then_queries_are_right_before_and_after_the_reindex(
    db: Database,
) -> None:
    rt = await make_runtime(db)
    api = Api(rt)
    token = await api.tenant(acme_config())
    await seed(rt)
    result = await rt.apply_config(weight_indexed())
    slot = result.model.entities["widget"].fields["weight"].slot
    assert result.changed and slot is not None
    (task,) = result.reindex
    assert (task.entity, task.rows_total) == ("widget", 30) and "weight" in task.fields
    assert f"weight -> {slot}" in task.describe()
    assert task.slots == set(changed_slots(*_widgets(rt, acme_config(), weight_indexed())))

    # Another server process: its own connection, its own runtime.
    other_db = await open_database(db.url)
    other = Runtime(other_db, rt.plugins)
    try:
        for at_least in (Decimal("0"), Decimal("2.25"), Decimal("100")):
            want = await expected_by_weight(rt, at_least)
            assert await listed(rt, at_least) == want
            assert await listed(other, at_least) == want
        assert f"record_{slot}" not in await plan_of(other_db)
        body = await api.gql("acme", token, LIST_QUERY, {"min": "2.25"})
        assert not body.get("errors"), body
        assert body["data"]["widgets"]["totalCount"] == len(
            await expected_by_weight(rt, Decimal("2.25"))
        )

        # A write while pending already fills the new slot.
        ctx = rt.context(await rt.model("acme"), Principal.system("acme"))
        first = (await rt.service.list(ctx, "widget", None, [OrderBy("title")], 1, None))[0][0]
        await rt.service.update(ctx, "widget", first.id, {"weight": Decimal("42.5")}, None)
        assert (await weight_slots(db))[first.id] == (Decimal("42.5"), "42.5")

        report = await rt.reindex("acme")
        assert report.finished == ["widget"] and report.rows_checked == 30
        # The 24 seeded with a weight; w00 (no weight, updated while pending) was right already.
        assert report.rows_changed == 24
        assert all(
            slot == (None if w is None else Decimal(w))
            for slot, w in (await weight_slots(db)).values()
        )
        # Both processes now use the slot index (the other notices at its next check).
        assert f"record_{slot}" in await plan_of(db)
        await other.model("acme")
        assert f"record_{slot}" in await plan_of(other_db)
        for at_least in (Decimal("0"), Decimal("2.25")):
            want = await expected_by_weight(rt, at_least)
            assert await listed(rt, at_least) == want
            assert await listed(other, at_least) == want
        body = await api.gql("acme", token, LIST_QUERY, {"min": "2.25"})
        weights = [e["node"]["weight"] for e in body["data"]["widgets"]["edges"]]
        assert weights == sorted(weights, key=Decimal, reverse=True) and weights[0] == "42.5"
    finally:
        await other_db.close()
        await api.close()


async def test_an_interrupted_reindex_keeps_its_place_and_resumes(db: Database) -> None:
    rt = await make_runtime(db)
    await seed(rt, 25)
    await rt.apply_config(weight_indexed())
    seen: list[Progress] = []

    async def interrupted() -> None:
        def stop_after_the_first_batch(p: Progress) -> None:
            seen.append(p)
            if p.phase == "walking":
                raise asyncio.CancelledError  # what Ctrl-C does to `crm tenant apply`

        await rt.reindex("acme", progress=stop_after_the_first_batch, batch=5)

    with pytest.raises(asyncio.CancelledError):
        await interrupted()
    (task,) = await rt.db.reindex.unfinished("acme")
    assert seen[-1].rows_done == 5 and seen[-1].rows_total == 25
    assert task.rows_done == 5 and task.leased_by is None  # position kept, lease given back
    report = await rt.reindex("acme", batch=5)
    assert report.finished == ["widget"] and report.rows_checked == 20
    (done,) = await rt.db.reindex.history("acme")
    assert done.rows_done == 25 and done.finished_at is not None


async def test_the_worker_finishes_a_pending_reindex(db: Database) -> None:
    from core.worker import Worker

    rt = await make_runtime(db)
    await seed(rt, 12)
    await rt.apply_config(weight_indexed())
    async with Worker(rt, worker_id="w1") as worker:
        stats = await worker.run_once()
    assert stats.reindexes_finished == 1 and stats.reindexed == 12 and stats.busy
    assert "re-index: 12 records checked, 1 finished" in str(stats)
    assert await rt.db.reindex.unfinished("acme") == []
    assert f"record_{await weight_slot(db)}" in await plan_of(db)


def _two_entities(indexed: bool, with_thing: bool = True) -> dict[str, Any]:
    fields = {"label": {"type": "text", "label": {"en": "Label"}, "indexed": indexed}}
    entities: dict[str, Any] = {
        "other": {"label": {"en": "Other"}, "plural": "others", "fields": dict(fields)}
    }
    if with_thing:
        entities["thing"] = {"label": {"en": "Thing"}, "plural": "things", "fields": fields}
    return {
        "tenant": "two",
        "name": {"en": "Two"},
        "locales": ["en"],
        "currency": "EUR",
        "timezone": "UTC",
        "entities": entities,
    }


async def test_a_removed_entity_stops_its_reindex(db: Database) -> None:
    rt = await make_runtime(db)
    await rt.apply_config(_two_entities(indexed=False))
    ctx = rt.context(await rt.model("two"), Principal.system("two"))
    await rt.service.create(ctx, "thing", {"label": "a"})
    result = await rt.apply_config(_two_entities(indexed=True))
    assert sorted(t.entity for t in result.reindex) == ["other", "thing"]
    result = await rt.apply_config(_two_entities(indexed=True, with_thing=False))
    assert [t.entity for t in result.reindex] == ["other"]
    (stopped,) = [t for t in await rt.db.reindex.history("two") if t.entity == "thing"]
    assert stopped.finished_at is not None and stopped.rows_done == 0
    report = await rt.reindex("two")
    assert report.finished == ["other"] and await rt.db.reindex.unfinished("two") == []


# -- the command line ------------------------------------------------------------------


@pytest.fixture
def cli_db(db: Database, monkeypatch: pytest.MonkeyPatch) -> Database:
    monkeypatch.setenv("TESSERA_DATABASE_URL", db.url)
    return db


def _run(coro: Any) -> Any:
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


async def _seed_url(url: str, count: int) -> None:
    db = await open_database(url)
    try:
        await seed(await make_runtime(db), count)
    finally:
        await db.close()


def _part_with_a_field_in_front(doc: dict[str, Any]) -> dict[str, Any]:
    """``part`` gets an indexed field that sorts first (file and stored order): slots shift."""
    out = copy.deepcopy(doc)
    fields = out["entities"]["part"]["fields"]
    out["entities"]["part"]["fields"] = {
        "ab": {"type": "text", "label": {"en": "AB"}, "indexed": True},
        **fields,
    }
    return out


def test_plan_names_the_fields_to_reindex_and_counts_the_rows(
    cli_db: Database, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _run(_seed_url(cli_db.url, 7))
    new = _part_with_a_field_in_front(weight_indexed())
    path = tmp_path / "acme.json"
    path.write_text(json.dumps(new))
    assert main(["tenant", "plan", str(path)]) == 0
    out = capsys.readouterr().out
    note = "re-indexed after apply; until then filters and sorts on it read the stored values"
    assert "+ index widget.weight (slot s_n" in out
    assert f", {note}) — 7 record(s) affected" in out
    assert "+ index part.ab (slot s_t1" in out
    # The part's existing indexed fields move one slot up (none stored: no count).
    assert "~ index part.name (slot s_t" in out and "~ index part.code (slot s_t" in out


def test_apply_reindexes_with_progress_and_reindex_resumes_what_is_left(
    cli_db: Database, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _run(_seed_url(cli_db.url, 9))
    path = tmp_path / "acme.json"
    path.write_text(json.dumps(weight_indexed()))
    assert main(["tenant", "apply", "--no-wait", str(path)]) == 0
    out = capsys.readouterr().out
    assert "acme: applied as version 2" in out
    assert "re-index widget (" in out and "weight -> s_n" in out
    assert "): 0 of ~9 record(s) done; until it ends, filters and sorts on" in out
    assert "left to `crm worker` (or `crm tenant reindex acme`)" in out

    assert main(["tenant", "plan", str(path)]) == 0
    assert "(a re-index of widget is still running: " in capsys.readouterr().out
    assert main(["tenant", "reindex", "acme", "--batch", "4"]) == 0
    out = capsys.readouterr().out
    assert "acme/widget: walking 4 / 9 rows (44%)" in out
    assert "acme/widget: re-indexed, 9 rows checked, 7 rewritten" in out
    assert "acme: re-index done in" in out and "(9 rows checked, 7 rewritten)" in out
    assert main(["tenant", "reindex", "acme"]) == 0
    assert "acme: nothing to re-index" in capsys.readouterr().out

    # Without --no-wait, apply runs the re-index itself (here: weight is dropped again).
    path.write_text(json.dumps(acme_config()))
    assert main(["tenant", "apply", str(path)]) == 0
    out = capsys.readouterr().out
    assert "re-index widget (" in out and "acme: re-index done" in out
    assert "(9 rows checked, 7 rewritten)" in out

    assert main(["tenant", "reindex", "nowhere"]) == 1
    assert "NOT_FOUND" in capsys.readouterr().err
    assert main(["tenant", "reindex", "acme", "--batch", "0"]) == 1
    assert "--batch must be at least 1" in capsys.readouterr().err


def test_bad_pace_settings_are_refused_with_a_message(
    cli_db: Database, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TESSERA_REINDEX_PAUSE", "-1")
    assert main(["tenant", "reindex", "acme"]) == 1
    err = capsys.readouterr().err
    assert "TESSERA_REINDEX_PAUSE must be a number of at least 0 (got -1)" in err
    assert "Traceback" not in err


def test_slot_changes_follow_the_model(cli_db: Database) -> None:
    """What apply schedules is what changed_slots says between the two models."""

    async def run() -> None:
        db = await open_database(cli_db.url)
        try:
            rt = await make_runtime(db)
            await seed(rt, 2)
            before = await rt.model("acme")
            result = await rt.apply_config(_part_with_a_field_in_front(acme_config()))
            after = result.model
            scheduled = {t.entity: dict(t.targets) for t in result.reindex}
            assert scheduled == {
                "part": changed_slots(before.entities["part"], after.entities["part"])
            }
        finally:
            await db.close()

    _run(run())


async def test_requests_learn_the_pending_slots_without_an_extra_query(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The pending set rides on the config check: a list is still one statement."""
    from piccolo.querystring import QueryString

    rt = Runtime(db, (await make_runtime(db)).plugins, config_check_seconds=3600)
    await seed(rt, 5)
    await rt.apply_config(weight_indexed())
    statements: list[str] = []
    engine = type(db.engine)
    run, read = engine.run_querystring, db._sqlite_read

    async def counted_run(self: Any, query: QueryString, *args: Any, **kwargs: Any) -> Any:
        statements.append(str(query))
        return await run(self, query, *args, **kwargs)

    async def counted_read(query: QueryString) -> Any:
        statements.append(str(query))
        return await read(query)

    monkeypatch.setattr(engine, "run_querystring", counted_run)
    monkeypatch.setattr(db, "_sqlite_read", counted_read)
    for pending in (True, False):
        want = await expected_by_weight(rt, Decimal("1"))
        await listed(rt, Decimal("1"))  # warm: model, schema of the version
        statements.clear()
        assert await listed(rt, Decimal("1")) == want
        touched = [q for q in statements if "set_config" not in q]
        assert len(touched) == 1 and "FROM record" in touched[0], statements
        assert ("json_extract" in touched[0] or "data->>" in touched[0]) is pending
        if pending:
            rt.config_check_seconds = 0  # else the re-index waits that long for other servers
            await rt.reindex("acme")
            rt.config_check_seconds = 3600
