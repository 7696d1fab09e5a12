"""Lead conversion end to end: reuse of a matching account, atomicity, links, on both engines."""

from __future__ import annotations

import uuid
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.api_helpers import error_codes
from tests.plugins.sales.conftest import SalesApi, sales_config

CONVERT = """mutation($id: ID!, $amount: Decimal, $name: String) {
  convertLead(id: $id, amount: $amount, opportunityName: $name) {
    leadId accountId contactId opportunityId accountReused contactReused matchedBy
  }
}"""
LEAD = """query($id: ID!) { lead(id: $id) {
  status convertedAccountId convertedContactId convertedOpportunityId convertedAt
} }"""


async def _convert(api: SalesApi, token: str, lead_id: str, **variables: Any) -> dict[str, Any]:
    data = await api.ok("ventas", token, CONVERT, {"id": lead_id, **variables})
    out: dict[str, Any] = data["convertLead"]
    return out


async def test_conversion_creates_and_links_three_records(api: SalesApi) -> None:
    token = await api.tenant(sales_config())
    lead = await api.create(
        "ventas",
        token,
        "Lead",
        {"name": "Ana García", "company": "Cables y Conectores Madrid", "email": "ana@cyc.es"},
    )
    done = await _convert(api, token, lead["id"], amount="1200.50", name="Cableado nave 2")
    assert done["accountReused"] is False and done["contactReused"] is False
    data = await api.ok(
        "ventas",
        token,
        """query($a: ID!, $o: ID!) {
          account(id: $a) { name partyType email }
          opportunity(id: $o) { name amount { amount currency } stage probability
                                accountId contactId leadId pipeline }
        }""",
        {"a": done["accountId"], "o": done["opportunityId"]},
    )
    assert data["account"] == {
        "name": "Cables y Conectores Madrid",
        "partyType": "prospect",
        "email": "ana@cyc.es",
    }
    opp = data["opportunity"]
    assert opp["amount"] == {"amount": "1200.50", "currency": "EUR"}
    assert (opp["stage"], opp["probability"], opp["pipeline"]) == ("prospecting", "10", "default")
    assert (opp["accountId"], opp["contactId"], opp["leadId"]) == (
        done["accountId"],
        done["contactId"],
        lead["id"],
    )
    marked = (await api.ok("ventas", token, LEAD, {"id": lead["id"]}))["lead"]
    assert marked["status"] == "converted"
    assert marked["convertedAccountId"] == done["accountId"]
    assert marked["convertedOpportunityId"] == done["opportunityId"]
    assert marked["convertedAt"]
    again = await api.gql("ventas", token, CONVERT, {"id": lead["id"]})
    assert error_codes(again) == ["VALIDATION_FAILED"]


async def test_conversion_reuses_the_account_written_in_traditional_characters(
    api: SalesApi,
) -> None:
    token = await api.tenant(sales_config())
    account = await api.create("ventas", token, "Account", {"name": "华强电子有限公司"})
    lead = await api.create("ventas", token, "Lead", {"name": "王小明", "company": "華強電子"})
    done = await _convert(api, token, lead["id"])
    assert done["accountReused"] is True
    assert done["accountId"] == account["id"]
    assert done["matchedBy"] == ["NAME_SAME"]
    count = await api.ok("ventas", token, "{ accounts { totalCount } }")
    assert count["accounts"]["totalCount"] == 1


async def test_a_failing_conversion_leaves_nothing(api: SalesApi) -> None:
    # The default stage (prospecting) is not in this pipeline, so every conversion fails
    # at its third write: the account and contact made before must not survive.
    stages = [{"stage": "closed_lost", "probability": 0, "outcome": "lost"}]
    token = await api.tenant(sales_config(pipelines={"p": {"stages": stages}}))
    lead = await api.create(
        "ventas", token, "Lead", {"name": "Luis", "company": "Papelera del Ebro"}
    )
    body = await api.gql("ventas", token, CONVERT, {"id": lead["id"]})
    assert error_codes(body) == ["VALIDATION_FAILED"]
    counts = await api.ok(
        "ventas",
        token,
        "{ accounts { totalCount } contacts { totalCount } matchKeys { totalCount } }",
    )
    assert counts["accounts"]["totalCount"] == 0
    assert counts["contacts"]["totalCount"] == 0
    status = (await api.ok("ventas", token, LEAD, {"id": lead["id"]}))["lead"]["status"]
    assert status == "new"


async def test_only_conversion_marks_a_lead_converted(api: SalesApi) -> None:
    token = await api.tenant(sales_config())
    lead = await api.create("ventas", token, "Lead", {"name": "Eva"})
    body = await api.gql(
        "ventas",
        token,
        "mutation($id: ID!) { updateLead(id: $id, input: {status: converted}) { id } }",
        {"id": lead["id"]},
    )
    assert error_codes(body) == ["VALIDATION_FAILED"]
    assert body["errors"][0]["extensions"]["errors"][0]["field"] == "status"


# -- property: conversion never creates a duplicate account when a match exists --------

VARIANTS = {
    "Industrias Pérez S.A.": ["Industrias Perez, S.L.", "INDUSTRIAS PÉREZ", "Industiras Pérez SA"],
    "华强电子有限公司": ["華強電子", "深圳市华强电子", "Huaqiang Dianzi Co., Ltd."],
    "Northwind Traders": [
        "Northwind Traders Co.",
        "Nortwind Traders",
        "ＮＯＲＴＨＷＩＮＤ ＴＲＡＤＥＲＳ",
    ],
}


@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    data=st.data(),
    original=st.sampled_from(sorted(VARIANTS)),
    others=st.lists(
        st.sampled_from(["Apex Motors", "Omega Plastics", "Banco Santander"]), max_size=2
    ),
)
async def test_conversion_never_duplicates_a_matching_account(
    api: SalesApi, data: st.DataObject, original: str, others: list[str]
) -> None:
    tenant = f"p{uuid.uuid4().hex[:12]}"
    await api.runtime.apply_config(sales_config(tenant))
    _uid, token = await api.user(tenant, f"u{tenant}@example.com")
    account = await api.create(tenant, token, "Account", {"name": original})
    for name in others:
        await api.create(tenant, token, "Account", {"name": name})
    variant = data.draw(st.sampled_from(VARIANTS[original]))
    lead = await api.create(tenant, token, "Lead", {"name": "Contact", "company": variant})
    done = (await api.ok(tenant, token, CONVERT.replace("ventas", tenant), {"id": lead["id"]}))[
        "convertLead"
    ]
    assert done["accountId"] == account["id"]
    total = await api.ok(tenant, token, "{ accounts { totalCount } }")
    assert total["accounts"]["totalCount"] == 1 + len(others)
