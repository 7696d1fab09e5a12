"""The crm command: exit codes, located errors, the tour's steps, the demo."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.cli import main
from tests.api_helpers import FIXTURES

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "cli.db"
    monkeypatch.setenv("TESSERA_DATABASE_URL", f"sqlite:///{path}")
    return path


def test_validate_locates_every_mistake_and_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = json.loads((FIXTURES / "acme.json").read_text())
    doc["currency"] = "euro"
    widget = doc["entities"]["widget"]["fields"]
    widget["grade"]["type"] = "grade"
    widget["main_part"]["target"] = "nowhere"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(doc))
    assert main(["tenant", "validate", str(bad)]) == 1
    err = capsys.readouterr().err
    assert f"{bad}#/currency: SCHEMA_PATTERN" in err

    # Structurally fine, semantically wrong: the model's checks locate it.
    doc["currency"] = "EUR"
    widget["grade"]["type"] = "enum"
    bad.write_text(json.dumps(doc))
    assert main(["tenant", "validate", str(bad)]) == 1
    err = capsys.readouterr().err
    assert f"{bad}#/entities/widget/fields/main_part/target: RELATION_TARGET_UNKNOWN" in err


def test_validate_reports_json_syntax_with_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "broken.json"
    bad.write_text('{"tenant": "x",\n  "locales": [}\n')
    assert main(["tenant", "validate", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "JSON_SYNTAX: invalid JSON at line 2, column 15" in err
    assert "Traceback" not in err


def test_demo_configs_validate(capsys: pytest.CaptureFixture[str]) -> None:
    files = sorted(str(p) for p in (ROOT / "tenant_configs").glob("*.json"))
    assert len(files) == 3
    assert main(["tenant", "validate", *files]) == 0


def test_tour_apply_user_token_schema(capsys: pytest.CaptureFixture[str]) -> None:
    config = str(FIXTURES / "acme.json")
    assert main(["tenant", "apply", config]) == 0
    assert "acme: applied as version 1" in capsys.readouterr().out
    assert main(["tenant", "apply", config]) == 0
    assert "unchanged (version 1)" in capsys.readouterr().out
    assert main(["tenant", "list"]) == 0
    assert capsys.readouterr().out.startswith("acme\tversion 1")
    assert (
        main(
            [
                "user",
                "add",
                "acme",
                "Ana@Example.com",
                "--role",
                "admin",
                "--password",
                "s3cret-pass",
            ]
        )
        == 0
    )
    capsys.readouterr()
    assert (
        main(
            [
                "user",
                "add",
                "acme",
                "ana@example.com",
                "--role",
                "admin",
                "--password",
                "s3cret-pass",
            ]
        )
        == 1
    )
    assert "already has a user" in capsys.readouterr().err
    assert main(["token", "create", "acme", "ana@example.com"]) == 0
    token = capsys.readouterr().out
    assert token.startswith("tsr_") and token.count("\n") == 1  # prints only the token
    assert main(["schema", "acme"]) == 0
    sdl = capsys.readouterr().out
    assert "type Widget" in sdl and "widgets(" in sdl
    assert main(["token", "revoke", token.strip()]) == 0
    assert main(["token", "revoke", token.strip()]) == 1


def test_user_errors_are_messages_not_tracebacks(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema", "no-such-tenant"]) == 1
    err = capsys.readouterr().err
    assert "NOT_FOUND" in err and "Traceback" not in err
    assert main(["tenant", "apply", "/no/such/file.json"]) == 1


def test_demo_loads_three_tenants_with_sample_data(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--no-serve", "--configs", str(ROOT / "tenant_configs")]) == 0
    out = capsys.readouterr().out
    for tenant in ("shenzhen-components", "madrid-componentes", "manila-aircon"):
        assert f"/t/{tenant}/graphql" in out
    assert out.count("token:    tsr_") == 3
    # A second run keeps the data and only issues new tokens.
    assert main(["demo", "--no-serve", "--configs", str(ROOT / "tenant_configs")]) == 0
    assert "loading" not in capsys.readouterr().err


def test_validate_locates_a_bad_expression(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = json.loads((FIXTURES / "acme.json").read_text())
    doc["forms"]["widget"]["sections"][0]["fields"] = [
        "title",
        {"field": "quantity", "visible_when": "record.qty > 3"},
        {"field": "price", "required_when": "record.title =="},
    ]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(doc))
    assert main(["tenant", "validate", str(bad)]) == 1
    err = capsys.readouterr().err
    assert f"{bad}#/forms/widget/sections/0/fields/1/visible_when: EXPRESSION_UNKNOWN_FIELD" in err
    assert f"{bad}#/forms/widget/sections/0/fields/2/required_when: EXPRESSION_INVALID" in err


def test_user_add_with_a_manager(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tenant", "apply", str(FIXTURES / "acme.json")]) == 0
    add = ["user", "add", "acme", "--role", "admin", "--password", "s3cret-pass"]
    assert main([*add[:3], "boss@example.com", *add[3:]]) == 0
    assert main([*add[:3], "rep@example.com", *add[3:], "--manager", "BOSS@example.com"]) == 0
    assert main([*add[:3], "x@example.com", *add[3:], "--manager", "nobody@example.com"]) == 1
    assert "has no user nobody@example.com" in capsys.readouterr().err

    async def managers() -> dict[str, str | None]:
        from core.store import default_database_url, open_database

        db = await open_database(default_database_url())
        try:
            users = [await db.get_user("acme", f"{n}@example.com") for n in ("boss", "rep", "x")]
            return {u["email"]: u["manager_id"] for u in users if u}
        finally:
            await db.close()

    import asyncio

    found = asyncio.run(managers())
    assert set(found) == {"boss@example.com", "rep@example.com"}  # x was not added
    assert found["boss@example.com"] is None
    assert found["rep@example.com"] is not None


def test_token_with_an_expiry(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tenant", "apply", str(FIXTURES / "acme.json")]) == 0
    add = ["user", "add", "acme", "t@example.com", "--role", "admin", "--password", "s3cret-pass"]
    assert main(add) == 0
    capsys.readouterr()
    assert main(["token", "create", "acme", "t@example.com", "--expires-in", "0"]) == 1
    assert "--expires-in takes" in capsys.readouterr().err
    assert main(["token", "create", "acme", "t@example.com", "--expires-in", "0.5"]) == 0
    token = capsys.readouterr().out.strip()

    async def expiry() -> object:
        from core.security import token_hash
        from core.store import default_database_url, open_database

        db = await open_database(default_database_url())
        try:
            rows = await db.fetch(
                "SELECT expires_at FROM api_token WHERE token_hash = {}", token_hash(token)
            )
            return rows[0]["expires_at"]
        finally:
            await db.close()

    import asyncio
    from datetime import datetime, timedelta

    from core.store.values import as_datetime

    expires = as_datetime(asyncio.run(expiry()))
    assert isinstance(expires, datetime)
    left = expires - datetime.now(expires.tzinfo)
    assert timedelta(hours=11) < left <= timedelta(hours=12)
