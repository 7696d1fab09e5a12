"""``crm tenant test``: a config's own test cases, run as its users in a scratch database."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from core.cli import main

EXAMPLE = Path(__file__).resolve().parent.parent / "docs" / "examples" / "casebook.json"


@pytest.fixture(autouse=True)
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "never-written.db"
    monkeypatch.setenv("TESSERA_DATABASE_URL", f"sqlite:///{path}")
    return path


def _run(
    tmp_path: Path, doc: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> tuple[int, str]:
    path = tmp_path / "casebook.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    code = main(["tenant", "test", str(path)])
    shown = capsys.readouterr()
    return code, (shown.out + shown.err).replace(f"{path}#", "")


def test_the_documented_cases_pass_and_nothing_is_written(
    tmp_path: Path, database: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["tenant", "test", str(EXAMPLE)]) == 0
    out = capsys.readouterr().out
    assert "casebook: 2 of 2 test(s) passed" in out
    assert "  PASS  a discount above 10 % waits for the rep's manager" in out
    assert not database.exists()


def _broken(step: int, change: dict[str, Any], case: int = 0) -> dict[str, Any]:
    doc = json.loads(EXAMPLE.read_text())
    doc["tests"][case]["steps"][step] = {**doc["tests"][case]["steps"][step], **change}
    return doc


@pytest.mark.parametrize(
    ("doc", "shown"),
    [
        (
            _broken(5, {"expect": {"values": {"status": "open"}}}),
            "/tests/0/steps/5/expect/values/status: TEST_VALUE: expected 'open', found 'won'",
        ),
        (
            _broken(2, {"expect": {"error": "FORBIDDEN"}}),
            "/tests/0/steps/2/expect/error: TEST_NO_ERROR: expected FORBIDDEN",
        ),
        (
            _broken(4, {"expect": {"error": "CONFLICT"}}),
            "/tests/0/steps/4/expect/error: TEST_WRONG_ERROR: expected CONFLICT, got FORBIDDEN",
        ),
        (
            _broken(1, {"expect": {"error": "VALIDATION_FAILED", "field": "name"}}),
            "/tests/0/steps/1/expect/field: TEST_WRONG_FIELD",
        ),
        (
            _broken(4, {"approve": "nosuch"}),
            "/tests/0/steps/4/approve: TEST_REF_UNKNOWN",
        ),
        (
            _broken(3, {"values": {"owner": "@nobody"}}),
            "/tests/0/steps/3/values/owner: TEST_REF_UNKNOWN",
        ),
        (
            _broken(1, {"expect": {}}),
            "/tests/0/steps/1: TEST_UNEXPECTED_ERROR: VALIDATION_FAILED",
        ),
    ],
)
def test_a_failing_case_is_reported_at_its_step(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], doc: dict[str, Any], shown: str
) -> None:
    code, out = _run(tmp_path, doc, capsys)
    assert code == 1
    assert "casebook: 1 of 2 test(s) passed" in out
    assert "  FAIL  a discount above 10 % waits for the rep's manager" in out
    assert shown in out


def test_a_step_must_name_exactly_one_action(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = copy.deepcopy(json.loads(EXAMPLE.read_text()))
    doc["tests"][0]["steps"][0]["check"] = "d"
    code, out = _run(tmp_path, doc, capsys)
    assert code == 1
    assert "/tests/0/steps/0: SCHEMA_ONE_OF" in out
