"""Compiled completion plans give exactly graphql-core's answers, errors included."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

import graphql
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_graphql import queries

from core.graphql import static
from core.graphql.completion import PlanCache
from core.graphql.leaves import ItemValue, MethodValue, StoredValue, SystemValue
from core.store import Database
from tests.api_helpers import Api, acme_config, make_runtime

# -- graphql-core schema of plain resolvers: data generated, answers compared ----------


class _Rec:
    def __init__(self, id: str, data: dict[str, Any]) -> None:
        self.id = id
        self.data = data


class _Page:
    def __init__(self, records: list[_Rec]) -> None:
        self.records = records

    def edges(self) -> list[tuple[str, _Rec]]:
        return [(f"c{i}", r) for i, r in enumerate(self.records)]


_STAGE = graphql.GraphQLEnumType("Stage", {"OPEN": "open", "WON": "won"})
_NODE = graphql.GraphQLObjectType(
    "Node",
    {
        "id": graphql.GraphQLField(
            graphql.GraphQLNonNull(graphql.GraphQLID), resolve=SystemValue("id")
        ),
        "name": graphql.GraphQLField(
            graphql.GraphQLNonNull(graphql.GraphQLString), resolve=StoredValue("name")
        ),
        "count": graphql.GraphQLField(graphql.GraphQLInt, resolve=StoredValue("count")),
        "stage": graphql.GraphQLField(_STAGE, resolve=StoredValue("stage")),
        "tags": graphql.GraphQLField(
            graphql.GraphQLList(graphql.GraphQLNonNull(_STAGE)), resolve=StoredValue("tags")
        ),
        "echo": graphql.GraphQLField(
            graphql.GraphQLString,
            {"x": graphql.GraphQLArgument(graphql.GraphQLString)},
            resolve=lambda rec, _info, x=None: x,
        ),
    },
)
_EDGE = graphql.GraphQLObjectType(
    "Edge",
    {
        "cursor": graphql.GraphQLField(
            graphql.GraphQLNonNull(graphql.GraphQLString), resolve=ItemValue(0)
        ),
        "node": graphql.GraphQLField(graphql.GraphQLNonNull(_NODE), resolve=ItemValue(1)),
    },
)
_PAGE = graphql.GraphQLObjectType(
    "Page",
    {
        "edges": graphql.GraphQLField(
            graphql.GraphQLNonNull(graphql.GraphQLList(graphql.GraphQLNonNull(_EDGE))),
            resolve=MethodValue("edges"),
        )
    },
)


def _schema(page: _Page) -> graphql.GraphQLSchema:
    return graphql.GraphQLSchema(
        graphql.GraphQLObjectType(
            "Query",
            {"page": graphql.GraphQLField(graphql.GraphQLNonNull(_PAGE), resolve=lambda *_: page)},
        )
    )


@contextmanager
def _plans(enabled: bool) -> Iterator[None]:
    original = static._RootInTurn._plan
    if not enabled:
        static._RootInTurn._plan = lambda self, *_: None  # type: ignore[method-assign]
    try:
        yield
    finally:
        static._RootInTurn._plan = original  # type: ignore[method-assign]


def _run(schema: graphql.GraphQLSchema, query: str, variables: dict[str, Any]) -> Any:
    result = graphql.execute(
        schema,
        graphql.parse(query),
        variable_values=variables,
        executor_class=static._RootInTurn,
    )
    assert not graphql.pyutils.is_awaitable(result)
    errors = sorted((e.message, tuple(e.path or ())) for e in result.errors or [])
    return result.data, errors


_VALUES = {
    "name": st.one_of(st.none(), st.text(max_size=5), st.integers(), st.just(["x"])),
    "count": st.one_of(st.none(), st.integers(-5, 5), st.just(2**40), st.just("7"), st.just(1.5)),
    "stage": st.one_of(st.none(), st.sampled_from(["open", "won", "lost"])),
    "tags": st.one_of(
        st.none(), st.lists(st.sampled_from(["open", "won", "bad", None]), max_size=3), st.just("x")
    ),
}
_QUERIES = [
    "{ page { edges { cursor node { id name count stage tags } } } }",
    "{ page { edges { node { ...N } c: cursor } } } fragment N on Node { __typename id count }",
    "{ page { edges { node { ... on Node { stage } alias: name } } } }",
    "query($on: Boolean!) { page { edges { node { id name @include(if: $on) } } } }",
    '{ page { edges { node { id echo(x: "hi") count } } } }',
    "{ page { __typename edges { __typename node { __typename } } } }",
]


@given(
    records=st.lists(st.fixed_dictionaries({}, optional=_VALUES), max_size=4),
    query=st.sampled_from(_QUERIES),
    on=st.booleans(),
)
@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
def test_plans_answer_like_graphql_core_for_any_data(
    records: list[dict[str, Any]], query: str, on: bool
) -> None:
    page = _Page([_Rec(f"r{i}", data) for i, data in enumerate(records)])
    schema = _schema(page)
    planned = _run(schema, query, {"on": on})
    with _plans(False):
        plain = _run(schema, query, {"on": on})
    assert planned == plain


def test_a_plain_selection_is_planned_and_the_plan_is_reused() -> None:
    page = _Page([_Rec("r1", {"name": "a", "count": 1})])
    schema = _schema(page)
    document = graphql.parse(_QUERIES[0])
    for _ in range(3):
        result = graphql.execute(schema, document, executor_class=static._RootInTurn)
        assert result.data["page"]["edges"][0]["node"]["name"] == "a"  # type: ignore[index]
    cache: PlanCache = schema._tessera_plans  # type: ignore[attr-defined]
    # One plan for the page's edges (reused), none rebuilt on the later runs.
    plans = [plan for _, plan in cache._plans.values()]
    assert plans and all(plan is not None for plan in plans)
    assert len(plans) == 1


def test_arguments_and_directives_are_not_planned() -> None:
    page = _Page([_Rec("r1", {"name": "a"})])
    for query in (_QUERIES[3], _QUERIES[4]):
        schema = _schema(page)
        graphql.execute(
            schema,
            graphql.parse(query),
            variable_values={"on": True},
            executor_class=static._RootInTurn,
        )
        cache: PlanCache = schema._tessera_plans  # type: ignore[attr-defined]
        assert next(plan for _, plan in cache._plans.values()) is None


# -- a tenant over HTTP: every field type, generated queries, answers compared ---------


@pytest.fixture
async def api(db: Database) -> AsyncIterator[Api]:
    api = Api(await make_runtime(db))
    yield api
    await api.close()


async def _seed(api: Api) -> str:
    token = await api.tenant(acme_config())
    part = await api.gql(
        "acme", token, 'mutation { createPart(input: {name: "Bolt", code: "B-1"}) { id } }'
    )
    part_id = part["data"]["createPart"]["id"]
    for n in range(5):
        values: dict[str, Any] = {
            "title": f"W{n}",
            "quantity": n,
            "price": {"amount": str(Decimal("9.99") * n)},
            "active": n % 2 == 0,
            "dueOn": f"2026-0{n + 1}-15",
            "tags": ["red", "blue"][: n % 3],
            "grade": "a" if n % 2 else None,
            "mainPartId": part_id if n % 2 else None,
            "address": {"city": "Madrid", "country": "ES"} if n % 2 else None,
        }
        body = await api.gql(
            "acme",
            token,
            "mutation($i: WidgetCreateInput!) { createWidget(input: $i) { id } }",
            {"i": {k: v for k, v in values.items() if v is not None}},
        )
        assert "errors" not in body, body
    return token


async def _both(api: Api, token: str, query: str) -> tuple[Any, Any]:
    async def send() -> Any:
        response = await api.client.post(
            "/t/acme/graphql",
            content=orjson.dumps({"query": query}),
            headers={"Authorization": f"Bearer {token}"},
        )
        return response.status_code, response.json()

    planned = await send()
    with _plans(False):
        plain = await send()
    return planned, plain


async def test_tenant_queries_answer_the_same_with_and_without_plans(api: Api) -> None:
    token = await _seed(api)
    handmade = [
        "{ widgets(first: 10) { totalCount edges { cursor node { id version title quantity "
        "weight price { amount currency } discount active dueOn seenAt grade tags email "
        "address { city country } mainPartId mainPart { name } owner { email } } } "
        "pageInfo { hasNextPage endCursor } } }",
        "{ widgets(first: 2, orderBy: [{field: quantity, direction: DESC}]) { edges { node "
        "{ __typename t: title p: price { a: amount } } } pageInfo { hasNextPage } } }",
        "{ parts { edges { node { id name code } } } }",
    ]
    for query in handmade:
        planned, plain = await _both(api, token, query)
        assert planned == plain
        assert "errors" not in planned[1], planned

    body = await api.gql("acme", token, graphql.get_introspection_query(descriptions=False))
    sdl = graphql.print_schema(graphql.build_client_schema(body["data"]))
    scalars = {
        "Decimal": st.just(graphql.StringValueNode(value="1.5")),
        "Date": st.just(graphql.StringValueNode(value="2026-03-15")),
        "DateTime": st.just(graphql.StringValueNode(value="2026-03-15T10:00:00Z")),
        "JSON": st.just(graphql.StringValueNode(value="{}")),
    }
    examples: list[str] = []

    @given(query=queries(sdl, fields=["widgets", "parts"], custom_scalars=scalars))
    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
    def collect(query: str) -> None:
        examples.append(query)

    collect()
    assert examples
    for query in examples:
        planned, plain = await _both(api, token, query)
        assert planned == plain, query
