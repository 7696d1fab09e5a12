"""End to end: GraphQL over HTTP through the one service path, on both engines."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from core.store import Database
from tests.api_helpers import Api, acme_config, error_codes, make_runtime

WIDGET_FIELDS = """
  id version createdAt updatedAt
  title notes quantity weight price { amount currency } discount active dueOn seenAt
  grade tags email phone site mainPartId mainPart { id name } partsIds parts { name }
  ownerId owner { email } address { street city region postalCode country } serial
"""


@pytest.fixture
async def api(db: Database) -> AsyncIterator[Api]:
    runtime = await make_runtime(db)
    api = Api(runtime)
    yield api
    await api.close()


async def _part(api: Api, tenant: str, token: str, name: str) -> str:
    body = await api.gql(
        tenant,
        token,
        "mutation($i: PartCreateInput!) { createPart(input: $i) { id name } }",
        {"i": {"name": name}},
    )
    assert "errors" not in body, body
    part_id: str = body["data"]["createPart"]["id"]
    return part_id


async def test_every_field_type_round_trips(api: Api) -> None:
    token = await api.tenant(acme_config())
    p1 = await _part(api, "acme", token, "Bolt")
    p2 = await _part(api, "acme", token, "Nut")
    me = await api.gql("acme", token, "{ meta { me { id } } }")
    owner_id = me["data"]["meta"]["me"]["id"]
    values: dict[str, Any] = {
        "title": "Widget 一号",
        "notes": "long\ntext",
        "quantity": 42,
        "weight": "1.250",
        "price": {"amount": "1234.50", "currency": "EUR"},
        "discount": "12.5",
        "active": True,
        "dueOn": "2026-12-31",
        "seenAt": "2026-11-24T10:30:00+01:00",
        "grade": "a",
        "tags": ["red", "blue"],
        "email": "ana@example.es",
        "phone": "+34 600 123 456",
        "site": "https://example.es/x",
        "mainPartId": p1,
        "partsIds": [p1, p2],
        "ownerId": owner_id,
        "address": {
            "street": "Calle Mayor 1",
            "city": "Madrid",
            "postalCode": "28013",
            "country": "ES",
        },
        "serial": "SN-0001",
    }
    created = await api.gql(
        "acme",
        token,
        f"mutation($i: WidgetCreateInput!) {{ createWidget(input: $i) {{ {WIDGET_FIELDS} }} }}",
        {"i": values},
    )
    assert "errors" not in created, created
    w = created["data"]["createWidget"]
    assert w["version"] == 1
    assert w["weight"] == "1.250" and w["price"] == {"amount": "1234.50", "currency": "EUR"}
    assert w["discount"] == "12.5" and w["quantity"] == 42 and w["active"] is True
    assert w["dueOn"] == "2026-12-31"
    assert w["seenAt"].startswith("2026-11-24T09:30:00")  # stored in UTC
    assert w["tags"] == ["red", "blue"] and w["grade"] == "a"
    assert w["mainPart"] == {"id": p1, "name": "Bolt"}
    assert [p["name"] for p in w["parts"]] == ["Bolt", "Nut"]
    assert w["owner"]["email"] == "owner@example.com"
    assert w["address"]["city"] == "Madrid" and w["address"]["region"] is None
    assert w["title"] == "Widget 一号" and w["serial"] == "SN-0001"

    read = await api.gql(
        "acme",
        token,
        f"query($id: ID!) {{ widget(id: $id) {{ {WIDGET_FIELDS} }} }}",
        {"id": w["id"]},
    )
    assert read["data"]["widget"] == w

    updated = await api.gql(
        "acme",
        token,
        "mutation($id: ID!, $i: WidgetUpdateInput!) {"
        " updateWidget(id: $id, input: $i, expectedVersion: 1) { version quantity notes price { amount } } }",
        {"id": w["id"], "i": {"quantity": 7, "notes": None, "price": {"amount": "0.10"}}},
    )
    assert "errors" not in updated, updated
    assert updated["data"]["updateWidget"] == {
        "version": 2,
        "quantity": 7,
        "notes": None,
        "price": {"amount": "0.10"},
    }

    deleted = await api.gql(
        "acme", token, "mutation($id: ID!) { deleteWidget(id: $id) { id } }", {"id": w["id"]}
    )
    assert deleted["data"]["deleteWidget"]["id"] == w["id"]
    gone = await api.gql(
        "acme", token, "query($id: ID!) { widget(id: $id) { id } }", {"id": w["id"]}
    )
    assert error_codes(gone) == ["NOT_FOUND"]
    rows = await api.runtime.db.audit_for("acme", w["id"])
    assert [r["action"] for r in rows] == ["create", "update", "delete"]


async def test_invalid_input_reports_every_problem_at_its_field(api: Api) -> None:
    token = await api.tenant(acme_config())
    body = await api.gql(
        "acme",
        token,
        "mutation($i: WidgetCreateInput!) { createWidget(input: $i) { id } }",
        {
            "i": {
                "title": "x" * 81,
                "quantity": -1,
                "email": "not-an-email",
                "serial": "bad",
                "price": {"amount": "1.001"},
                "mainPartId": "no-such-part",
            }
        },
    )
    assert error_codes(body) == ["VALIDATION_FAILED"]
    problems = {(e["field"], e["code"]) for e in body["errors"][0]["extensions"]["errors"]}
    assert {
        ("title", "MAX_LENGTH"),
        ("quantity", "MIN"),
        ("email", "EMAIL"),
        ("serial", "PATTERN"),
        ("price.amount", "PRECISION"),
    } <= problems
    listed = await api.gql("acme", token, "{ widgets { totalCount } }")
    assert listed["data"]["widgets"]["totalCount"] == 0


async def test_filters_sorting_and_pagination(api: Api) -> None:
    token = await api.tenant(acme_config())
    for i in range(7):
        body = await api.gql(
            "acme",
            token,
            "mutation($i: WidgetCreateInput!) { createWidget(input: $i) { id } }",
            {"i": {"title": f"w{i}", "quantity": i, "grade": "a" if i % 2 else "b"}},
        )
        assert "errors" not in body, body
    query = """query($after: String) {
      widgets(filter: {or: [{grade: {eq: a}}, {quantity: {gte: 4}}]},
              orderBy: [{field: quantity, direction: DESC}], first: 2, after: $after) {
        totalCount edges { cursor node { quantity } } pageInfo { hasNextPage endCursor } } }"""
    seen: list[int] = []
    after = None
    while True:
        body = await api.gql("acme", token, query, {"after": after})
        assert "errors" not in body, body
        conn = body["data"]["widgets"]
        assert conn["totalCount"] == 5
        seen += [e["node"]["quantity"] for e in conn["edges"]]
        if not conn["pageInfo"]["hasNextPage"]:
            break
        after = conn["pageInfo"]["endCursor"]
    assert seen == [6, 5, 4, 3, 1]


async def test_tenant_isolation(api: Api) -> None:
    token_a = await api.tenant(acme_config("tenant-a"))
    token_b = await api.tenant(acme_config("tenant-b"))
    part_b = await _part(api, "tenant-b", token_b, "B's secret part")

    # A token of tenant A is refused on tenant B's URL.
    body = await api.gql("tenant-b", token_a, "{ parts { totalCount } }")
    assert body["_status"] == 403 and error_codes(body) == ["FORBIDDEN"]
    # By id, filter and relation, B's record does not exist for A.
    body = await api.gql(
        "tenant-a", token_a, "query($id: ID!) { part(id: $id) { id } }", {"id": part_b}
    )
    assert error_codes(body) == ["NOT_FOUND"]
    body = await api.gql(
        "tenant-a",
        token_a,
        "query($id: ID!) { parts(filter: {id: {eq: $id}}) { totalCount } }",
        {"id": part_b},
    )
    assert body["data"]["parts"]["totalCount"] == 0
    body = await api.gql(
        "tenant-a",
        token_a,
        "mutation($i: WidgetCreateInput!) { createWidget(input: $i) { id } }",
        {"i": {"title": "x", "mainPartId": part_b}},
    )
    assert error_codes(body) == ["VALIDATION_FAILED"]
    assert body["errors"][0]["extensions"]["errors"][0]["code"] == "RELATION_NOT_FOUND"
    # Mutations on B's id from A change nothing.
    for mutation in (
        'mutation($id: ID!) { updatePart(id: $id, input: {name: "hacked"}) { id } }',
        "mutation($id: ID!) { deletePart(id: $id) { id } }",
    ):
        body = await api.gql("tenant-a", token_a, mutation, {"id": part_b})
        assert error_codes(body) == ["NOT_FOUND"]
    body = await api.gql(
        "tenant-b", token_b, "query($id: ID!) { part(id: $id) { name version } }", {"id": part_b}
    )
    assert body["data"]["part"] == {"name": "B's secret part", "version": 1}


async def test_requests_without_a_valid_token_are_refused(api: Api) -> None:
    await api.tenant(acme_config())
    response = await api.client.post("/t/acme/graphql", json={"query": "{ __typename }"})
    assert response.status_code == 401
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    body = await api.gql("acme", "tsr_forged", "{ __typename }")
    assert body["_status"] == 401


async def test_concurrent_updates_give_exactly_one_conflict_free_winner(api: Api) -> None:
    token = await api.tenant(acme_config())
    body = await api.gql(
        "acme", token, 'mutation { createWidget(input: {title: "c", quantity: 0}) { id } }'
    )
    wid = body["data"]["createWidget"]["id"]
    mutation = (
        "mutation($id: ID!, $q: Int!) { updateWidget(id: $id, input: {quantity: $q},"
        " expectedVersion: 1) { quantity version } }"
    )
    results = await asyncio.gather(
        *(api.gql("acme", token, mutation, {"id": wid, "q": q}) for q in range(1, 7))
    )
    winners = [r for r in results if "errors" not in r]
    losers = [r for r in results if "errors" in r]
    assert len(winners) == 1
    assert all(error_codes(r) == ["CONFLICT"] for r in losers)
    final = await api.gql(
        "acme", token, "query($id: ID!) { widget(id: $id) { quantity version } }", {"id": wid}
    )
    assert final["data"]["widget"] == winners[0]["data"]["updateWidget"]


async def test_updates_without_expected_version_lose_nothing(api: Api) -> None:
    token = await api.tenant(acme_config())
    body = await api.gql("acme", token, 'mutation { createWidget(input: {title: "t"}) { id } }')
    wid = body["data"]["createWidget"]["id"]
    fields = ["quantity", "notes", "active", "grade"]
    values: list[Any] = [5, "n", True, "b"]
    results = await asyncio.gather(
        *(
            api.gql(
                "acme",
                token,
                "mutation($id: ID!, $v: WidgetUpdateInput!) { updateWidget(id: $id, input: $v) { version } }",
                {"id": wid, "v": {f: v}},
            )
            for f, v in zip(fields, values, strict=True)
        )
    )
    assert all("errors" not in r for r in results), results
    final = await api.gql(
        "acme",
        token,
        "query($id: ID!) { widget(id: $id) { quantity notes active grade version } }",
        {"id": wid},
    )
    assert final["data"]["widget"] == {
        "quantity": 5,
        "notes": "n",
        "active": True,
        "grade": "b",
        "version": 5,
    }


async def test_unique_fields_hold_under_concurrent_inserts(api: Api) -> None:
    token = await api.tenant(acme_config())
    mutation = 'mutation { createPart(input: {name: "p", code: "X-1"}) { id } }'
    results = await asyncio.gather(*(api.gql("acme", token, mutation) for _ in range(6)))
    assert sum("errors" not in r for r in results) == 1
    assert all(
        r["errors"][0]["extensions"]["errors"][0]["code"] == "UNIQUE"
        for r in results
        if "errors" in r
    )
    count = await api.gql("acme", token, "{ parts { totalCount } }")
    assert count["data"]["parts"]["totalCount"] == 1


async def test_computed_fields_are_evaluated_on_every_write(api: Api) -> None:
    token = await api.tenant(acme_config())
    fields = "id totalWeight heavy headline"
    body = await api.gql(
        "acme",
        token,
        f'mutation {{ createWidget(input: {{title: "Crate", quantity: 3, weight: "1.250"}}) {{ {fields} }} }}',
    )
    assert "errors" not in body, body
    widget = body["data"]["createWidget"]
    assert widget == {
        "id": widget["id"],
        "totalWeight": "3.750",
        "heavy": False,
        "headline": "Crate",
    }
    body = await api.gql(
        "acme",
        token,
        f'mutation($id: ID!) {{ updateWidget(id: $id, input: {{weight: "40.5"}}) {{ {fields} }} }}',
        {"id": widget["id"]},
    )
    assert body["data"]["updateWidget"] == {
        "id": widget["id"],
        "totalWeight": "121.500",
        "heavy": True,
        "headline": "Crate (heavy)",
    }
    # Stored, so it can be filtered on like any field.
    found = await api.gql("acme", token, "{ widgets(filter: {heavy: {eq: true}}) { totalCount } }")
    assert found["data"]["widgets"]["totalCount"] == 1
    # Computed fields are not inputs.
    refused = await api.gql(
        "acme", token, 'mutation { createWidget(input: {title: "x", totalWeight: "1"}) { id } }'
    )
    assert error_codes(refused) == ["GRAPHQL_VALIDATION_FAILED"]


async def test_form_required_when_is_enforced_by_the_server(api: Api) -> None:
    """The screens evaluate required_when live; an API client gets the same answer."""
    doc = acme_config()
    doc["forms"]["widget"]["sections"][0]["fields"] = [
        "title",
        "quantity",
        {"field": "notes", "required_when": "has(record.quantity) && record.quantity > 10"},
        {
            "field": "price",
            "visible_when": "has(record.active) && record.active",
            "required_when": "has(record.quantity) && record.quantity > 10",
        },
    ]
    token = await api.tenant(doc)
    create = "mutation($i: WidgetCreateInput!) { createWidget(input: $i) { id version } }"
    body = await api.gql("acme", token, create, {"i": {"title": "Big", "quantity": 11}})
    assert error_codes(body) == ["VALIDATION_FAILED"]
    problems = {(e["field"], e["code"]) for e in body["errors"][0]["extensions"]["errors"]}
    # price is hidden (active is unset), so only notes is asked for.
    assert problems == {("notes", "REQUIRED")}
    body = await api.gql(
        "acme", token, create, {"i": {"title": "Big", "quantity": 11, "active": True}}
    )
    problems = {(e["field"], e["code"]) for e in body["errors"][0]["extensions"]["errors"]}
    assert problems == {("notes", "REQUIRED"), ("price", "REQUIRED")}
    assert (await api.gql("acme", token, "{ widgets { totalCount } }"))["data"]["widgets"][
        "totalCount"
    ] == 0
    # Below the threshold nothing is required; raising it later needs the note.
    body = await api.gql("acme", token, create, {"i": {"title": "Small", "quantity": 2}})
    assert "errors" not in body, body
    wid = body["data"]["createWidget"]["id"]
    update = (
        "mutation($id: ID!, $i: WidgetUpdateInput!) { updateWidget(id: $id, input: $i) { id } }"
    )
    body = await api.gql("acme", token, update, {"id": wid, "i": {"quantity": 20}})
    problems = {(e["field"], e["code"]) for e in body["errors"][0]["extensions"]["errors"]}
    assert problems == {("notes", "REQUIRED")}
    body = await api.gql("acme", token, update, {"id": wid, "i": {"quantity": 20, "notes": "ok"}})
    assert "errors" not in body, body
