"""Database URLs and the default location."""

from __future__ import annotations

import pytest

from core.errors import BadRequest
from core.store import default_database_url
from core.store.url import parse_database_url


def test_default_is_a_sqlite_file_in_the_working_directory(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("TESSERA_DATABASE_URL", raising=False)
    assert default_database_url() == "sqlite:///tessera.db"
    monkeypatch.setenv("TESSERA_DATABASE_URL", "postgresql://crm@db/crm")
    assert default_database_url() == "postgresql://crm@db/crm"


@pytest.mark.parametrize(
    ("url", "dialect", "path"),
    [
        ("sqlite:///tessera.db", "sqlite", "tessera.db"),
        ("sqlite:////var/lib/crm/t.db", "sqlite", "/var/lib/crm/t.db"),
        ("postgresql://u:p@h:5433/crm", "postgresql", ""),
        ("postgres://u@h/crm", "postgresql", ""),
    ],
)
def test_urls_parse(url: str, dialect: str, path: str) -> None:
    parsed = parse_database_url(url)
    assert (parsed.dialect, parsed.path) == (dialect, path)


@pytest.mark.parametrize("url", ["mysql://x/y", "sqlite:///", "sqlite:///:memory:", "tessera.db"])
def test_unsupported_urls_are_user_errors(url: str) -> None:
    with pytest.raises(BadRequest) as err:
        parse_database_url(url)
    assert err.value.problems[0].path == "TESSERA_DATABASE_URL"
