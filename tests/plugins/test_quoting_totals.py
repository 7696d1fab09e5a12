"""``quoting.recalculate_total``: the total formula, and the action run by an automation."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from core.store import Database
from plugins.quoting.totals import quote_total
from tests.api_helpers import Api, make_runtime
from tests.plugins.test_quoting import CURRENCIES, decimals, expected


@given(
    amounts=st.lists(decimals("-100000", "1000000", 3), max_size=20),
    discount=st.none() | decimals("0", "100", 2),
    currency=st.sampled_from(CURRENCIES),
)
def test_total_is_the_exact_sum_less_the_discount_rounded_once(
    amounts: list[Decimal], discount: Decimal | None, currency: str
) -> None:
    exact_sum = sum(amounts, Decimal(0))  # exact: few digits, default context
    oracle = expected(exact_sum, Decimal(1), discount or Decimal(0), Decimal(0), currency)
    assert quote_total(amounts, discount, currency) == oracle


CONFIG: dict[str, Any] = {
    "tenant": "quotes",
    "name": {"en": "Quotes"},
    "locales": ["en"],
    "currency": "EUR",
    "timezone": "Europe/Madrid",
    "plugins": ["sales", "quoting"],
    "automations": {
        "line_total": {
            "entity": "quote_line",
            "on": {"event": "created"},
            "do": [{"type": "plugin_action", "action": "quoting.recalculate_total"}],
        },
        "line_changed": {
            "entity": "quote_line",
            "on": {"event": "field_changed", "fields": ["amount"]},
            "do": [{"type": "plugin_action", "action": "quoting.recalculate_total"}],
        },
        "quote_discount": {
            "entity": "quote",
            "on": {"event": "field_changed", "fields": ["discount"]},
            "do": [{"type": "plugin_action", "action": "quoting.recalculate_total"}],
        },
    },
}


async def test_automation_keeps_the_quote_total_in_step_with_its_lines(db: Database) -> None:
    api = Api(await make_runtime(db))
    token = await api.tenant(CONFIG)

    async def gql(query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        body = await api.gql("quotes", token, query, variables)
        assert "errors" not in body, body
        return dict(body["data"])

    account = (await gql('mutation { createAccount(input: {name: "A"}) { id } }'))["createAccount"][
        "id"
    ]
    quote = (
        await gql(
            'mutation($a: ID!) { createQuote(input: {title: "Q", accountId: $a}) { id } }',
            {"a": account},
        )
    )["createQuote"]["id"]
    line = 'mutation($q: ID!, $n: Decimal!, $p: Decimal!) { createQuoteLine(input: {quoteId: $q, description: "x", quantity: $n, unitPrice: {amount: $p}}) { id amount { amount } } }'
    first = await gql(line, {"q": quote, "n": "3.5", "p": "10.05"})
    await gql(line, {"q": quote, "n": "1", "p": "0.10"})
    total = await gql("query($q: ID!) { quote(id: $q) { total { amount } version } }", {"q": quote})
    assert total["quote"]["total"]["amount"] == "35.28"  # 35.175 -> 35.18, + 0.10
    # Changing a line recalculates; the quote's history shows each recalculation.
    await gql(
        'mutation($id: ID!) { updateQuoteLine(id: $id, input: {quantity: "1"}) { id } }',
        {"id": first["createQuoteLine"]["id"]},
    )
    await gql(
        'mutation($q: ID!) { updateQuote(id: $q, input: {discount: "10"}) { id } }', {"q": quote}
    )
    after = await gql(
        "query($q: ID!) { quote(id: $q) { total { amount } audit { action } } }", {"q": quote}
    )
    assert after["quote"]["total"]["amount"] == "9.14"  # (10.05 + 0.10) × 0.9 = 9.135
    # Two lines added, one line changed, the discount (by the user) and its recalculation.
    assert [a["action"] for a in after["quote"]["audit"]] == ["create"] + ["update"] * 5
    await api.close()
