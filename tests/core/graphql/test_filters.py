"""Filters and orders translate to core.query exactly; pagination follows cursors."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.graphql.inputs import AND, OR, to_filter
from core.query import And, Condition, Filter, Or, OrderBy
from tests.core.graphql.conftest import Run
from tests.core.graphql.fake_service import FakeService, _matches


async def _listed(run: Run, service: FakeService, args: str) -> tuple[Filter | None, list[OrderBy]]:
    body = await run(f"{{ salesOrders({args}) {{ edges {{ cursor }} }} }}")
    assert "errors" not in body, body
    call = next(c for c in reversed(service.calls) if c[0] == "list")
    return call[1][1], call[1][2]


@pytest.mark.parametrize(
    ("graphql", "expected"),
    [
        ('title: {eq: "a"}', Condition("title", "eq", "a")),
        ('title: {ne: "a"}', Condition("title", "ne", "a")),
        ('title: {in: ["a", "b"]}', Condition("title", "in", ["a", "b"])),
        ('title: {lt: "m"}', Condition("title", "lt", "m")),
        ('email: {lte: "m"}', Condition("email", "lte", "m")),
        ('phone: {gt: "1"}', Condition("phone", "gt", "1")),
        ('site: {gte: "h"}', Condition("site", "gte", "h")),
        ('notes: {contains: "x"}', Condition("notes", "contains", "x")),
        ('title: {startsWith: "Pe"}', Condition("title", "starts_with", "Pe")),
        ("title: {isNull: true}", Condition("title", "is_null", True)),
        ("quantity: {isNull: false}", Condition("quantity", "is_null", False)),
        ("quantity: {gte: 2}", Condition("quantity", "gte", 2)),
        ('weight: {lt: "1.5"}', Condition("weight", "lt", Decimal("1.5"))),
        ("discount: {in: [1, 2.5]}", Condition("discount", "in", [Decimal(1), Decimal("2.5")])),
        ("total: {gt: 100}", Condition("total", "gt", Decimal(100))),
        ("paid: {eq: true}", Condition("paid", "eq", True)),
        ('dueOn: {lte: "2026-01-31"}', Condition("due_on", "lte", date(2026, 1, 31))),
        (
            'shippedAt: {gt: "2026-01-01T00:00:00Z"}',
            Condition("shipped_at", "gt", datetime(2026, 1, 1, tzinfo=UTC)),
        ),
        ("customerLevel: {eq: gold}", Condition("customer_level", "eq", "gold")),
        (
            "customerLevel: {in: [gold, silver]}",
            Condition("customer_level", "in", ["gold", "silver"]),
        ),
        ("tags: {contains: rush}", Condition("tags", "contains", "rush")),
        ('account: {eq: "a1"}', Condition("account", "eq", "a1")),
        ('owner: {in: ["u1"]}', Condition("owner", "in", ["u1"])),
        ('related: {contains: "a1"}', Condition("related", "contains", "a1")),
        ('id: {eq: "x"}', Condition("id", "eq", "x")),
        ("version: {gt: 1}", Condition("version", "gt", 1)),
        (
            'createdAt: {gte: "2026-01-01T00:00:00+00:00"}',
            Condition("created_at", "gte", datetime(2026, 1, 1, tzinfo=UTC)),
        ),
        ('updatedBy: {eq: "u1"}', Condition("updated_by", "eq", "u1")),
        ("score: {gt: 3}", Condition("score", "gt", 3)),
    ],
)
async def test_each_operator_becomes_a_condition(
    run: Run, service: FakeService, graphql: str, expected: Condition
) -> None:
    flt, _ = await _listed(run, service, f"filter: {{{graphql}}}")
    assert flt == expected


async def test_and_or_and_several_conditions(run: Run, service: FakeService) -> None:
    flt, _ = await _listed(
        run,
        service,
        'filter: {quantity: {gt: 1, lt: 9}, or: [{title: {eq: "a"}}, {and: [{paid: {eq: true}},'
        " {dueOn: {isNull: true}}]}]}",
    )
    assert flt == And(
        (
            # operators come in the order of the filter type's fields
            Condition("quantity", "lt", 9),
            Condition("quantity", "gt", 1),
            Or(
                (
                    Condition("title", "eq", "a"),
                    And((Condition("paid", "eq", True), Condition("due_on", "is_null", True))),
                )
            ),
        )
    )


async def test_empty_filters_match_everything(run: Run, service: FakeService) -> None:
    for args in ("filter: {}", 'filter: {or: [{}, {title: {eq: "a"}}]}', "filter: {and: []}"):
        flt, _ = await _listed(run, service, args)
        assert flt is None, args


async def test_order_by_uses_field_keys_and_defaults_to_ascending(
    run: Run, service: FakeService
) -> None:
    _, order = await _listed(
        run,
        service,
        "orderBy: [{field: dueOn, direction: DESC}, {field: customerLevel}, {field: createdAt}]",
    )
    assert order == [
        OrderBy("due_on", descending=True),
        OrderBy("customer_level"),
        OrderBy("created_at"),
    ]


async def test_explicit_nulls_mean_the_defaults(run: Run, service: FakeService) -> None:
    body = await run(
        "query($n: Int) { salesOrders(first: $n, orderBy: [{field: title, direction: null}]) {"
        " totalCount } }",
        {"n": None},
    )
    assert "errors" not in body, body
    call = next(c for c in reversed(service.calls) if c[0] == "list")
    assert call[1][2:4] == ([OrderBy("title")], 50)


async def test_pagination_walks_every_row_once(run: Run, service: FakeService) -> None:
    for q in range(7):
        await run(
            'mutation($q: Int!) { createSalesOrder(input: {title: "p", quantity: $q}) { id } }',
            {"q": q},
        )
    query = """query($after: String) {
      salesOrders(filter: {quantity: {gte: 1}}, orderBy: [{field: quantity, direction: DESC}],
                  first: 2, after: $after) {
        totalCount edges { cursor node { quantity } } pageInfo { hasNextPage endCursor } } }"""
    seen: list[int] = []
    after = None
    pages = 0
    while True:
        body = await run(query, {"after": after})
        conn = body["data"]["salesOrders"]
        assert conn["totalCount"] == 6
        seen += [e["node"]["quantity"] for e in conn["edges"]]
        assert conn["pageInfo"]["endCursor"] == conn["edges"][-1]["cursor"]
        pages += 1
        if not conn["pageInfo"]["hasNextPage"]:
            break
        after = conn["pageInfo"]["endCursor"]
    assert seen == [6, 5, 4, 3, 2, 1] and pages == 3
    count_calls = [c for c in service.calls if c[0] == "count"]
    assert len(count_calls) == 3  # totalCount only when asked, with the same filter
    assert count_calls[0][1][1] == Condition("quantity", "gte", 1)


async def test_total_count_is_not_computed_unless_selected(run: Run, service: FakeService) -> None:
    await run("{ salesOrders { edges { cursor } } }")
    assert not [c for c in service.calls if c[0] == "count"]


# -- property: the translated filter selects what the GraphQL filter means ---------

_leaf = st.builds(
    lambda op, v: {"quantity": {op: v}},
    st.sampled_from(["eq", "ne", "lt", "lte", "gt", "gte"]),
    st.integers(0, 5),
) | st.builds(lambda v: {"quantity": {"isNull": v}}, st.booleans())
_filters = st.recursive(
    _leaf,
    lambda inner: (
        st.builds(lambda xs: {"and": xs}, st.lists(inner, max_size=3))
        | st.builds(lambda xs: {"or": xs}, st.lists(inner, min_size=1, max_size=3))
    ),
    max_leaves=6,
)


def _means(flt: dict[str, Any], q: int | None) -> bool:
    if "and" in flt:
        return all(_means(f, q) for f in flt["and"])
    if "or" in flt:
        return any(_means(f, q) for f in flt["or"])
    ((op, v),) = flt["quantity"].items()
    if op == "isNull":
        return (q is None) is v
    if q is None:
        return op == "ne"
    return {
        "eq": q == v,
        "ne": q != v,
        "lt": q < v,
        "lte": q <= v,
        "gt": q > v,
        "gte": q >= v,
    }[op]


def _coerced(flt: dict[str, Any]) -> dict[str, Any]:
    # What graphql-core hands the resolver: and/or under their out_names.
    if "and" in flt:
        return {AND: [_coerced(f) for f in flt["and"]]}
    if "or" in flt:
        return {OR: [_coerced(f) for f in flt["or"]]}
    return flt


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(_filters, st.one_of(st.none(), st.integers(0, 5)))
def test_translated_filters_keep_their_meaning(flt: dict[str, Any], q: int | None) -> None:
    from core.context import Record

    now = datetime(2026, 1, 1, tzinfo=UTC)
    rec = Record("r", "sales_order", 1, {} if q is None else {"quantity": q}, now, "u", now, "u")
    condition = to_filter(_coerced(flt))
    got = True if condition is None else _matches(rec, condition)
    assert got == _means(flt, q)
