"""Quote line amounts: the formula for all inputs, and the hook on create and update."""

from __future__ import annotations

import math
from decimal import Decimal
from fractions import Fraction

import pytest
from babel.numbers import get_currency_precision
from hypothesis import given
from hypothesis import strategies as st

import plugins.quoting
from core.testing import PluginHarness, harness
from plugins.quoting.amounts import line_amount

CURRENCIES = ("USD", "EUR", "JPY", "KWD", "CNY", "PHP")


def decimals(lo: str, hi: str, places: int) -> st.SearchStrategy[Decimal]:
    return st.decimals(Decimal(lo), Decimal(hi), places=places, allow_nan=False)


def expected(q: Decimal, p: Decimal, d: Decimal, t: Decimal, currency: str) -> Decimal:
    """Independent oracle: exact rationals, then half-up (away from zero) at the minor unit."""
    exact = Fraction(q) * Fraction(p) * (1 - Fraction(d) / 100) * (1 + Fraction(t) / 100)
    places = get_currency_precision(currency)
    scaled = abs(exact) * 10**places
    units = math.floor(scaled + Fraction(1, 2))
    sign = -1 if exact < 0 and units else 1
    return (Decimal(sign * units) / Decimal(10) ** places).quantize(Decimal(1).scaleb(-places))


@given(
    quantity=decimals("0", "1000000", 4),
    price=decimals("-100000", "1000000", 4),
    discount=decimals("0", "100", 3),
    tax=decimals("0", "100", 3),
    currency=st.sampled_from(CURRENCIES),
)
def test_amount_is_the_exact_formula_rounded_half_up_to_the_currency(
    quantity: Decimal, price: Decimal, discount: Decimal, tax: Decimal, currency: str
) -> None:
    amount = line_amount(quantity, price, currency, discount, tax)
    assert amount == expected(quantity, price, discount, tax, currency)
    assert amount.as_tuple().exponent == -get_currency_precision(currency)
    assert not (amount.is_zero() and amount.is_signed())


@pytest.mark.parametrize(
    ("args", "result"),
    [
        ((Decimal("1"), Decimal("0.125"), "USD"), Decimal("0.13")),  # half up, not to even
        ((Decimal("1"), Decimal("0.135"), "USD"), Decimal("0.14")),
        ((Decimal("3"), Decimal("333.5"), "JPY"), Decimal("1001")),  # 1000.5 -> 1001
        ((Decimal("1"), Decimal("1.0005"), "KWD"), Decimal("1.001")),
        ((Decimal("2"), Decimal("50"), "EUR", Decimal("10"), Decimal("21")), Decimal("108.90")),
        ((Decimal("1"), Decimal("99"), "EUR", Decimal("100"), None), Decimal("0.00")),
    ],
)
def test_amount_examples(args: tuple[object, ...], result: Decimal) -> None:
    assert line_amount(*args) == result  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def h() -> PluginHarness:
    return harness(plugins.quoting, config={"currency": "EUR"})


async def test_create_sets_the_amount_in_the_price_currency(h: PluginHarness) -> None:
    op = await h.write(
        "quote_line",
        {
            "quote": "q1",
            "quantity": Decimal("3"),
            "unit_price": {"amount": Decimal("19.99"), "currency": "USD"},
            "discount": Decimal("5"),
            "tax_rate": Decimal("8.25"),
        },
    )
    # 3 * 19.99 * 0.95 * 1.0825 = 61.6701... -> 61.67
    assert op.values["amount"] == {"amount": Decimal("61.67"), "currency": "USD"}


async def test_update_recomputes_from_the_previous_values(h: PluginHarness) -> None:
    previous = h.record(
        "quote_line",
        {
            "quote": "q1",
            "quantity": Decimal("2"),
            "unit_price": {"amount": Decimal("10.00"), "currency": "EUR"},
            "amount": {"amount": Decimal("20.00"), "currency": "EUR"},
        },
    )
    op = await h.write("quote_line", {"discount": Decimal("50")}, previous=previous)
    assert op.values["amount"] == {"amount": Decimal("10.00"), "currency": "EUR"}

    untouched = await h.write("quote_line", {"description": "Cable"}, previous=previous)
    assert "amount" not in untouched.values

    cleared = await h.write("quote_line", {"unit_price": None}, previous=previous)
    assert cleared.values["amount"] is None


async def test_other_entities_and_deletes_are_left_alone(h: PluginHarness) -> None:
    quote = await h.write("quote", {"title": "Q", "discount": Decimal("5")})
    assert "amount" not in quote.values
    previous = h.record("quote_line", {"quantity": Decimal("1")})
    deleted = await h.write("quote_line", {}, previous=previous, action="delete")
    assert deleted.values == {}
