"""Disabling the sales plugin for a tenant hides its API and keeps its data; enabling restores it."""

from __future__ import annotations

import uuid

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.api_helpers import error_codes
from tests.plugins.sales.conftest import SalesApi, sales_config

TYPES = '{ a: __type(name: "Account") { name } l: __type(name: "LeadConversion") { name } }'
ACCOUNTS = "{ accounts(first: 100) { edges { node { id name } } } }"


@settings(
    max_examples=4,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    names=st.lists(st.text("abcxyz华強 ", min_size=1, max_size=12).filter(str.strip), max_size=4)
)
async def test_disable_hides_types_keeps_data_and_enable_brings_them_back(
    api: SalesApi, names: list[str]
) -> None:
    tenant = f"e{uuid.uuid4().hex[:12]}"
    doc = sales_config(tenant, duplicates={"mode": "off"})
    await api.runtime.apply_config(doc)
    _uid, token = await api.user(tenant, f"admin@{tenant}.es")
    made = {(await api.create(tenant, token, "Account", {"name": n}))["id"]: n for n in names}

    off = {k: v for k, v in doc.items() if k != "settings"} | {"plugins": []}
    await api.runtime.apply_config(off)
    hidden = await api.ok(tenant, token, TYPES)
    assert hidden == {"a": None, "l": None}
    assert error_codes(await api.gql(tenant, token, ACCOUNTS)) == ["GRAPHQL_VALIDATION_FAILED"]

    await api.runtime.apply_config(doc)
    shown = await api.ok(tenant, token, TYPES)
    assert shown == {"a": {"name": "Account"}, "l": {"name": "LeadConversion"}}
    edges = (await api.ok(tenant, token, ACCOUNTS))["accounts"]["edges"]
    assert {e["node"]["id"]: e["node"]["name"] for e in edges} == made
