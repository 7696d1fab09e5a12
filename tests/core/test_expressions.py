"""The CEL expression layer: located compile problems, evaluation, exactness, bounds."""

from __future__ import annotations

import operator
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.context import Principal
from core.expressions import (
    Expression,
    ExpressionError,
    Limits,
    bindings,
    compile_expression,
    from_cel,
    record_to_cel,
    record_variables,
    to_cel,
)
from core.metadata import EntityDef, build_tenant_model

CONFIG: dict[str, Any] = {
    "tenant": "acme",
    "locales": ["en"],
    "currency": "EUR",
    "timezone": "Asia/Shanghai",
    "entities": {
        "deal": {
            "label": {"en": "Deal"},
            "plural": "deals",
            "fields": {
                "name": {"type": "text"},
                "notes": {"type": "long_text"},
                "quantity": {"type": "integer"},
                "unit_price": {"type": "decimal", "scale": 2},
                "discount": {"type": "percent"},
                "amount": {"type": "money"},
                "won": {"type": "boolean"},
                "close_date": {"type": "date"},
                "closed_at": {"type": "datetime"},
                "stage": {
                    "type": "enum",
                    "options": [{"value": "open"}, {"value": "won"}, {"value": "lost"}],
                },
                "tags": {"type": "multi_enum", "options": [{"value": "vip"}, {"value": "new"}]},
                "email": {"type": "email"},
                "account": {"type": "relation", "target": "deal"},
                "contacts": {"type": "relation_list", "target": "deal"},
                "owner": {"type": "user"},
                "address": {"type": "address"},
                "total": {
                    "type": "computed",
                    "expression": "double(record.quantity) * record.unit_price",
                    "result_type": "decimal",
                    "scale": 2,
                },
            },
        }
    },
}


@pytest.fixture(scope="module")
def deal() -> EntityDef:
    return build_tenant_model(CONFIG, {}).entity("deal")


def compiled(source: str, deal: EntityDef, result: str | None = None) -> Expression:
    expr, problems = compile_expression(
        source, variables=record_variables(deal), pointer="/p", result=result
    )
    assert problems == [], problems
    assert expr is not None
    return expr


def problems_of(source: str, deal: EntityDef, **kw: Any) -> list[tuple[str, str]]:
    expr, problems = compile_expression(
        source, variables=record_variables(deal), pointer="/rules/0/when", **kw
    )
    assert expr is None
    assert problems and all(p.path == "/rules/0/when" for p in problems)
    return [(p.code, p.message) for p in problems]


# -- compile problems ---------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "code", "fragment"),
    [
        ("record.quantity > ", "EXPRESSION_INVALID", "column 19"),
        ("record.quantity >> 2", "EXPRESSION_INVALID", "column"),
        ("", "EXPRESSION_INVALID", "empty"),
        ("x.?y", "EXPRESSION_INVALID", "column 2"),
        ("record.quantty > 1", "EXPRESSION_UNKNOWN_FIELD", "record has no field 'quantty'"),
        ("record['quantty'] > 1", "EXPRESSION_UNKNOWN_FIELD", "'quantty'"),
        ("has(record.nope)", "EXPRESSION_UNKNOWN_FIELD", "'nope'"),
        ("record.address.town == 'x'", "EXPRESSION_UNKNOWN_FIELD", "address has no field 'town'"),
        ("recrd.quantity > 1", "EXPRESSION_UNKNOWN_FIELD", "unknown name 'recrd'"),
        ("[1].exists(x, y > 0)", "EXPRESSION_UNKNOWN_FIELD", "unknown name 'y'"),
        ("record.name.lowerAscii() == 'a'", "EXPRESSION_UNKNOWN_FUNCTION", "lowerAscii"),
        ("record.quantity * record.unit_price", "EXPRESSION_TYPE", "write 2.0 instead of 2"),
        ("record.unit_price * 2", "EXPRESSION_TYPE", "does not mix int and double"),
        ("record.name > 3", "EXPRESSION_TYPE", "cannot order string and int"),
        ("record.won && record.name", "EXPRESSION_TYPE", "needs bool"),
        ("record.won ? 1 : 'a'", "EXPRESSION_TYPE", "both branches"),
        ("record.close_date.getFullYear('Asia/Shanghai') > 2000", "EXPRESSION_TYPE", "time zone"),
        ("record.tags.exists(t, t)", "EXPRESSION_TYPE", "must be bool"),
    ],
)
def test_compile_problems_are_located(
    deal: EntityDef, source: str, code: str, fragment: str
) -> None:
    found = problems_of(source, deal)
    assert found[0][0] == code
    assert fragment in found[0][1]


def test_syntax_error_reports_line_and_column(deal: EntityDef) -> None:
    [(code, message)] = problems_of("record.won &&\n  ", deal)
    assert code == "EXPRESSION_INVALID"
    assert message.startswith("line 2, column")


def test_result_type_is_checked(deal: EntityDef) -> None:
    [(code, message)] = problems_of("record.quantity + 1", deal, result="boolean")
    assert code == "EXPRESSION_TYPE" and "int" in message and "boolean" in message
    compiled("record.quantity + 1", deal, result="decimal")  # int widens to decimal
    compiled("record.close_date + duration('24h')", deal, result="date")


def test_too_long(deal: EntityDef) -> None:
    source = " || ".join(["record.won"] * 300)
    [(code, _)] = problems_of(source, deal)
    assert code == "EXPRESSION_TOO_LONG"
    assert (
        compile_expression(
            source, variables={"record": {"won": "boolean"}}, limits=Limits(max_length=10_000)
        )[0]
        is not None
    )


def test_comprehension_variable_is_scoped(deal: EntityDef) -> None:
    expr = compiled("record.tags.exists(record, record == 'vip')", deal)
    assert expr.evaluate({"record": {"tags": ["vip"]}}) is True


# -- bounded evaluation -------------------------------------------------------


@pytest.mark.parametrize(
    "source",
    [
        "record.contacts.exists(a, record.contacts.exists(b, record.contacts.exists(c, a == b)))",
        "record.contacts.map(a, record.contacts.map(b, a + b)).size() > 0",
        "["
        + ",".join(map(str, range(150)))
        + "].map(a, ["
        + ",".join(map(str, range(150)))
        + "].map(b, a + b)).size() > 0",
        "record.tags.map(t, record.notes + record.notes).size() > 0",
    ],
)
def test_pathological_expressions_are_refused(deal: EntityDef, source: str) -> None:
    [(code, message)] = problems_of(source, deal)
    assert code == "EXPRESSION_TOO_COSTLY"
    assert "exceeds the limit" in message


def test_iterated_inputs_are_bounded_at_runtime(deal: EntityDef) -> None:
    expr = compiled("record.contacts.exists(c, c == 'x')", deal)
    assert expr.evaluate({"record": {"contacts": ["a"] * 500}}) is False
    with pytest.raises(ExpressionError, match="more than 500"):
        expr.evaluate({"record": {"contacts": ["a"] * 501}})


def test_accepted_worst_case_is_fast(deal: EntityDef) -> None:
    expr = compiled("record.contacts.map(c, c + '!').size() > 0", deal)
    start = datetime.now(UTC)
    assert expr.evaluate({"record": {"contacts": ["id"] * 500}}) is True
    assert datetime.now(UTC) - start < timedelta(milliseconds=500)


# -- evaluation ---------------------------------------------------------------


def test_runtime_errors_are_values(deal: EntityDef) -> None:
    missing = compiled("record.quantity > 1", deal)
    with pytest.raises(ExpressionError, match=r"has\(record\.x\)") as info:
        missing.evaluate({"record": {}})
    assert info.value.code == "EXPRESSION_FAILED"
    with pytest.raises(ExpressionError, match="division by zero"):
        compiled("record.quantity / 0 > 1", deal).evaluate({"record": {"quantity": 3}})
    with pytest.raises(ExpressionError, match="overflow"):
        compiled("record.quantity * 9223372036854775807 > 0", deal).evaluate(
            {"record": {"quantity": 2}}
        )
    with pytest.raises(ExpressionError, match="finite"):
        from_cel(
            "decimal",
            compiled("record.unit_price / 0.0", deal).evaluate({"record": {"unit_price": 1.0}}),
        )


def test_has_sees_absent_fields(deal: EntityDef) -> None:
    expr = compiled("!has(record.quantity) || record.quantity > 0", deal, result="boolean")
    assert expr.evaluate({"record": record_to_cel(deal, {"quantity": None})}) is True
    assert expr.evaluate({"record": record_to_cel(deal, {"quantity": 0})}) is False


def test_every_field_type_crosses_into_cel(deal: EntityDef) -> None:
    values: dict[str, Any] = {
        "name": "Ada",
        "notes": "long",
        "quantity": 3,
        "unit_price": Decimal("19.99"),
        "discount": Decimal("12.5"),
        "amount": {"amount": Decimal("1234.50"), "currency": "EUR"},
        "won": True,
        "close_date": date(2024, 3, 5),
        "closed_at": datetime(2024, 3, 5, 9, 30, tzinfo=UTC),
        "stage": "won",
        "tags": ["vip"],
        "email": "a@b.co",
        "account": "acc-1",
        "contacts": ["c1", "c2"],
        "owner": "u1",
        "address": {"city": "Lima", "country": "PE"},
        "id": "r1",
        "version": 4,
    }
    now = datetime(2024, 3, 5, 20, 0, tzinfo=UTC)  # already 6 March in Shanghai
    variables = bindings(
        deal,
        values,
        previous={"stage": "open"},
        principal=Principal("acme", "u1", "ada@acme.test", ("sales",)),
        now=now,
        timezone="Asia/Shanghai",
    )
    checks = {
        "record.name + '!' == 'Ada!' && record.notes == 'long'": True,
        "record.quantity + 1 == 4": True,
        "record.unit_price > 19.98 && record.unit_price < 20": True,
        "record.discount == 12.5": True,
        "record.amount.amount >= 1234.5 && record.amount.currency == 'EUR'": True,
        "record.won": True,
        "record.close_date == timestamp('2024-03-05T00:00:00Z')": True,
        "record.close_date.getDayOfWeek() == 2": True,
        "record.closed_at - record.close_date == duration('9h30m')": True,
        "record.stage == 'won' && previous.stage == 'open'": True,
        "'vip' in record.tags && size(record.contacts) == 2": True,
        "record.email.endsWith('.co') && record.account == 'acc-1'": True,
        "record.owner == user.id && 'sales' in user.roles": True,
        "record.address.city == 'Lima' && !has(record.address.street)": True,
        "record.version == 4 && record.id == 'r1'": True,
        "today == timestamp('2024-03-06T00:00:00Z') && now > record.closed_at": True,
        "record.close_date < today": True,
        "has(previous.stage) && !has(previous.quantity)": True,
    }
    for source, expected in checks.items():
        assert compiled(source, deal, "boolean").evaluate(variables) is expected, source


def test_previous_is_empty_on_create(deal: EntityDef) -> None:
    variables = bindings(
        deal,
        {"stage": "open"},
        previous=None,
        principal=Principal("acme", "u1", "a@b.co"),
        now=datetime.now(UTC),
        timezone="UTC",
    )
    expr = compiled("!has(previous.stage) || previous.stage != record.stage", deal)
    assert expr.evaluate(variables) is True


@pytest.mark.parametrize(
    ("source", "result", "scale", "expected"),
    [
        ("double(record.quantity) * record.unit_price", "decimal", 2, Decimal("59.97")),
        ("0.1 + 0.2", "decimal", None, Decimal("0.3")),
        ("8.7 * 1.15", "decimal", 2, Decimal("10.01")),  # 10.005 exactly: half up
        ("record.quantity * 2", "integer", None, 6),
        ("record.quantity > 2", "boolean", None, True),
        ("record.name + ' (' + record.stage + ')'", "text", None, "Ada (won)"),
        ("record.close_date + duration('720h')", "date", None, date(2024, 4, 4)),
        (
            "record.close_date + duration('36h')",
            "datetime",
            None,
            datetime(2024, 3, 6, 12, 0, tzinfo=UTC),
        ),
    ],
)
def test_computed_values(
    deal: EntityDef, source: str, result: str, scale: int | None, expected: Any
) -> None:
    data = {
        "quantity": 3,
        "unit_price": Decimal("19.99"),
        "name": "Ada",
        "stage": "won",
        "close_date": date(2024, 3, 5),
    }
    expr = compiled(source, deal, result)
    value = from_cel(result, expr.evaluate({"record": record_to_cel(deal, data)}), scale=scale)
    assert value == expected and type(value) is type(expected)


def test_from_cel_rejects_mismatches() -> None:
    with pytest.raises(ExpressionError):
        from_cel("integer", "3")
    with pytest.raises(ExpressionError):
        from_cel("boolean", 1)
    with pytest.raises(ExpressionError):
        from_cel("date", "2024-01-01")
    assert from_cel("integer", 3.0) == 3
    assert from_cel("money", {"amount": 0.1 + 0.2, "currency": "EUR"}, scale=2) == {
        "amount": Decimal("0.30"),
        "currency": "EUR",
    }


def test_to_cel_requires_aware_datetimes() -> None:
    with pytest.raises(ValueError):
        to_cel("datetime", datetime(2024, 1, 1))


def test_only_used_fields_are_passed(deal: EntityDef) -> None:
    expr = compiled("record.quantity > 1 && has(record.name)", deal)
    assert expr.usage == {"record": frozenset({"quantity", "name"})}
    # An unrelated unconvertible value is never handed to the evaluator.
    assert expr.evaluate({"record": {"quantity": 2, "other": object()}, "x": object()}) is False
    assert compiled("size(record) > 0", deal).usage == {"record": None}


# -- properties against Python -------------------------------------------------

DECIMALS = st.decimals(
    min_value=Decimal("-1e9"), max_value=Decimal("1e9"), places=6, allow_nan=False
).filter(lambda d: len(d.normalize().as_tuple().digits) <= 15)
COMPARISONS: dict[str, Callable[[Any, Any], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}


@settings(max_examples=200, deadline=None)
@given(value=DECIMALS, literal=DECIMALS, op=st.sampled_from(sorted(COMPARISONS)))
def test_decimal_comparisons_match_python(value: Decimal, literal: Decimal, op: str) -> None:
    variables = {"record": {"price": "decimal"}}
    expr, _ = compile_expression(f"record.price {op} {literal:f}", variables=variables)
    assert expr is not None
    got = expr.evaluate({"record": {"price": to_cel("decimal", value)}})
    assert got is COMPARISONS[op](value, literal)


MONEY = st.decimals(
    min_value=Decimal("-1e10"), max_value=Decimal("1e10"), places=2, allow_nan=False
)


@settings(max_examples=200, deadline=None)
@given(a=MONEY, b=MONEY, rate=st.decimals(min_value=0, max_value=100, places=4))
def test_short_decimal_arithmetic_is_exact(a: Decimal, b: Decimal, rate: Decimal) -> None:
    variables = {"record": {"a": "decimal", "b": "decimal", "rate": "decimal"}}
    data = {
        "record": {
            "a": to_cel("decimal", a),
            "b": to_cel("decimal", b),
            "rate": to_cel("decimal", rate),
        }
    }
    total, _ = compile_expression("record.a + record.b", variables=variables, result="decimal")
    assert total is not None
    assert from_cel("decimal", total.evaluate(data), scale=2) == a + b
    product, _ = compile_expression("record.a * record.rate", variables=variables)
    assert product is not None
    exact = a * rate
    if len(exact.normalize().as_tuple().digits) <= 15:
        got = from_cel("decimal", product.evaluate(data), scale=2)
        assert got == exact.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


INTS = st.integers(min_value=-(2**31), max_value=2**31)


@settings(max_examples=200, deadline=None)
@given(x=INTS, y=INTS, p=st.booleans(), q=st.booleans())
def test_integer_and_boolean_logic_match_python(x: int, y: int, p: bool, q: bool) -> None:
    variables = {"x": "integer", "y": "integer", "p": "boolean", "q": "boolean"}
    cases: dict[str, Any] = {
        "x + y * 2 - 7": x + y * 2 - 7,
        "(x < y) == (p && !q) || x % 5 == 0": ((x < y) == (p and not q)) or _cel_mod(x, 5) == 0,
        "p ? x : y": x if p else y,
        "x != y && (p || q)": x != y and (p or q),
    }
    if y != 0:
        cases["x / y"] = _cel_div(x, y)
    for source, expected in cases.items():
        expr, problems = compile_expression(source, variables=variables)
        assert expr is not None, problems
        assert expr.evaluate({"x": x, "y": y, "p": p, "q": q}) == expected, source


def _cel_div(x: int, y: int) -> int:
    """CEL integer division truncates toward zero."""
    q = abs(x) // abs(y)
    return q if (x >= 0) == (y > 0) else -q


def _cel_mod(x: int, y: int) -> int:
    return x - _cel_div(x, y) * y
