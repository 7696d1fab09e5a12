"""A tenant with a workflow, approvals, rules, automations and timers (fixtures/process.json)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from core.security import hash_password, issue_token
from core.store import Database
from tests.api_helpers import Api, make_runtime

PROCESS = Path(__file__).parent.parent / "fixtures" / "process.json"
USERS = {
    "admin": ["admin"],
    "rep": ["rep"],
    "rep2": ["rep"],
    "boss": ["manager"],
    "boss2": ["manager"],
    "fin1": ["finance"],
    "fin2": ["finance"],
}


def process_config() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(PROCESS.read_text())
    return doc


@cache
def _password_hash() -> str:
    """One slow (memory-hard) hash per process: the tests never log in with passwords."""
    return hash_password("x" * 8)


class Clock:
    """An injectable clock the tests move by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class ProcApi(Api):
    tokens: dict[str, str]
    ids: dict[str, str]

    async def as_(
        self, who: str, query: str, variables: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        return await self.gql("proc", self.tokens[who], query, variables)


@pytest.fixture
async def proc(db: Database) -> AsyncIterator[ProcApi]:
    api = ProcApi(await make_runtime(db))
    await api.runtime.apply_config(process_config())
    api.tokens, api.ids = {}, {}
    for name, roles in USERS.items():
        uid = await db.add_user("proc", f"{name}@proc.test", name, _password_hash(), roles, "en")
        api.ids[name] = uid
        api.tokens[name] = await issue_token(db, "proc", uid)
    await db.set_manager("proc", api.ids["rep"], api.ids["boss"])
    yield api
    await api.close()


NOW = datetime(2026, 12, 21, 10, 0, tzinfo=UTC)
