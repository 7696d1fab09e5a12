"""``crm worker``: one pass with ``--once``, located errors for bad input."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from pathlib import Path

import pytest

from core.cli import main
from core.store import open_database
from core.store.values import utcnow
from tests.worker.helpers import add_tenant
from tests.worker.receivers import HttpReceiver


@pytest.fixture
def database_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'worker.db'}"
    monkeypatch.setenv("TESSERA_DATABASE_URL", url)
    for var in ("TESSERA_SMTP_URL", "TESSERA_MAIL_FROM", "TESSERA_WEBHOOK_SECRET"):
        monkeypatch.delenv(var, raising=False)
    return url


async def _enqueue_webhooks(url: str, hook: str, n: int) -> None:
    db = await open_database(url)
    try:
        await db.migrate()
        await add_tenant(db, "acme")
        for i in range(n):
            payload = {"url": hook, "body": {"i": i}}
            await db.enqueue("acme", "webhook", payload, f"k{i}", utcnow() - timedelta(seconds=1))
    finally:
        await db.close()


def test_once_runs_one_pass_and_exits_0(
    database_url: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("TESSERA_WEBHOOK_SECRET", "s3cret")
    with HttpReceiver() as receiver:
        asyncio.run(_enqueue_webhooks(database_url, receiver.url, 3))
        with caplog.at_level(logging.INFO, logger="tessera.worker"):
            assert main(["worker", "--once", "--batch", "2", "--id", "cli-1"]) == 0
    assert sorted(receiver.keys()) == ["k0", "k1"]  # one pass: one batch per tenant
    assert all("X-Tessera-Signature" in r.headers for r in receiver.requests)
    assert "pass: 1 tenant(s): delivered 2, retried 0, dead 0" in caplog.text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--batch", "0"], "--batch must be at least 1"),
        (["--poll", "0"], "--poll must be more than 0"),
        (["--lease", "-1"], "--lease must be more than 0"),
        (["--max-attempts", "0"], "--max-attempts must be at least 1"),
        (["--id", "!dead"], "--id must be a non-empty name"),
    ],
)
def test_bad_options_exit_1_with_a_message(
    database_url: str, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    assert main(["worker", "--once", *args]) == 1
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_bad_mail_settings_exit_1_with_a_located_message(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TESSERA_SMTP_URL", "smtp://user:hunter2@mail.example.com:notaport")
    assert main(["worker", "--once"]) == 1
    err = capsys.readouterr().err
    assert "TESSERA_SMTP_URL: SMTP_URL: the port is not a number" in err
    assert "hunter2" not in err and "Traceback" not in err
    monkeypatch.setenv("TESSERA_SMTP_URL", "smtp://mail.example.com:587?starttls=1")
    assert main(["worker", "--once"]) == 1
    assert "TESSERA_MAIL_FROM is required" in capsys.readouterr().err
