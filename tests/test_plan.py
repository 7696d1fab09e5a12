"""``crm tenant plan``: the changes a config would make and the records they touch."""

from __future__ import annotations

import asyncio
import copy
import json
from pathlib import Path

import pytest

from core.cli import main
from core.plugins import PluginHost
from core.runtime import Runtime
from core.store import Database, open_database
from tests.api_helpers import acme_config


@pytest.fixture(autouse=True)
def database(db: Database, monkeypatch: pytest.MonkeyPatch) -> Database:
    monkeypatch.setenv("TESSERA_DATABASE_URL", db.url)
    return db


async def _seed(url: str) -> None:
    from core.context import CallContext, Principal

    db = await open_database(url)
    try:
        runtime = Runtime(db, PluginHost.from_entry_points())
        await runtime.apply_config(acme_config())
        model = await runtime.model("acme")
        ctx = CallContext(model=model, principal=Principal.system("acme"))
        for i, qty in enumerate((1, 5, 50, None)):
            values = {"title": f"w{i}", **({"quantity": qty} if qty is not None else {})}
            await runtime.service.create(ctx, "widget", values)
    finally:
        await db.close()


def test_plan_lists_changes_and_counts_the_records_they_touch(
    db: Database, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    new = tmp_path / "acme.json"
    doc = acme_config()
    new.write_text(json.dumps(doc))
    assert main(["tenant", "plan", str(new)]) == 0
    assert "acme: a new tenant" in capsys.readouterr().out
    asyncio.run(_seed(db.url))
    assert main(["tenant", "plan", str(new)]) == 0
    assert "acme: no changes" in capsys.readouterr().out

    changed = copy.deepcopy(doc)
    widget = changed["entities"]["widget"]
    widget["fields"]["quantity"]["required"] = True
    widget["fields"]["colour"] = {"type": "text", "label": {"en": "Colour"}}
    widget.setdefault("rules", []).append(
        {
            "key": "small",
            "expression": "!has(record.quantity) || record.quantity < 10",
            "message": {"en": "at most 9"},
        }
    )
    del changed["entities"]["part"]["fields"]["code"]
    new.write_text(json.dumps(changed))
    assert main(["tenant", "plan", str(new)]) == 0
    out = capsys.readouterr().out
    assert "~ field widget.quantity (now required) — 1 record(s) affected" in out
    assert "+ field widget.colour (text)" in out
    assert (
        "+ rule widget.small (records failing it must be fixed at their next save) — 1 record(s)"
        in out
    )
    assert "- field part.code (values are kept in storage)" in out
    # Nothing was applied.
    assert main(["tenant", "list"]) == 0
    assert "version 1" in capsys.readouterr().out


def test_plan_of_an_invalid_config_shows_its_problems(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.json"
    doc = acme_config()
    doc["entities"]["widget"]["fields"]["main_part"]["target"] = "nowhere"
    bad.write_text(json.dumps(doc))
    assert main(["tenant", "plan", str(bad)]) == 1
    assert "RELATION_TARGET_UNKNOWN" in capsys.readouterr().err


async def _widget_titles(url: str, titles: list[str]) -> None:
    from core.context import CallContext, Principal

    db = await open_database(url)
    try:
        runtime = Runtime(db, PluginHost.from_entry_points())
        model = await runtime.model("acme")
        ctx = CallContext(model=model, principal=Principal.system("acme"))
        for title in titles:
            values = {"title": title, "grade": "b", "notes": "kept"}
            await runtime.service.create(ctx, "widget", values)
    finally:
        await db.close()


def test_changes_the_stored_data_cannot_take_are_refused_by_plan_and_apply(
    db: Database, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    asyncio.run(_seed(db.url))
    asyncio.run(_widget_titles(db.url, ["Twin", "twin "]))
    capsys.readouterr()
    new = tmp_path / "acme.json"
    cases = [
        (("title", "unique", True), "UNIQUE_DUPLICATES", "/entities/widget/fields/title/unique"),
        (
            ("notes", "type", "integer"),
            "TYPE_CHANGE_WITH_DATA",
            "/entities/widget/fields/notes/type",
        ),
        (
            ("grade", "options", [{"value": "a", "label": {"en": "A"}}]),
            "OPTION_IN_USE",
            "/entities/widget/fields/grade/options",
        ),
    ]
    for (field, key, value), code, where in cases:
        doc = acme_config()
        doc["entities"]["widget"]["fields"][field][key] = value
        new.write_text(json.dumps(doc))
        assert main(["tenant", "plan", str(new)]) == 1
        shown = capsys.readouterr()
        assert f"{where}: {code}" in (shown.out + shown.err).replace(f"{new}:", "")
        assert main(["tenant", "apply", str(new)]) == 1
        shown = capsys.readouterr()
        assert code in shown.out + shown.err
    assert main(["tenant", "list"]) == 0
    assert "version 1" in capsys.readouterr().out


def test_a_field_that_becomes_unique_claims_its_stored_values(
    db: Database, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    asyncio.run(_seed(db.url))
    doc = acme_config()
    doc["entities"]["widget"]["fields"]["title"]["unique"] = True
    new = tmp_path / "acme.json"
    new.write_text(json.dumps(doc))
    assert main(["tenant", "apply", str(new)]) == 0
    with pytest.raises(Exception, match="unique"):
        asyncio.run(_widget_titles(db.url, ["W1 "]))  # w1 exists: claimed on apply
    doc["entities"]["widget"]["fields"]["title"]["unique"] = False
    new.write_text(json.dumps(doc))
    assert main(["tenant", "apply", str(new)]) == 0
    asyncio.run(_widget_titles(db.url, ["W1 "]))  # no longer unique: claims dropped
