"""The plugin host: loading, isolation of broken plugins, order and per-tenant enablement."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta
from importlib.metadata import EntryPoint
from pathlib import Path
from typing import Any

import pytest
import strawberry
from hypothesis import given, settings
from hypothesis import strategies as st
from litestar import Litestar
from litestar.testing import TestClient
from strawberry.tools import create_type

from core.context import CallContext, Operation, Principal, Record, utcnow
from core.errors import PluginError, Problem, ValidationFailed
from core.hookspecs import GraphQLContribution, JobSpec, TemplateSpec, hookimpl
from core.metadata import build_tenant_model
from core.plugins import PluginHost, enablement_guard
from core.testing import harness, plugin_host
from tests.api_helpers import plugin_manifest

TESTS = Path(__file__).resolve().parent.parent
FIXTURES = TESTS / "plugins" / "fixtures"
ACME = TESTS / "plugins" / "acme-loyalty"
DELETE = object()


@pytest.fixture
def fixture_path(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.syspath_prepend(str(FIXTURES))
    monkeypatch.syspath_prepend(str(ACME))
    yield


class Recorder:
    """A plugin object that records every hook call into a shared list."""

    def __init__(self, name: str, calls: list[tuple[str, str]], **manifest_extra: Any) -> None:
        self.TESSERA_MANIFEST = plugin_manifest(name, **manifest_extra)
        self.name = name
        self.calls = calls

    @hookimpl
    def tessera_pre_validate(self, ctx: CallContext, operation: Operation) -> None:
        self.calls.append((self.name, "pre_validate"))

    @hookimpl
    async def tessera_pre_operation(self, ctx: CallContext, operation: Operation) -> None:
        await asyncio.sleep(0)
        self.calls.append((self.name, "pre_operation"))

    @hookimpl
    def tessera_post_operation(self, operation: Operation, record: Record) -> Any:
        # A plain function returning an awaitable: the host must await it too.
        async def later() -> None:
            self.calls.append((self.name, "post_operation"))

        return later()

    @hookimpl
    async def tessera_after_commit(self, tenant: str, topic: str) -> None:
        self.calls.append((self.name, f"after_commit:{tenant}:{topic}"))

    @hookimpl
    def tessera_graphql_actions(self, model: Any) -> list[GraphQLContribution]:
        return [GraphQLContribution(f"{self.name}Action", field=None)]

    @hookimpl
    def tessera_jobs(self) -> list[JobSpec]:
        return [JobSpec(f"{self.name}_job", _noop_job, interval=timedelta(minutes=5))]

    @hookimpl
    def tessera_document_templates(self) -> list[TemplateSpec]:
        return [TemplateSpec(f"{self.name}_doc", "account", "en", "<p/>")]


async def _noop_job(tenant: str, runtime: Any) -> None:
    return None


def context_for(host: PluginHost, enabled: list[str]) -> CallContext:
    model = build_tenant_model({"tenant": "t1", "plugins": enabled}, host.contributions())
    return CallContext(model=model, principal=Principal("t1", "u1", "u1@example.com"))


def operation() -> Operation:
    return Operation(entity="account", action="create", record_id="r1", values={})


def record() -> Record:
    now = utcnow()
    return Record("r1", "account", 1, {}, now, "u1", now, "u1")


async def run_all_stages(host: PluginHost, ctx: CallContext) -> None:
    op = operation()
    await host.pre_validate(ctx, op)
    await host.pre_operation(ctx, op)
    await host.post_operation(ctx, op, record())
    await host.after_commit(ctx.model.plugins, "t1", "record.created", {})


# -- loading ---------------------------------------------------------------------


def test_first_party_plugins_load_in_their_manifest_order() -> None:
    host = plugin_host()
    assert host.names[:4] == ["sales", "quoting", "invoicing", "service"]
    assert host.failures == []
    assert host.contributions()["quoting"].version == "0.1.0"


def test_a_plugin_that_fails_to_import_is_reported_and_skipped(fixture_path: None) -> None:
    host = PluginHost.from_entry_points(
        entry_points=[
            EntryPoint("tsr_broken_import", "tsr_broken_import", "tessera"),
            EntryPoint("ghost", "tsr_no_such_module", "tessera"),
            EntryPoint("sales", "plugins.sales", "tessera"),
        ]
    )
    assert host.names == ["sales"]
    failures = {f.name: f.error for f in host.failures}
    assert set(failures) == {"tsr_broken_import", "ghost"}
    assert "ModuleNotFoundError" in failures["tsr_broken_import"]
    assert "tsr_dependency_that_is_not_installed" in failures["tsr_broken_import"]


def test_a_misspelt_hook_is_a_failure_and_the_plugin_never_runs() -> None:
    calls: list[tuple[str, str]] = []

    class Misspelt(Recorder):
        @hookimpl
        def tessera_pre_validat(self, ctx: CallContext, operation: Operation) -> None:
            raise AssertionError("never called")

    host = PluginHost.from_entry_points(entry_points=[], extra=[Misspelt("typo", calls)])
    assert host.names == []
    [failure] = host.failures
    assert failure.name == "typo"
    assert "tessera_pre_validat" in failure.error
    asyncio.run(run_all_stages(host, context_for(host, [])))
    assert calls == []


def test_an_undecorated_hook_function_is_a_failure() -> None:
    class Undecorated:
        TESSERA_MANIFEST = plugin_manifest("plain")

        def tessera_entities(self) -> dict[str, Any]:
            return {}

    host = PluginHost.from_entry_points(entry_points=[], extra=[Undecorated()])
    assert host.names == []
    assert "not decorated with @hookimpl" in host.failures[0].error


def test_hook_arguments_not_in_the_spec_are_a_failure() -> None:
    class WrongArgs:
        TESSERA_MANIFEST = plugin_manifest("wrong_args")

        @hookimpl
        def tessera_pre_validate(self, ctx: CallContext, record: Record) -> None:
            pass

    host = PluginHost.from_entry_points(entry_points=[], extra=[WrongArgs()])
    assert host.names == []
    assert "record" in host.failures[0].error


def test_hook_wrappers_are_refused_because_order_is_explicit() -> None:
    class Wrapper:
        TESSERA_MANIFEST = plugin_manifest("wrapper")

        @hookimpl(wrapper=True)
        def tessera_pre_validate(self, ctx: CallContext, operation: Operation) -> Any:
            return (yield)

    host = PluginHost.from_entry_points(entry_points=[], extra=[Wrapper()])
    assert host.names == []
    assert "order" in host.failures[0].error


@pytest.mark.parametrize(
    ("changes", "code", "path"),
    [
        ({"name": "Bad Name"}, "SCHEMA_PATTERN", "/name"),
        ({"core_version": None}, "SCHEMA_TYPE", "/core_version"),
        ({"order": -1}, "SCHEMA_MINIMUM", "/order"),
        ({"colour": "red"}, "SCHEMA_ADDITIONALPROPERTIES", "/colour"),
        ({"core_version": DELETE}, "SCHEMA_REQUIRED", "/core_version"),
        ({"core_version": ">=0.2"}, "CORE_VERSION_INCOMPATIBLE", "/core_version"),
        ({"core_version": "0.1 or so"}, "CORE_VERSION_INVALID", "/core_version"),
    ],
)
def test_an_invalid_or_incompatible_manifest_is_a_located_failure(
    changes: dict[str, Any], code: str, path: str
) -> None:
    plugin = Recorder("shaky", [])
    merged = {**plugin.TESSERA_MANIFEST, **changes}
    plugin.TESSERA_MANIFEST = {k: v for k, v in merged.items() if v is not DELETE}
    host = PluginHost.from_entry_points(entry_points=[], extra=[plugin])
    assert host.names == []
    [failure] = host.failures
    assert (failure.problems[0].code, failure.problems[0].path) == (code, path)


def test_a_manifest_is_checked_against_the_running_core_version() -> None:
    plugin = Recorder("future", [], core_version=">=0.3")
    assert PluginHost.from_entry_points(entry_points=[], extra=[plugin]).names == []
    newer = PluginHost.from_entry_points(entry_points=[], extra=[plugin], core_version="0.3.1")
    assert newer.names == ["future"]


def test_the_manifest_name_must_match_the_entry_point_and_be_unique() -> None:
    host = PluginHost.from_entry_points(
        entry_points=[EntryPoint("selling", "plugins.sales", "tessera")],
        extra=[Recorder("twin", []), Recorder("twin", [])],
    )
    assert host.names == ["twin"]
    errors = {f.name: f.error for f in host.failures}
    assert "entry point is 'selling'" in errors["selling"]
    assert "already loaded" in errors["twin"]


def test_a_package_without_manifest_is_a_failure() -> None:
    import core.naming

    host = PluginHost.from_entry_points(entry_points=[], extra=[core.naming])
    assert host.names == []
    assert "no manifest" in host.failures[0].error


def test_missing_requirements_drop_a_plugin_and_those_that_need_it() -> None:
    calls: list[tuple[str, str]] = []
    host = PluginHost.from_entry_points(
        entry_points=[],
        extra=[
            Recorder("base", calls, requires=["absent"]),
            Recorder("addon", calls, requires=["base"]),
            Recorder("solo", calls),
        ],
    )
    assert host.names == ["solo"]
    assert {f.name for f in host.failures} == {"base", "addon"}


def test_manifest_entities_must_be_returned_by_the_entities_hook() -> None:
    class Liar:
        TESSERA_MANIFEST = plugin_manifest("liar", entities=["ghost"])

        @hookimpl
        def tessera_entities(self) -> dict[str, Any]:
            return {}

    host = PluginHost.from_entry_points(entry_points=[], extra=[Liar()])
    assert "ghost" in host.failures[0].error


def test_extending_an_entity_of_a_plugin_not_required_is_a_failure() -> None:
    class Sneaky:
        TESSERA_MANIFEST = plugin_manifest("sneaky")

        @hookimpl
        def tessera_entities(self) -> dict[str, Any]:
            return {"account": {"fields": {"x": {"type": "text"}}}}

    host = PluginHost.from_entry_points(
        entry_points=[EntryPoint("sales", "plugins.sales", "tessera")], extra=[Sneaky()]
    )
    assert host.names == ["sales"]
    assert "account" in host.failures[0].error


def test_declarative_hooks_must_not_be_async() -> None:
    class AsyncEntities:
        TESSERA_MANIFEST = plugin_manifest("async_entities")

        @hookimpl
        async def tessera_entities(self) -> dict[str, Any]:
            return {}

    host = PluginHost.from_entry_points(entry_points=[], extra=[AsyncEntities()])
    assert "awaitable" in host.failures[0].error


# -- calling hooks ---------------------------------------------------------------


async def test_every_stage_hook_runs_and_awaitables_are_awaited() -> None:
    calls: list[tuple[str, str]] = []
    host = PluginHost.from_entry_points(entry_points=[], extra=[Recorder("a", calls)])
    await run_all_stages(host, context_for(host, ["a"]))
    assert calls == [
        ("a", "pre_validate"),
        ("a", "pre_operation"),
        ("a", "post_operation"),
        ("a", "after_commit:t1:record.created"),
    ]


async def test_a_disabled_plugin_never_runs_for_that_tenant() -> None:
    calls: list[tuple[str, str]] = []
    host = PluginHost.from_entry_points(
        entry_points=[], extra=[Recorder("on", calls), Recorder("off", calls)]
    )
    ctx = context_for(host, ["on"])
    await run_all_stages(host, ctx)
    assert {name for name, _ in calls} == {"on"}
    assert [c.plugin for c in host.graphql_actions(ctx.model)] == ["on"]
    assert [j.plugin for j in host.jobs(["on"])] == ["on"]
    assert [t.key for t in host.templates(["on"])] == ["on_doc"]
    await run_all_stages(host, context_for(host, []))
    assert {name for name, _ in calls} == {"on"}


@settings(max_examples=25, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from("abcdefgh"), st.integers(0, 3)),
        min_size=1,
        max_size=6,
        unique_by=lambda t: t[0],
    )
)
def test_stage_hooks_run_in_manifest_order_then_name(plugins: list[tuple[str, int]]) -> None:
    calls: list[tuple[str, str]] = []
    # Registration order is the list order; pluggy alone would call them in reverse.
    host = PluginHost.from_entry_points(
        entry_points=[],
        extra=[Recorder(name, calls, order=order * 100) for name, order in plugins],
    )
    ctx = context_for(host, [name for name, _ in plugins])
    asyncio.run(host.pre_validate(ctx, operation()))
    expected = [name for _, name in sorted((order, name) for name, order in plugins)]
    assert [name for name, _ in calls] == expected
    assert host.names == expected


async def test_a_hook_exception_names_the_plugin_and_stops_later_plugins() -> None:
    calls: list[tuple[str, str]] = []

    class Exploding(Recorder):
        @hookimpl
        def tessera_pre_validate(self, ctx: CallContext, operation: Operation) -> None:
            raise KeyError("boom")

    host = PluginHost.from_entry_points(
        entry_points=[],
        extra=[Exploding("first", calls, order=1), Recorder("second", calls, order=2)],
    )
    with pytest.raises(PluginError, match="plugin 'first' failed in tessera_pre_validate"):
        await host.pre_validate(context_for(host, ["first", "second"]), operation())
    assert calls == []


async def test_a_validation_failure_from_a_hook_reaches_the_caller_unchanged() -> None:
    class Strict(Recorder):
        @hookimpl
        async def tessera_pre_operation(self, ctx: CallContext, operation: Operation) -> None:
            raise ValidationFailed("no", [Problem("NOPE", "not today", "name")])

    host = PluginHost.from_entry_points(entry_points=[], extra=[Strict("strict", [])])
    with pytest.raises(ValidationFailed) as info:
        await host.pre_operation(context_for(host, ["strict"]), operation())
    assert info.value.problems == [Problem("NOPE", "not today", "name")]


def test_requirement_problems_point_at_the_tenant_plugin_list() -> None:
    host = plugin_host()
    assert host.requirement_problems(["sales", "quoting"]) == []
    [problem] = host.requirement_problems(["quoting"])
    assert problem.code == "PLUGIN_REQUIRES"
    assert problem.path == "/plugins/0"


# -- a partner plugin using every kind of hook ----------------------------------


async def test_partner_plugin_field_type_entities_and_stage_hooks(fixture_path: None) -> None:
    import acme_loyalty

    h = harness(acme_loyalty)
    assert h.model.plugins == ("sales", "acme_loyalty")
    assert "loyalty_tier" in h.model.entities["account"].fields
    number = h.model.entities["loyalty_card"].fields["number"]
    assert (number.type, number.value_type) == ("loyalty_number", "text")

    op = await h.write("loyalty_card", {"number": "79927398713", "points": 1200})
    assert op.values["tier"] == "silver"
    with pytest.raises(ValidationFailed) as bad_number:
        await h.write("loyalty_card", {"number": "79927398710"})
    assert [(p.code, p.path) for p in bad_number.value.problems] == [("FORMAT", "number")]
    with pytest.raises(ValidationFailed, match="negative"):
        await h.write("loyalty_card", {"number": "79927398713", "points": -1})


def test_partner_plugin_graphql_report_executes_with_strawberry(fixture_path: None) -> None:
    import acme_loyalty

    h = harness(acme_loyalty)
    # The sales plugin it requires has reports of its own.
    [report] = [r for r in h.host.graphql_reports(h.model) if r.plugin == "acme_loyalty"]
    assert (report.name, report.plugin) == ("loyaltyTierFor", "acme_loyalty")
    query = create_type("Query", [report.field])
    result = strawberry.Schema(query=query).execute_sync("{ loyaltyTierFor(points: 6000) }")
    assert result.errors is None
    assert result.data == {"loyaltyTierFor": "gold"}


def test_partner_plugin_jobs_and_templates_are_tagged(fixture_path: None) -> None:
    import acme_loyalty

    host = harness(acme_loyalty).host
    assert [(j.name, j.plugin) for j in host.jobs(["acme_loyalty"])] == [
        ("expire_points", "acme_loyalty"),
        ("sync_partners", "acme_loyalty"),
    ]
    assert host.jobs(["sales"]) == []
    [template] = host.templates(["acme_loyalty"])
    assert (template.key, template.entity, template.plugin) == (
        "card_letter",
        "loyalty_card",
        "acme_loyalty",
    )


def test_partner_routes_are_mounted_per_plugin_and_guarded_per_tenant(fixture_path: None) -> None:
    import acme_loyalty

    host = harness(acme_loyalty).host
    enabled = {"acme": {"sales", "acme_loyalty"}, "other": {"sales"}}

    async def plugins_of(tenant: str) -> set[str]:
        return enabled.get(tenant, set())

    app = Litestar(route_handlers=host.http_routes(guards=[enablement_guard(plugins_of)]))
    with TestClient(app) as client:
        ok = client.get("/t/acme/x/acme_loyalty/tiers/1500")
        assert ok.status_code == 200
        assert ok.json() == {"tenant": "acme", "tier": "silver"}
        assert client.get("/t/other/x/acme_loyalty/tiers/1500").status_code == 404


def test_the_same_plugin_from_an_entry_point_and_extra_loads_once() -> None:
    import plugins.sales

    host = PluginHost.from_entry_points(
        entry_points=[EntryPoint("sales", "plugins.sales", "tessera")], extra=[plugins.sales]
    )
    assert (host.names, host.failures) == (["sales"], [])
