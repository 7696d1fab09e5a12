"""Helpers for end-to-end tests: a runtime on the test database, tenants, tokens."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import httpx

from core.http import create_app
from core.runtime import Runtime
from core.security import hash_password, issue_token
from core.store import Database

FIXTURES = Path(__file__).parent / "fixtures"


def acme_config(tenant: str = "acme") -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((FIXTURES / "acme.json").read_text())
    doc = copy.deepcopy(doc)
    doc["tenant"] = tenant
    return doc


def plugin_manifest(name: str, **extra: Any) -> dict[str, Any]:
    """The ``TESSERA_MANIFEST`` of a test plugin named ``name`` (``extra`` adds keys)."""
    return {
        "name": name,
        "version": "1.0.0",
        "description": {"en": f"The {name} test plugin."},
        "core_version": ">=0.1,<0.2",
        **extra,
    }


class Api:
    """An HTTP client on the real app, plus the runtime behind it."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.app = create_app(runtime)
        self.client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app), base_url="http://test"
        )

    async def tenant(self, doc: dict[str, Any], email: str = "owner@example.com") -> str:
        """Apply a config, add an admin user, return a bearer token."""
        await self.runtime.apply_config(doc)
        user = await self.runtime.db.get_user(doc["tenant"], email)
        user_id = (
            user["id"]
            if user
            else await self.runtime.db.add_user(
                doc["tenant"], email, "Owner", hash_password("password123"), ["admin"], "en"
            )
        )
        return await issue_token(self.runtime.db, doc["tenant"], user_id)

    async def gql(
        self, tenant: str, token: str, query: str, variables: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        response = await self.client.post(
            f"/t/{tenant}/graphql",
            json={"query": query, "variables": variables or {}},
            headers={"Authorization": f"Bearer {token}"},
        )
        body: dict[str, Any] = response.json()
        body["_status"] = response.status_code
        return body

    async def close(self) -> None:
        await self.client.aclose()


def error_codes(body: dict[str, Any]) -> list[str]:
    return [e.get("extensions", {}).get("code") for e in body.get("errors") or []]


async def make_runtime(db: Database, extra_plugins: list[object] | None = None) -> Runtime:
    from core.plugins import PluginHost

    return Runtime(db, PluginHost.from_entry_points(extra=extra_plugins or []))
