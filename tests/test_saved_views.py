"""Saved views of list screens: per user, server-side, through the service (both engines)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from core.security import hash_password, issue_token
from core.store import Database
from tests.api_helpers import Api, error_codes, make_runtime

CONFIG: dict[str, Any] = {
    "tenant": "views",
    "name": {"en": "Views"},
    "locales": ["en"],
    "currency": "EUR",
    "timezone": "UTC",
    "entities": {
        "deal": {
            "label": {"en": "Deal"},
            "plural": "deals",
            "fields": {"name": {"type": "text", "label": {"en": "Name"}, "required": True}},
        }
    },
    # A role that grants nothing on saved views: every user still keeps their own.
    "roles": {
        "rep": {"label": {"en": "Rep"}, "permissions": {"entities": {"deal": ["read"]}}},
    },
}

LIST = "query($e: String!) { myViews(entity: $e) { id name entity definition } }"
SAVE = """mutation($e: String!, $n: String!, $d: String!) {
  saveMyView(entity: $e, name: $n, definition: $d) { id name entity definition } }"""
DELETE = "mutation($id: ID!) { deleteMyView(id: $id) }"


@pytest.fixture
async def api(db: Database) -> AsyncIterator[Api]:
    api = Api(await make_runtime(db))
    await api.runtime.apply_config(CONFIG)
    api.tokens = {}  # type: ignore[attr-defined]
    for name in ("ana", "ben"):
        uid = await db.add_user(
            "views", f"{name}@x.test", name, hash_password("x" * 8), ["rep"], "en"
        )
        api.tokens[name] = await issue_token(db, "views", uid)  # type: ignore[attr-defined]
    yield api
    await api.close()


async def gql(api: Api, who: str, query: str, **variables: Any) -> dict[str, Any]:
    return await api.gql("views", api.tokens[who], query, variables)  # type: ignore[attr-defined]


async def test_a_view_is_kept_for_its_owner_only(api: Api) -> None:
    definition = json.dumps({"filters": [{"field": "name", "op": "contains", "value": "a"}]})
    saved = await gql(api, "ana", SAVE, e="deal", n="Mine", d=definition)
    assert "errors" not in saved, saved
    view = saved["data"]["saveMyView"]
    assert (view["name"], view["entity"], view["definition"]) == ("Mine", "deal", definition)

    mine = await gql(api, "ana", LIST, e="deal")
    assert [v["id"] for v in mine["data"]["myViews"]] == [view["id"]]
    theirs = await gql(api, "ben", LIST, e="deal")
    assert theirs["data"]["myViews"] == []
    # Another user can neither delete it nor learn that it exists.
    refused = await gql(api, "ben", DELETE, id=view["id"])
    assert error_codes(refused) == ["NOT_FOUND"]
    assert (await gql(api, "ana", LIST, e="deal"))["data"]["myViews"] != []


async def test_saving_under_the_same_name_replaces_and_delete_removes(api: Api) -> None:
    first = await gql(api, "ana", SAVE, e="deal", n="Open", d="{}")
    again = await gql(api, "ana", SAVE, e="deal", n="Open", d='{"sort": []}')
    assert again["data"]["saveMyView"]["id"] == first["data"]["saveMyView"]["id"]
    listed = (await gql(api, "ana", LIST, e="deal"))["data"]["myViews"]
    assert [v["definition"] for v in listed] == ['{"sort": []}']
    deleted = await gql(api, "ana", DELETE, id=listed[0]["id"])
    assert deleted["data"]["deleteMyView"] is True
    assert (await gql(api, "ana", LIST, e="deal"))["data"]["myViews"] == []


async def test_a_bad_view_is_refused_with_located_errors(api: Api) -> None:
    body = await gql(api, "ana", SAVE, e="nothing", n="X", d="not json")
    assert error_codes(body) == ["VALIDATION_FAILED"]
    fields = {e["field"] for e in body["errors"][0]["extensions"]["errors"]}
    assert fields == {"entity", "definition"}
    assert (await gql(api, "ana", LIST, e="deal"))["data"]["myViews"] == []
