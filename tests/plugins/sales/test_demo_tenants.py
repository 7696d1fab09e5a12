"""The demo tenants: Shenzhen warns about a duplicate written in traditional characters and a
rep converts the lead onto the existing account; Madrid runs its own Spanish pipeline."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from core.config import load_config_file
from tests.api_helpers import error_codes
from tests.plugins.sales.conftest import SalesApi

CONFIGS = Path(__file__).resolve().parents[3] / "tenant_configs"


def _config(tenant: str) -> dict[str, Any]:
    doc, problems = load_config_file(CONFIGS / f"{tenant}.json")
    assert doc is not None and not problems
    return doc


async def test_shenzhen_rep_is_warned_and_converts_onto_the_existing_account(
    api: SalesApi,
) -> None:
    tenant = "shenzhen-components"
    admin = await api.tenant(_config(tenant))
    rep, rep_token = await api.user(tenant, "sales@shenzhen-components.example", ["sales_rep"])
    account = await api.create(
        tenant, admin, "Account", {"name": "深圳市华强电子有限公司", "ownerId": rep}
    )
    lead = await api.create(
        tenant,
        rep_token,
        "Lead",
        {"name": "陈静", "company": "華強電子有限公司"},
        "id ownerId matchedAccount { id name }",
    )
    assert lead["matchedAccount"] == {"id": account["id"], "name": "深圳市华强电子有限公司"}
    assert lead["ownerId"] == rep  # a rep limited to their own records owns what they create
    done = await api.ok(
        tenant,
        rep_token,
        'mutation($id: ID!) { convertLead(id: $id, amount: "88000") { accountId accountReused opportunityId } }',
        {"id": lead["id"]},
    )
    assert done["convertLead"]["accountId"] == account["id"]
    assert done["convertLead"]["accountReused"] is True
    opp = await api.ok(
        tenant,
        rep_token,
        "query($id: ID!) { opportunity(id: $id) { stage probability ownerId } }",
        {"id": done["convertLead"]["opportunityId"]},
    )
    assert opp["opportunity"] == {"stage": "prospecting", "probability": "10", "ownerId": rep}


async def test_madrid_runs_its_own_pipeline(api: SalesApi) -> None:
    tenant = "madrid-componentes"
    admin = await api.tenant(_config(tenant))
    opp = await api.create(
        tenant, admin, "Opportunity", {"name": "Conectores AVE"}, "id stage probability pipeline"
    )
    assert opp == {
        "id": opp["id"],
        "stage": "prospeccion",
        "probability": "10",
        "pipeline": "embudo",
    }
    update = "mutation($id: ID!, $s: OpportunityStage!) { updateOpportunity(id: $id, input: {stage: $s}) { probability closedOn } }"
    moved = await api.ok(tenant, admin, update, {"id": opp["id"], "s": "visita_tecnica"})
    assert moved["updateOpportunity"] == {"probability": "25", "closedOn": None}
    english = await api.gql(tenant, admin, update, {"id": opp["id"], "s": "negotiation"})
    assert error_codes(english) == ["GRAPHQL_VALIDATION_FAILED"]
    won = await api.ok(tenant, admin, update, {"id": opp["id"], "s": "ganada"})
    assert won["updateOpportunity"]["probability"] == "100"
    assert won["updateOpportunity"]["closedOn"]
