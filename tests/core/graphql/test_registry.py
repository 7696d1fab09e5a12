"""Schemas per model version: cached, shared, stable; the build is cheap."""

from __future__ import annotations

import gc
import statistics
import time
import tracemalloc
from typing import Any

import pytest
import strawberry

from core.errors import ConfigInvalid
from core.graphql import GraphQLContext, SchemaRegistry, TenantSchema
from core.hookspecs import GraphQLContribution
from core.metadata import TenantModel, build_tenant_model
from graphql import get_introspection_query
from tests.core.graphql.conftest import Run, config, make_model

_TYPES = (
    "text", "long_text", "integer", "decimal", "money", "percent", "boolean", "date",
    "datetime", "enum", "multi_enum", "email", "phone", "url", "relation", "relation_list",
    "user", "address",
)  # fmt: skip


def wide_config(tenant: str, entities: int = 20, fields: int = 30) -> dict[str, Any]:
    """``entities`` x ``fields`` of every type, relations between neighbours."""
    ents: dict[str, Any] = {}
    for e in range(entities):
        specs: dict[str, Any] = {}
        for i in range(fields):
            t = _TYPES[i % len(_TYPES)]
            spec: dict[str, Any] = {"type": t, "label": {"en": f"Field {i}"}}
            if t in ("enum", "multi_enum"):
                spec["options"] = [{"value": f"opt_{k}"} for k in range(4)]
            if t in ("relation", "relation_list"):
                spec["target"] = f"thing_{(e + 1) % entities}"
            specs[f"field_{i}"] = spec
        ents[f"thing_{e}"] = {
            "label": {"en": f"Thing {e}"},
            "plural": f"things_{e}",
            "fields": specs,
        }
    return {"tenant": tenant, "entities": ents}


def test_schemas_are_cached_by_version_key_and_shared(registry: SchemaRegistry) -> None:
    a, b = make_model(), make_model()
    assert a is not b and a.version_key == b.version_key
    assert registry.get(a) is registry.get(b)
    other = make_model(config(currency="USD"))
    assert other.version_key != a.version_key
    assert registry.get(other) is not registry.get(a)


def test_least_recently_used_schemas_are_dropped() -> None:
    registry = SchemaRegistry(max_schemas=2)
    m1, m2, m3 = (make_model(config(currency=c)) for c in ("EUR", "USD", "GBP"))
    s1 = registry.get(m1)
    registry.get(m2)
    assert registry.get(m1) is s1  # m1 is now the most recent
    registry.get(m3)
    assert registry.get(m1) is s1
    assert registry.get(m2) is not None  # rebuilt, not an error


def test_sdl_is_stable(registry: SchemaRegistry) -> None:
    first = registry.get(make_model()).sdl()
    again = SchemaRegistry().get(make_model()).sdl()
    assert first == again
    assert first.index("type Account ") < first.index("type SalesOrder ")


async def test_introspection_works(run: Run) -> None:
    body = await run(get_introspection_query())
    assert "errors" not in body
    names = {t["name"] for t in body["data"]["__schema"]["types"]}
    assert {"SalesOrder", "SalesOrderFilter", "Money", "Decimal", "Meta", "SortDirection"} <= names


def test_name_collisions_are_config_problems(registry: SchemaRegistry) -> None:
    doc = config()
    doc["entities"]["sales_order"]["fields"]["account_id"] = {"type": "text"}
    with pytest.raises(ConfigInvalid) as err:
        registry.get(make_model(doc))
    problems = err.value.problems
    assert {(p.code, p.path) for p in problems} == {
        ("GRAPHQL_NAME_COLLISION", "/entities/sales_order/fields/account_id")
    }
    assert all("accountId" in p.message for p in problems)


def _build_cost(registry: SchemaRegistry, salt: int) -> tuple[float, float]:
    model = build_tenant_model(wide_config(f"wide-{salt}"), {})
    gc.collect()
    tracemalloc.start()
    started = time.perf_counter()
    schema = registry.get(model)
    elapsed = time.perf_counter() - started
    gc.collect()
    retained, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert isinstance(schema, TenantSchema)
    return elapsed, retained


def test_build_of_20_entities_by_30_fields_is_cheap(registry: SchemaRegistry) -> None:
    registry.get(build_tenant_model(wide_config("warm-up"), {}))
    times = []
    for salt in range(3):
        model = build_tenant_model(wide_config(f"timed-{salt}"), {})
        started = time.perf_counter()
        registry.get(model)
        times.append(time.perf_counter() - started)
    _, retained = _build_cost(registry, 99)
    median_ms = statistics.median(times) * 1000
    print(f"\nper-tenant build: median {median_ms:.1f} ms, retained {retained / 2**20:.2f} MiB")
    assert len(registry.get(build_tenant_model(wide_config("n"), {}))._schema.type_map) > 300
    # Targets are 50 ms and 2 MiB; the time bound leaves room for a loaded CI machine.
    assert median_ms < 150
    assert retained < 2 * 2**20


# -- plugin root fields are strawberry fields ---------------------------------


@strawberry.type
class Forecast:
    total: str
    tenant: str


@strawberry.field
def sales_forecast(info: strawberry.Info, months: int = 3) -> Forecast:
    ctx: GraphQLContext = info.context
    return Forecast(total=str(months * 100), tenant=ctx.call.tenant)


@strawberry.field
async def recalculate(info: strawberry.Info, entity: str) -> int:
    ctx: GraphQLContext = info.context
    return await ctx.service.count(ctx.call, entity, None)


class _Plugins:
    def graphql_reports(self, model: TenantModel) -> list[GraphQLContribution]:
        return [GraphQLContribution("salesForecast", sales_forecast, "sales")]

    def graphql_actions(self, model: TenantModel) -> list[GraphQLContribution]:
        return [GraphQLContribution("recalculate", recalculate, "sales")]


async def test_plugin_reports_and_actions_are_root_fields(run: Run) -> None:
    schema = SchemaRegistry(_Plugins()).get(make_model())
    assert "salesForecast(months: Int! = 3): Forecast!" in schema.sdl()
    body = await run("{ salesForecast(months: 2) { total tenant } }", schema=schema)
    assert body == {"data": {"salesForecast": {"total": "200", "tenant": "acme"}}}
    body = await run('mutation { recalculate(entity: "sales_order") }', schema=schema)
    assert body == {"data": {"recalculate": 0}}


class _GatedPlugins(_Plugins):
    def graphql_actions(self, model: TenantModel) -> list[GraphQLContribution]:
        return [GraphQLContribution("recalculate", recalculate, "sales", entity="sales_order")]


async def _as(role: str, schema: TenantSchema, model: TenantModel, query: str) -> dict[str, Any]:
    from core.context import CallContext, Principal
    from tests.core.graphql.conftest import NOW, FakeService

    principal = Principal(tenant="acme", user_id="u1", email="ana@example.com", roles=(role,))
    ctx = GraphQLContext(
        call=CallContext(model=model, principal=principal, clock=lambda: NOW),
        service=FakeService(),
    )
    return await schema.execute(query, None, None, ctx)


async def test_a_plugin_field_on_an_entity_needs_the_run_permission() -> None:
    roles = {
        "runner": {"permissions": {"entities": {"sales_order": ["read", "run"]}}},
        "reader": {"permissions": {"entities": {"sales_order": ["read"]}}},
    }
    model = make_model(config(roles=roles))
    schema = SchemaRegistry(_GatedPlugins()).get(model)
    query = 'mutation { recalculate(entity: "sales_order") }'
    assert await _as("runner", schema, model, query) == {"data": {"recalculate": 0}}
    refused = await _as("reader", schema, model, query)
    assert refused["data"] is None
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    # A report that names no entity stays open to every role.
    body = await _as("reader", schema, model, "{ salesForecast { total } }")
    assert body == {"data": {"salesForecast": {"total": "300"}}}


def test_a_plugin_field_on_an_unknown_entity_is_a_located_problem() -> None:
    class Bad(_Plugins):
        def graphql_actions(self, model: TenantModel) -> list[GraphQLContribution]:
            return [GraphQLContribution("recalculate", recalculate, "sales", entity="nope")]

    with pytest.raises(ConfigInvalid) as caught:
        SchemaRegistry(Bad()).get(make_model())
    assert caught.value.problems[0].path == "/plugins/sales/actions"
