"""``GET /t/{tenant}/export/{entity}``: any list as a typed workbook, as the caller reads it."""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator
from datetime import date, datetime

import pytest
from openpyxl import load_workbook

from core.security import hash_password, issue_token
from core.store import Database
from tests.api_helpers import Api, acme_config, make_runtime


@pytest.fixture
async def api(db: Database) -> AsyncIterator[tuple[Api, str]]:
    api = Api(await make_runtime(db))
    doc = acme_config()
    doc["roles"] = {
        "clerk": {
            "permissions": {
                "entities": {"widget": ["read"]},
                "fields": {"widget": {"price": "hidden"}},
            }
        },
        "outsider": {"permissions": {"entities": {"part": ["read"]}}},
    }
    token = await api.tenant(doc)
    for title, qty, grade, price in (("Bolt", 5, "a", "2.50"), ("Nut", 50, "b", "0.10")):
        body = await api.gql(
            "acme",
            token,
            "mutation($i: WidgetCreateInput!) { createWidget(input: $i) { id } }",
            {
                "i": {
                    "title": title,
                    "quantity": qty,
                    "grade": grade,
                    "price": {"amount": price, "currency": "EUR"},
                    "dueOn": "2026-12-01",
                    "discount": "12.5",
                }
            },
        )
        assert "errors" not in body, body
    yield api, token
    await api.close()


async def _get(api: Api, token: str, path: str, **params: str) -> tuple[int, bytes]:
    response = await api.client.get(
        f"/t/acme/export/{path}", params=params, headers={"Authorization": f"Bearer {token}"}
    )
    return response.status_code, response.content


async def test_a_list_downloads_as_typed_cells_in_the_callers_order(
    api: tuple[Api, str],
) -> None:
    client, token = api
    status, body = await _get(
        client,
        token,
        "widget",
        orderBy=json.dumps([{"field": "quantity", "direction": "DESC"}]),
    )
    assert status == 200
    ws = load_workbook(io.BytesIO(body)).active
    rows = list(ws.iter_rows(values_only=True))
    header = rows[0]
    assert header[0] == "id" and "Title" in header and "Price" in header and "Grade" in header
    col = {name: i for i, name in enumerate(header)}
    nut, bolt = rows[1], rows[2]  # quantity descending
    assert (nut[col["Title"]], bolt[col["Title"]]) == ("Nut", "Bolt")
    assert nut[col["Quantity"]] == 50 and isinstance(nut[col["Quantity"]], int)
    assert bolt[col["Price"]] == 2.5  # a number, not text
    assert bolt[col["Grade"]] == "A"  # the option's label
    assert bolt[col["Due on"]] in (date(2026, 12, 1), datetime(2026, 12, 1))
    price_cell = ws.cell(row=3, column=col["Price"] + 1)
    assert "EUR" in price_cell.number_format and "0.00" in price_cell.number_format


async def test_the_filter_is_the_list_querys_own(api: tuple[Api, str]) -> None:
    client, token = api
    status, body = await _get(client, token, "widget", filter=json.dumps({"grade": {"eq": "b"}}))
    assert status == 200
    rows = list(load_workbook(io.BytesIO(body)).active.iter_rows(values_only=True))
    assert len(rows) == 2 and "Nut" in rows[1]
    status, body = await _get(client, token, "widget", filter="{not json")
    assert status == 400 and json.loads(body)["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
    status, body = await _get(client, token, "widget", filter=json.dumps({"nope": {"eq": 1}}))
    assert status == 400


async def test_roles_decide_rows_and_columns(api: tuple[Api, str]) -> None:
    client, token = api
    db = client.runtime.db
    tokens = {}
    for role in ("clerk", "outsider"):
        uid = await db.add_user(
            "acme", f"{role}@acme.test", role, hash_password("x" * 10), [role], "en"
        )
        tokens[role] = await issue_token(db, "acme", uid)
    status, body = await _get(client, tokens["clerk"], "widget")
    assert status == 200
    header = next(load_workbook(io.BytesIO(body)).active.iter_rows(values_only=True))
    assert "Title" in header and "Price" not in header  # hidden from the clerk
    status, body = await _get(client, tokens["outsider"], "widget")
    assert status == 403 and json.loads(body)["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    status, _ = await _get(client, "not-a-token", "widget")
    assert status == 401
    status, body = await _get(client, token, "ghost")
    assert status == 404
