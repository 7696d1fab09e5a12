"""Quote totals: the formula for all inputs, kept in step by the plugin (add, change, delete)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from core.store import Database
from plugins.quoting.amounts import line_amount
from plugins.quoting.totals import quote_total
from tests.api_helpers import Api, make_runtime
from tests.plugins.quoting.test_amounts import CURRENCIES, decimals, expected


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
    # Two lines added, one line changed, the discount with its new total in the same write;
    # the tenant's own recalculation automations find nothing left to change.
    assert [a["action"] for a in after["quote"]["audit"]] == ["create"] + ["update"] * 4
    await api.close()


@given(
    lines=st.lists(
        st.tuples(
            decimals("0", "10000", 3),
            decimals("0", "100000", 4),
            decimals("0", "100", 2),
            decimals("0", "30", 2),
        ),
        max_size=15,
    ),
    discount=st.none() | decimals("0", "100", 2),
    currency=st.sampled_from(CURRENCIES),
)
def test_total_is_the_sum_of_exactly_rounded_lines(
    lines: list[tuple[Decimal, Decimal, Decimal, Decimal]],
    discount: Decimal | None,
    currency: str,
) -> None:
    amounts = [line_amount(q, p, currency, d, t) for q, p, d, t in lines]
    assert amounts == [expected(q, p, d, t, currency) for q, p, d, t in lines]
    # Each line is rounded first; the total rounds the exact sum of those once.
    assert quote_total(amounts, discount, currency) == expected(
        sum(amounts, Decimal(0)), Decimal(1), discount or Decimal(0), Decimal(0), currency
    )


async def test_totals_follow_lines_without_any_automation(db: Database) -> None:
    from tests.plugins.quoting.helpers import Tenant, config

    api = Api(await make_runtime(db))
    t = await Tenant.open(api, config(settings={"quoting": {}}))
    quote = (await t.quote("no automations"))["id"]
    a = await t.line(quote, "2", "10.05", discount="10", taxRate="21")  # 21.8889 -> 21.89
    b = await t.line(quote, "1", "0.10", taxRate="0")
    assert await t.total(quote) == "21.99"
    await t.gql("mutation($id: ID!) { deleteQuoteLine(id: $id) { id } }", {"id": a})
    assert await t.total(quote) == "0.10"  # a deleted line leaves the total
    await t.gql("mutation($id: ID!) { deleteQuoteLine(id: $id) { id } }", {"id": b})
    assert await t.total(quote) == "0.00"
    await api.close()
