"""Every field type through create, read and update; what the service receives."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from core.graphql.scalars import parse_decimal, serialize_decimal
from tests.core.graphql.conftest import Run
from tests.core.graphql.fake_service import FakeService

FIELDS = """
  id version createdAt updatedAt createdBy { id email name } updatedBy { name }
  title notes email phone site quantity weight discount total { amount currency } paid dueOn
  shippedAt customerLevel tags account { id name } accountId related { name } relatedIds
  owner { email } ownerId shipTo { street city region postalCode country } score code
"""


async def _account(run: Run, name: str) -> str:
    body = await run(
        "mutation($n: String!) { createAccount(input: {name: $n, partyType: person}) { id } }",
        {"n": name},
    )
    assert "errors" not in body, body
    account_id: str = body["data"]["createAccount"]["id"]
    return account_id


async def test_every_field_type_round_trips(run: Run, service: FakeService) -> None:
    a1, a2 = await _account(run, "Uno"), await _account(run, "Dos")
    values: dict[str, Any] = {
        "title": "Pedido 一号",
        "notes": "line\nbreak",
        "email": "ana@example.es",
        "phone": "+34 600 000 000",
        "site": "https://example.es",
        "quantity": 3,
        "weight": "1.250",
        "discount": "12.5",
        "total": {"amount": "1234.50", "currency": "USD"},
        "paid": True,
        "dueOn": "2026-12-31",
        "shippedAt": "2026-11-24T10:30:00+01:00",
        "customerLevel": "gold",
        "tags": ["rush", "gift"],
        "accountId": a1,
        "relatedIds": [a2, a1],
        "ownerId": "u2",
        "shipTo": {"street": "Calle Mayor 1", "city": "Madrid", "postalCode": "28013"},
    }
    created = await run(
        f"mutation($i: SalesOrderCreateInput!) {{ createSalesOrder(input: $i) {{ {FIELDS} }} }}",
        {"i": values},
    )
    assert "errors" not in created, created
    order = created["data"]["createSalesOrder"]
    assert order["version"] == 1
    assert order["createdAt"] == "2026-03-01T12:00:00+00:00"
    assert order["createdBy"] == {"id": "u1", "email": "ana@example.com", "name": "Ana"}
    for key in ("title", "notes", "email", "phone", "site", "quantity", "weight", "discount"):
        assert order[key] == values[key]
    assert order["total"] == {"amount": "1234.50", "currency": "USD"}
    assert order["paid"] is True and order["dueOn"] == "2026-12-31"
    assert order["shippedAt"] == "2026-11-24T09:30:00+00:00"
    assert order["customerLevel"] == "gold" and order["tags"] == ["rush", "gift"]
    assert order["account"] == {"id": a1, "name": "Uno"} and order["accountId"] == a1
    assert [r["name"] for r in order["related"]] == ["Dos", "Uno"]
    assert order["relatedIds"] == [a2, a1]
    assert order["owner"] == {"email": "bo@example.com"} and order["ownerId"] == "u2"
    assert order["shipTo"] == {
        "street": "Calle Mayor 1",
        "city": "Madrid",
        "region": None,
        "postalCode": "28013",
        "country": None,
    }
    assert order["score"] is None and order["code"] is None

    # The service got Python values keyed by field keys.
    _, (entity, sent) = next(
        c for c in service.calls if c[0] == "create" and c[1][0] == "sales_order"
    )
    assert entity == "sales_order"
    assert sent["weight"] == Decimal("1.250") and sent["discount"] == Decimal("12.5")
    assert sent["total"] == {"amount": Decimal("1234.50"), "currency": "USD"}
    assert sent["due_on"] == date(2026, 12, 31)
    assert sent["shipped_at"] == datetime(2026, 11, 24, 9, 30, tzinfo=UTC)
    assert sent["account"] == a1 and sent["related"] == [a2, a1] and sent["owner"] == "u2"
    assert sent["ship_to"] == {"street": "Calle Mayor 1", "city": "Madrid", "postal_code": "28013"}
    assert sent["customer_level"] == "gold" and sent["tags"] == ["rush", "gift"]

    read = await run(
        f"query($id: ID!) {{ salesOrder(id: $id) {{ {FIELDS} }} }}", {"id": order["id"]}
    )
    assert read == {"data": {"salesOrder": order}}


async def test_update_sends_only_given_fields_and_null_clears(
    run: Run, service: FakeService
) -> None:
    body = await run(
        'mutation { createSalesOrder(input: {title: "t", notes: "n", quantity: 1}) { id } }'
    )
    oid = body["data"]["createSalesOrder"]["id"]
    updated = await run(
        "mutation($id: ID!, $i: SalesOrderUpdateInput!) {"
        " updateSalesOrder(id: $id, input: $i, expectedVersion: 1) {"
        " version title notes quantity total { amount currency } } }",
        {"id": oid, "i": {"notes": None, "quantity": 2, "total": {"amount": 5}}},
    )
    assert "errors" not in updated, updated
    assert updated["data"]["updateSalesOrder"] == {
        "version": 2,
        "title": "t",
        "notes": None,
        "quantity": 2,
        "total": {"amount": "5", "currency": "EUR"},  # the tenant's currency
    }
    call = next(c for c in service.calls if c[0] == "update")
    assert call == (
        "update",
        (
            "sales_order",
            oid,
            {"notes": None, "quantity": 2, "total": {"amount": Decimal(5), "currency": "EUR"}},
            1,
        ),
    )


async def test_delete_returns_the_record(run: Run) -> None:
    body = await run('mutation { createSalesOrder(input: {title: "x"}) { id } }')
    oid = body["data"]["createSalesOrder"]["id"]
    deleted = await run(
        "mutation($id: ID!) { deleteSalesOrder(id: $id) { id title } }", {"id": oid}
    )
    assert deleted == {"data": {"deleteSalesOrder": {"id": oid, "title": "x"}}}


async def test_decimal_literals_are_exact(run: Run, service: FakeService) -> None:
    body = await run(
        'mutation { createSalesOrder(input: {title: "d", weight: 0.1, discount: 7,'
        ' total: {amount: "19.99"}}) { weight discount total { amount currency } } }'
    )
    assert body["data"]["createSalesOrder"] == {
        "weight": "0.1",
        "discount": "7",
        "total": {"amount": "19.99", "currency": "EUR"},
    }
    sent = service.calls[-1][1][1]
    assert sent["weight"] == Decimal("0.1") and isinstance(sent["weight"], Decimal)


async def test_invalid_scalars_are_rejected_before_the_service(
    run: Run, service: FakeService
) -> None:
    for literal in ('weight: "abc"', 'weight: "NaN"', "weight: true", 'dueOn: "31/12/2026"'):
        body = await run(
            f'mutation {{ createSalesOrder(input: {{title: "x", {literal}}}) {{ id }} }}'
        )
        assert body["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED", literal
    body = await run(
        "mutation($i: SalesOrderCreateInput!) { createSalesOrder(input: $i) { id } }",
        {"i": {"title": "x", "weight": "1e999999999"}},
    )
    assert "errors" not in body or body["errors"][0]["extensions"]["code"] != "INTERNAL"
    assert not [c for c in service.calls if c[0] == "create" and c[1][0] == "sales_order"][:-1]


async def test_relations_are_loaded_in_one_batch(run: Run, service: FakeService) -> None:
    ids = [await _account(run, f"A{i}") for i in range(3)]
    for i in range(3):
        await run(
            'mutation($a: ID!) { createSalesOrder(input: {title: "o", accountId: $a,'
            ' ownerId: "u1"}) { id } }',
            {"a": ids[i]},
        )
    service.calls.clear()
    body = await run("{ salesOrders { edges { node { account { name } owner { name } } } } }")
    names = [e["node"]["account"]["name"] for e in body["data"]["salesOrders"]["edges"]]
    assert sorted(names) == ["A0", "A1", "A2"]
    assert [c[0] for c in service.calls] == ["list", "get_many", "user_names"] or [
        c[0] for c in service.calls
    ] == ["list", "user_names", "get_many"]


@given(st.decimals(allow_nan=False, allow_infinity=False))
def test_decimal_scalar_round_trips_exactly(value: Decimal) -> None:
    text = serialize_decimal(value)
    assert parse_decimal(text) == value and str(parse_decimal(text)) == str(value)
