"""Roles: entity actions, field access and record scope, enforced on every path."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from typing import Any

import pytest

from core.context import Principal
from core.errors import Forbidden
from core.query import Condition, OrderBy
from core.security import hash_password, issue_token
from core.store import Database
from tests.api_helpers import Api, error_codes, make_runtime

CONFIG: dict[str, Any] = {
    "tenant": "roles",
    "name": {"en": "Roles"},
    "locales": ["en"],
    "currency": "EUR",
    "timezone": "UTC",
    "entities": {
        "deal": {
            "label": {"en": "Deal"},
            "plural": "deals",
            "fields": {
                "name": {"type": "text", "label": {"en": "Name"}, "required": True},
                "margin": {"type": "percent", "label": {"en": "Margin"}},
                "secret": {"type": "text", "label": {"en": "Secret"}},
                "owner": {"type": "user", "label": {"en": "Owner"}},
            },
        }
    },
    "roles": {
        "rep": {
            "label": {"en": "Rep"},
            "permissions": {
                "entities": {"deal": ["create", "read", "update"]},
                "record_scope": "own",
                "fields": {"deal": {"margin": "read", "secret": "hidden"}},
            },
        },
        "auditor": {
            "label": {"en": "Auditor"},
            "permissions": {
                "entities": {"*": ["read"]},
                "record_scope": "all",
                "field_security": True,
                "fields": {"deal": {"name": "read", "owner": "read"}},
            },
        },
    },
}


@pytest.fixture
async def api(db: Database) -> AsyncIterator[Api]:
    api = Api(await make_runtime(db))
    await api.runtime.apply_config(CONFIG)
    api.tokens = {}  # type: ignore[attr-defined]
    for email, role in (("admin", "admin"), ("rep1", "rep"), ("rep2", "rep"), ("aud", "auditor")):
        uid = await db.add_user(
            "roles", f"{email}@x.test", email, hash_password("x" * 8), [role], "en"
        )
        api.tokens[email] = await issue_token(db, "roles", uid)  # type: ignore[attr-defined]
    yield api
    await api.close()


async def gql(
    api: Api, who: str, query: str, variables: dict[str, Any] | None = None
) -> dict[str, Any]:
    return await api.gql("roles", api.tokens[who], query, variables)  # type: ignore[attr-defined]


async def _deal(api: Api, who: str, name: str) -> str:
    body = await gql(
        api, who, "mutation($n: String!) { createDeal(input: {name: $n}) { id } }", {"n": name}
    )
    assert "errors" not in body, body
    return str(body["data"]["createDeal"]["id"])


async def test_record_scope_own(api: Api) -> None:
    mine = await _deal(api, "rep1", "rep1 deal")
    await _deal(api, "rep2", "rep2 deal")
    body = await gql(
        api, "rep1", "{ deals { totalCount edges { node { name owner { email } } } } }"
    )
    assert body["data"]["deals"]["totalCount"] == 1
    assert body["data"]["deals"]["edges"][0]["node"] == {
        "name": "rep1 deal",
        "owner": {"email": "rep1@x.test"},
    }
    # Another rep's deal does not exist for them, by id or by mutation.
    for query in (
        "query($id: ID!) { deal(id: $id) { name } }",
        'mutation($id: ID!) { updateDeal(id: $id, input: {name: "mine now"}) { name } }',
    ):
        assert error_codes(await gql(api, "rep2", query, {"id": mine})) == ["NOT_FOUND"]
    # A rep cannot hand a new deal to someone else.
    admin_id = (await gql(api, "admin", "{ meta { me { id } } }"))["data"]["meta"]["me"]["id"]
    body = await gql(
        api,
        "rep1",
        'mutation($o: ID!) { createDeal(input: {name: "x", ownerId: $o}) { id } }',
        {"o": admin_id},
    )
    assert error_codes(body) == ["FORBIDDEN"]
    everything = await gql(api, "admin", "{ deals { totalCount } }")
    assert everything["data"]["deals"]["totalCount"] == 2


async def test_field_access_read_hidden_and_write(api: Api) -> None:
    deal = await _deal(api, "rep1", "d")
    body = await gql(
        api,
        "admin",
        'mutation($id: ID!) { updateDeal(id: $id, input: {margin: "12.5", secret: "s3"}) { version } }',
        {"id": deal},
    )
    assert "errors" not in body, body
    # Read-only field: visible, not writable, and the refusal is located.
    body = await gql(
        api,
        "rep1",
        'mutation($id: ID!) { updateDeal(id: $id, input: {margin: "50"}) { id } }',
        {"id": deal},
    )
    assert error_codes(body) == ["FORBIDDEN"]
    assert body["errors"][0]["extensions"]["errors"] == [
        {
            "field": "margin",
            "code": "FIELD_READ_ONLY",
            "message": "your roles do not allow changing this field",
        }
    ]
    seen = await gql(api, "rep1", "query($id: ID!) { deal(id: $id) { name margin } }", {"id": deal})
    assert seen["data"]["deal"] == {"name": "d", "margin": "12.5"}
    # The rep's schema has no hidden field at all: not in the type, filters or sorts.
    for probe in (
        "query($id: ID!) { deal(id: $id) { secret } }",
        '{ deals(filter: {secret: {eq: "s3"}}) { totalCount } }',
        "{ deals(orderBy: [{field: secret}]) { totalCount } }",
        'mutation($id: ID!) { updateDeal(id: $id, input: {secret: "x"}) { id } }',
    ):
        body = await gql(api, "rep1", probe, {"id": deal} if "$id" in probe else None)
        assert error_codes(body) == ["GRAPHQL_VALIDATION_FAILED"], body
    # Nor in the model the screens read.
    meta = await gql(api, "rep1", "{ meta { entities { key fields { key } } } }")
    [deal_meta] = [e for e in meta["data"]["meta"]["entities"] if e["key"] == "deal"]
    assert {f["key"] for f in deal_meta["fields"]} == {"name", "margin", "owner"}
    # Below the schema, the service refuses probes through filters and sorting too.
    model = await api.runtime.model("roles")
    rep = await api.runtime.db.get_user("roles", "rep1@x.test")
    assert rep is not None
    ctx = api.runtime.context(
        model, Principal("roles", rep["id"], rep["email"], roles=tuple(rep["roles"]))
    )
    with pytest.raises(Forbidden):
        await api.runtime.service.list(ctx, "deal", Condition("secret", "eq", "s3"), [], 10, None)
    with pytest.raises(Forbidden):
        await api.runtime.service.list(ctx, "deal", None, [OrderBy("secret")], 10, None)
    # Writing what they may write keeps what they cannot see.
    body = await gql(
        api,
        "rep1",
        'mutation($id: ID!) { updateDeal(id: $id, input: {name: "d2"}) { name } }',
        {"id": deal},
    )
    assert "errors" not in body, body
    full = await gql(
        api, "admin", "query($id: ID!) { deal(id: $id) { name margin secret } }", {"id": deal}
    )
    assert full["data"]["deal"] == {"name": "d2", "margin": "12.5", "secret": "s3"}
    # History does not reveal hidden values either.
    audit = await gql(
        api, "rep1", "query($id: ID!) { deal(id: $id) { audit { action diff } } }", {"id": deal}
    )
    assert all("secret" not in entry["diff"] for entry in audit["data"]["deal"]["audit"])


async def test_field_security_default_deny_and_entity_actions(api: Api) -> None:
    deal = await _deal(api, "rep1", "visible name")
    await gql(
        api,
        "admin",
        'mutation($id: ID!) { updateDeal(id: $id, input: {margin: "7"}) { id } }',
        {"id": deal},
    )
    body = await gql(api, "aud", "{ deals { totalCount edges { node { name margin secret } } } }")
    assert set(error_codes(body)) == {"GRAPHQL_VALIDATION_FAILED"}  # not in the auditor's schema
    body = await gql(api, "aud", "{ deals { totalCount edges { node { name owner { id } } } } }")
    assert "errors" not in body, body
    assert body["data"]["deals"]["edges"][0]["node"]["name"] == "visible name"
    sdl = api.runtime.schemas.get(
        await api.runtime.model("roles"), {"deal": frozenset({"margin", "secret"})}
    ).sdl()
    assert "margin" not in sdl and "secret" not in sdl and "name: String" in sdl
    for mutation in (
        'mutation { createDeal(input: {name: "no"}) { id } }',
        "mutation($id: ID!) { deleteDeal(id: $id) { id } }",
    ):
        variables = {"id": deal} if "$id" in mutation else None
        assert error_codes(await gql(api, "aud", mutation, variables)) == ["FORBIDDEN"]
    assert error_codes(
        await gql(api, "rep1", "mutation($id: ID!) { deleteDeal(id: $id) { id } }", {"id": deal})
    ) == ["FORBIDDEN"]


async def test_team_scope_follows_the_org_tree(db: Database) -> None:
    """A lead sees their own records and those of everyone below them, not their peers'."""
    doc = copy.deepcopy(CONFIG)
    doc["roles"]["lead"] = {
        "label": {"en": "Team lead"},
        "permissions": {"entities": {"deal": ["create", "read", "update"]}, "record_scope": "team"},
    }
    api = Api(await make_runtime(db))
    await api.runtime.apply_config(doc)
    ids: dict[str, str] = {}
    tokens: dict[str, str] = {}
    # head <- lead <- rep1 <- rep2 (rep2 reports to rep1), and peer reports to head.
    tree = {"head": None, "lead": "head", "rep1": "lead", "rep2": "rep1", "peer": "head"}
    roles = {"head": "lead", "lead": "lead", "rep1": "rep", "rep2": "rep", "peer": "rep"}
    for name, manager in tree.items():
        ids[name] = await db.add_user(
            "roles",
            f"{name}@x.test",
            name,
            "h",
            [roles[name]],
            "en",
            ids[manager] if manager else None,
        )
        tokens[name] = await issue_token(db, "roles", ids[name])
    for name in tree:
        body = await api.gql(
            "roles", tokens[name], f'mutation {{ createDeal(input: {{name: "{name}"}}) {{ id }} }}'
        )
        assert "errors" not in body, body

    async def visible(who: str) -> set[str]:
        body = await api.gql("roles", tokens[who], "{ deals { edges { node { name } } } }")
        return {e["node"]["name"] for e in body["data"]["deals"]["edges"]}

    assert await visible("lead") == {"lead", "rep1", "rep2"}
    assert await visible("head") == set(tree)
    assert await visible("rep1") == {"rep1"}  # "own": their own, though rep2 reports to them
    # By id too, and a lead may hand a new deal to someone in the team, not outside it.
    peer_deal = await api.gql("roles", tokens["peer"], "{ deals { edges { node { id } } } }")
    pid = peer_deal["data"]["deals"]["edges"][0]["node"]["id"]
    q = "query($id: ID!) { deal(id: $id) { name } }"
    assert error_codes(await api.gql("roles", tokens["lead"], q, {"id": pid})) == ["NOT_FOUND"]
    assert (await api.gql("roles", tokens["head"], q, {"id": pid}))["data"]["deal"] == {
        "name": "peer"
    }
    give = 'mutation($o: ID!) { createDeal(input: {name: "x", ownerId: $o}) { owner { email } } }'
    body = await api.gql("roles", tokens["lead"], give, {"o": ids["rep2"]})
    assert body["data"]["createDeal"]["owner"]["email"] == "rep2@x.test"
    assert error_codes(await api.gql("roles", tokens["lead"], give, {"o": ids["peer"]})) == [
        "FORBIDDEN"
    ]
    await api.close()
