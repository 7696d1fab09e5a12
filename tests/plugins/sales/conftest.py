"""A tenant with the sales plugin, served over HTTP on both engines."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from core.security import hash_password, issue_token
from core.store import Database
from tests.api_helpers import Api, make_runtime


def sales_config(tenant: str = "ventas", **settings: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "tenant": tenant,
        "name": {"en": "Ventas"},
        "locales": ["en", "es-ES"],
        "default_locale": "en",
        "currency": "EUR",
        "timezone": "Europe/Madrid",
        "country": "ES",
        "plugins": ["sales"],
    }
    if settings:
        doc["settings"] = {"sales": settings}
    return doc


class SalesApi(Api):
    """The HTTP API plus shortcuts for sales tests."""

    async def user(
        self, tenant: str, email: str, roles: list[str] | None = None
    ) -> tuple[str, str]:
        """Add a user; return ``(user id, bearer token)``."""
        user_id = await self.runtime.db.add_user(
            tenant,
            email,
            email.split("@")[0],
            hash_password("password123"),
            roles or ["admin"],
            "en",
        )
        return user_id, await issue_token(self.runtime.db, tenant, user_id)

    async def ok(
        self, tenant: str, token: str, query: str, variables: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        body = await self.gql(tenant, token, query, variables)
        assert "errors" not in body, body
        data: dict[str, Any] = body["data"]
        return data

    async def create(
        self, tenant: str, token: str, type_name: str, values: dict[str, Any], fields: str = "id"
    ) -> dict[str, Any]:
        data = await self.ok(
            tenant,
            token,
            f"mutation($i: {type_name}CreateInput!) {{ create{type_name}(input: $i) {{ {fields} }} }}",
            {"i": values},
        )
        out: dict[str, Any] = data[f"create{type_name}"]
        return out


@pytest.fixture
async def api(db: Database) -> AsyncIterator[SalesApi]:
    runtime = await make_runtime(db)
    client = SalesApi(runtime)
    yield client
    await client.close()
