"""Any config the schema allows is either applied and served, or refused with located errors."""

from __future__ import annotations

import uuid
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.context import Principal
from core.demo import load_sample_records
from core.demo_data import generate_sample_data
from core.errors import ConfigInvalid
from core.store import Database
from tests.api_helpers import Api, make_runtime
from tests.core.test_config_properties import configs
from tests.strategies import valid_configs

PLUGIN_SETS = st.sampled_from([[], ["sales"], ["sales", "quoting"], ["sales", "service"]])
SETTINGS = settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.function_scoped_fixture,
    ],
)


async def _serve(api: Api, doc: dict[str, Any]) -> None:
    """Apply, load one sample record per entity, and read every entity back."""
    # Examples share the test database: give each its own tenant.
    doc = {**doc, "tenant": f"{doc['tenant'][:40]}-{uuid.uuid4().hex[:8]}"}
    model, problems = api.runtime.validate(doc)
    assert model is not None, problems
    token = await api.tenant(doc)
    owner = await api.runtime.db.get_user(model.tenant, "owner@example.com")
    assert owner is not None
    principal = Principal(model.tenant, owner["id"], owner["email"], ("admin",))
    samples = generate_sample_data(model, counts={"*": 1})
    await load_sample_records(api.runtime, model, principal, samples)
    lists = " ".join(
        f"{e.list_query_name}(first: 5) {{ totalCount edges {{ node {{ id version }} }} }}"
        for e in model.entities.values()
    )
    body = await api.gql(model.tenant, token, f"{{ meta {{ entities {{ key }} }} {lists} }}")
    assert "errors" not in body, body
    assert {e["key"] for e in body["data"]["meta"]["entities"]} == set(model.entities)
    # Internal entities are bookkeeping (the sales plugin's duplicate-match keys): the
    # samples written leave rows there too.
    created = sum(
        body["data"][e.list_query_name]["totalCount"]
        for e in model.entities.values()
        if not e.internal
    )
    assert created == len(samples)


@SETTINGS
@given(doc=valid_configs())
async def test_valid_generated_config_is_applied_and_served(
    db: Database, doc: dict[str, Any]
) -> None:
    api = Api(await make_runtime(db))
    try:
        await _serve(api, doc)
    finally:
        await api.close()


@SETTINGS
@given(doc=configs, plugins=PLUGIN_SETS)
async def test_schema_generated_config_is_served_or_refused_with_located_errors(
    db: Database, doc: dict[str, Any], plugins: list[str]
) -> None:
    doc = {**doc, "plugins": plugins}
    api = Api(await make_runtime(db))
    try:
        model, problems = api.runtime.validate(doc)
        if model is not None:
            await _serve(api, doc)
            return
        assert problems and all(p.code and p.message for p in problems)
        assert all(p.path == "" or p.path.startswith("/") for p in problems)
        try:
            await api.runtime.apply_config(doc)
        except ConfigInvalid as err:
            assert err.problems == problems
        else:
            raise AssertionError("an invalid config was applied")
        assert await api.runtime.db.current_config(str(doc.get("tenant"))) is None
    finally:
        await api.close()
