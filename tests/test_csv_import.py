"""``crm import`` / ``crm export``: CSV through the service, all or nothing, as a user."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from pathlib import Path

import pytest

from core.cli import main
from core.store import Database, default_database_url, open_database
from tests.api_helpers import FIXTURES

ACME = str(FIXTURES / "acme.json")


@pytest.fixture(autouse=True)
def database(db: Database, monkeypatch: pytest.MonkeyPatch) -> Database:
    """The CLI works on the test database of each engine (emptied by the ``db`` fixture)."""
    monkeypatch.setenv("TESSERA_DATABASE_URL", db.url)
    return db


def _setup(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tenant", "apply", ACME]) == 0
    add = ["user", "add", "acme", "ana@example.com", "--role", "admin", "--password", "s3cret-pass"]
    assert main(add) == 0
    capsys.readouterr()


async def _widgets() -> list[dict[str, object]]:
    db = await open_database(default_database_url())
    try:
        async with db.tenant_scope("acme"):
            rows = await db.fetch(
                "SELECT data FROM record WHERE tenant_id = 'acme' AND entity = 'widget'"
            )
            audit = await db.fetch("SELECT id FROM audit WHERE tenant_id = 'acme'")
    finally:
        await db.close()
    from core.store.values import load_json

    assert len(audit) == len(rows)  # every imported record is audited
    return [load_json(r["data"]) for r in rows]


def test_import_is_all_or_nothing_with_located_problems(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _setup(capsys)
    good = tmp_path / "widgets.csv"
    good.write_text(
        "title,quantity,price,active,due_on,grade,tags,serial\n"
        "Bolt,3,12.50,yes,2026-12-01,a,red;blue,SN-0001\n"
        "Nut,10,0.99 EUR,no,,b,,SN-0002\n",
        encoding="utf-8",
    )
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "Title,Quantity,serial\nWasher,2,SN-0003\n,5,SN-0004\nScrew,many,SN-0005\n",
        encoding="utf-8",
    )
    assert main(["import", "acme", "widget", str(bad), "--as", "ana@example.com"]) == 1
    err = capsys.readouterr().err
    assert "row 3, title: REQUIRED" in err  # no title
    assert "row 4, quantity: TYPE" in err  # not a number
    assert asyncio.run(_widgets()) == []  # the good row 2 was not kept either
    assert (
        main(["import", "acme", "widget", str(good), "--as", "ana@example.com", "--dry-run"]) == 0
    )
    assert "2 row(s) would be imported" in capsys.readouterr().out
    assert asyncio.run(_widgets()) == []
    assert main(["import", "acme", "widget", str(good), "--as", "ana@example.com"]) == 0
    assert "imported 2 widget record(s)" in capsys.readouterr().out
    widgets = {w["title"]: w for w in asyncio.run(_widgets())}
    assert widgets["Bolt"]["price"] == {"amount": "12.50", "currency": "EUR"}
    assert widgets["Bolt"]["tags"] == ["red", "blue"] and widgets["Bolt"]["active"] is True
    assert widgets["Nut"]["active"] is False and "due_on" not in widgets["Nut"]
    # A unique value already taken is a located problem too.
    assert main(["import", "acme", "widget", str(good), "--as", "ana@example.com"]) == 1
    assert "row 2, serial: UNIQUE" in capsys.readouterr().err
    # Export writes what the user may read, readable back by the importer's rules.
    out = tmp_path / "out.csv"
    assert main(["export", "acme", "widget", "--as", "ana@example.com", "-o", str(out)]) == 0
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert {r["title"] for r in rows} == {"Bolt", "Nut"}
    bolt = next(r for r in rows if r["title"] == "Bolt")
    assert (
        bolt["price"] == "12.50 EUR"
        and bolt["tags"] == "red;blue"
        and bolt["heavy"] in ("", "false", "true")
    )


def test_import_refuses_unknown_columns_and_users(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _setup(capsys)
    f = tmp_path / "x.csv"
    f.write_text("title,colour\nBolt,red\n", encoding="utf-8")
    assert main(["import", "acme", "widget", str(f), "--as", "ana@example.com"]) == 1
    assert "column 2: UNKNOWN_COLUMN" in capsys.readouterr().err
    assert main(["import", "acme", "widget", str(f), "--as", "nobody@example.com"]) == 1
    assert "no active user" in capsys.readouterr().err
    assert (
        main(["import", "acme", "widget", str(tmp_path / "missing.csv"), "--as", "ana@example.com"])
        == 1
    )
    assert "cannot read" in capsys.readouterr().err


def test_import_locates_duplicates_in_the_file_and_says_how_it_ran(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _setup(capsys)
    rows = "".join(f"Widget {n},{n},SN-{n:04d}\n" for n in range(1, 2501))
    f = tmp_path / "many.csv"
    f.write_text("title,quantity,serial\n" + rows + "Again,1,SN-0007\n", encoding="utf-8")
    assert main(["import", "acme", "widget", str(f), "--as", "ana@example.com"]) == 1
    err = capsys.readouterr().err
    # Row 2,502 repeats the serial of row 8 (the header is row 1); it is in another batch.
    assert "row 2502, serial: UNIQUE: another record already has this value" in err
    assert asyncio.run(_widgets()) == []
    f.write_text("title,quantity,serial\n" + rows, encoding="utf-8")
    assert main(["import", "acme", "widget", str(f), "--as", "ana@example.com"]) == 0
    out = capsys.readouterr().out
    assert "imported 2500 widget record(s) into acme in " in out and "in batches)" in out
    assert len(asyncio.run(_widgets())) == 2500


def test_import_one_record_at_a_time_when_automations_write_records(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = json.loads(Path(ACME).read_text(encoding="utf-8"))
    config["automations"] = {
        "follow_up": {
            "entity": "widget",
            "on": {"event": "created"},
            "do": [{"type": "create_task", "subject": {"en": "Follow up {record.title}"}}],
        }
    }
    path = tmp_path / "acme.json"
    path.write_text(json.dumps(config), encoding="utf-8")
    assert main(["tenant", "apply", str(path)]) == 0
    add = ["user", "add", "acme", "ana@example.com", "--role", "admin", "--password", "s3cret-pass"]
    assert main(add) == 0
    capsys.readouterr()
    f = tmp_path / "w.csv"
    f.write_text("title\nBolt\nNut\n", encoding="utf-8")
    assert main(["import", "acme", "widget", str(f), "--as", "ana@example.com"]) == 0
    captured = capsys.readouterr()
    reason = "automation 'follow_up' runs 'create_task' for each new widget, which writes records"
    assert f"one record at a time: {reason}" in captured.err
    assert "imported 2 widget record(s)" in captured.out
    assert f"one at a time: {reason})" in captured.out
