"""Errors carry codes; limits are on by default; operations are cached with them on."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from core.context import CallContext, Principal
from core.errors import ValidationFailed
from core.graphql import GraphQLContext, Limits, SchemaRegistry
from core.metadata import TenantModel
from tests.core.graphql.conftest import NOW, Run, make_model
from tests.core.graphql.fake_service import FakeService


def _codes(body: dict[str, object]) -> list[str]:
    return [e["extensions"]["code"] for e in body.get("errors") or []]  # type: ignore[attr-defined,index]


async def test_validation_errors_carry_code_and_located_problems(run: Run) -> None:
    body = await run(
        'mutation { createSalesOrder(input: {title: "x", accountId: "missing"}) { id } }'
    )
    assert body["data"] is None
    (error,) = body["errors"]
    assert error["message"] == "1 invalid value(s)"
    assert error["path"] == ["createSalesOrder"]
    assert error["extensions"] == {
        "code": "VALIDATION_FAILED",
        "errors": [
            {"field": "accountId", "code": "RELATION_NOT_FOUND", "message": "no such record"}
        ],
    }


async def test_conflict_and_not_found(run: Run) -> None:
    body = await run('mutation { createSalesOrder(input: {title: "x"}) { id } }')
    oid = body["data"]["createSalesOrder"]["id"]
    stale = await run(
        "mutation($id: ID!) { updateSalesOrder(id: $id, input: {}, expectedVersion: 7) { id } }",
        {"id": oid},
    )
    assert _codes(stale) == ["CONFLICT"]
    assert stale["errors"][0]["extensions"]["errors"][0]["field"] == "expectedVersion"
    missing = await run('{ salesOrder(id: "nope") { id } }')
    assert missing["data"] == {"salesOrder": None} and _codes(missing) == ["NOT_FOUND"]


async def test_unexpected_exceptions_are_internal_and_logged(
    run: Run,
    service: FakeService,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def broken(*_args: object) -> int:
        raise RuntimeError("secret detail")

    monkeypatch.setattr(service, "count", broken)
    with caplog.at_level(logging.ERROR, logger="core.graphql"):
        body = await run("{ salesOrders { totalCount } }")
    assert _codes(body) == ["INTERNAL"]
    assert "secret" not in body["errors"][0]["message"]
    assert any("secret detail" in (r.exc_text or "") for r in caplog.records)


async def test_errors_of_the_request_itself_have_codes(run: Run) -> None:
    assert _codes(await run("{ salesOrders {")) == ["GRAPHQL_PARSE_FAILED"]
    assert _codes(await run("{ salesOrders { nope } }")) == ["GRAPHQL_VALIDATION_FAILED"]
    body = await run("query($n: Int!) { salesOrders(first: $n) { totalCount } }", {"n": "x"})
    assert _codes(body) == ["GRAPHQL_VALIDATION_FAILED"]


async def test_page_size_over_the_limit_is_an_error_not_a_clamp(run: Run) -> None:
    body = await run("{ salesOrders(first: 201) { totalCount } }")
    assert _codes(body) == ["LIMIT_EXCEEDED"]
    assert body["errors"][0]["extensions"]["errors"][0]["field"] == "first"
    assert "errors" not in await run("{ salesOrders(first: 200) { totalCount } }")
    assert _codes(await run("{ salesOrders(first: -1) { totalCount } }")) == ["BAD_REQUEST"]


async def test_depth_aliases_and_tokens_are_limited(run: Run) -> None:
    deep = "{ salesOrders { edges { node { account { id } } } } }"
    assert "errors" not in await run(deep)
    nested = "meta { entities { fields { options { labels { text } } } } }"
    assert "errors" not in await run("{ " + nested + " }")
    too_deep = (
        "{ salesOrders { edges { node { audit { actor { id } } related { id } "
        "createdBy { id } } } } a: salesOrders { edges { node { account { id } } } } }"
    )
    assert "errors" not in await run(too_deep)
    strict = SchemaRegistry(limits=Limits(max_depth=3, max_aliases=2, max_tokens=40))
    schema = strict.get(make_model())

    async def run_strict(query: str) -> dict[str, Any]:
        return await run(query, schema=schema)

    body = await run_strict("{ salesOrders { edges { node { account { id } } } } }")
    assert _codes(body) == ["LIMIT_EXCEEDED"] and "depth" in body["errors"][0]["message"]
    body = await run_strict("{ a: meta { me { id } } b: meta { me { id } } c: meta { me { id } } }")
    assert _codes(body) == ["LIMIT_EXCEEDED"] and "aliases" in body["errors"][0]["message"]
    body = await run_strict("{ " + " ".join(f"f{i}: __typename" for i in range(30)) + " }")
    assert _codes(body) == ["LIMIT_EXCEEDED"] and "tokens" in body["errors"][0]["message"]


async def test_limits_default_values() -> None:
    assert Limits() == Limits(
        max_depth=12,
        max_aliases=30,
        max_tokens=5000,
        max_page_size=200,
        max_cost=50_000,
        assumed_list=100,
    )


async def test_query_cost_is_bounded_before_anything_runs(run: Run) -> None:
    # 200 orders × (their fields + 100 history entries each): about 20,000 — allowed.
    ok = "{ salesOrders(first: 200) { edges { node { id title audit { action } } } } }"
    assert "errors" not in await run(ok)
    # Nested lists multiply: 200 × 200 × ... is refused at validation, with a hint.
    heavy = (
        "{ salesOrders(first: 200) { edges { node { id audit { action diff actor { id } } "
        "account { id } } } } b: salesOrders(first: 200) { edges { node { audit { at } } } } "
        "c: salesOrders { edges { node { audit { at action } } } } }"
    )
    body = await run(heavy)
    assert _codes(body) == ["LIMIT_EXCEEDED"]
    assert "at most 50,000" in body["errors"][0]["message"]
    # A variable 'first' counts as the largest page; fragments count like inline fields.
    strict = SchemaRegistry(limits=Limits(max_cost=500))
    schema = strict.get(make_model())
    small = "query($n: Int) { salesOrders(first: $n) { edges { node { id } } } }"
    body = await run(small, schema=schema)
    assert _codes(body) == ["LIMIT_EXCEEDED"]  # 200 × 3 fields > 500
    frag = (
        "fragment F on SalesOrder { id title audit { at } } "
        "{ salesOrders(first: 5) { edges { node { ...F } } } }"
    )
    body = await run(frag, schema=schema)
    assert _codes(body) == ["LIMIT_EXCEEDED"]  # 5 × (1 + 1 + 1 + 100 × 1) > 500
    assert "errors" not in await run(
        "{ salesOrders(first: 5) { edges { node { id title } } } }", schema=schema
    )


async def test_repeated_operations_skip_parse_and_validation(
    registry: SchemaRegistry, model: TenantModel, run: Run
) -> None:
    schema = registry.get(model)
    query = "{ salesOrders(first: 3) { totalCount edges { node { id title } } } }"
    await run(query)
    hits, misses = schema.cache.hits, schema.cache.misses
    for _ in range(3):
        assert "errors" not in await run(query)
    assert schema.cache.hits == hits + 3 and schema.cache.misses == misses
    # A cached invalid operation stays invalid.
    for _ in range(2):
        assert _codes(await run("{ salesOrders { nope } }")) == ["GRAPHQL_VALIDATION_FAILED"]


async def test_an_error_in_a_non_null_field_nulls_its_parent(
    model: TenantModel,
    registry: SchemaRegistry,
    service: FakeService,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ctx = GraphQLContext(
        call=CallContext(model=model, principal=Principal("acme", "u1", "a@x"), clock=lambda: NOW),
        service=service,
    )
    rec = await service.create(ctx.call, "sales_order", {"title": "x"})

    async def failing_audit(*_args: object) -> list[dict[str, object]]:
        raise ValidationFailed("no audit for you")

    monkeypatch.setattr(service, "audit", failing_audit)
    body = await registry.get(model).execute(
        "query($id: ID!) { salesOrder(id: $id) { title audit { action } } }",
        {"id": rec.id},
        None,
        ctx,
    )
    assert body["data"] == {"salesOrder": None}
    assert body["errors"][0]["path"] == ["salesOrder", "audit"]
    assert _codes(body) == ["VALIDATION_FAILED"]
