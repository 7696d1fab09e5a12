"""Sales reports over HTTP: forecast against an independent oracle, performance, commission."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from fractions import Fraction
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.api_helpers import error_codes
from tests.plugins.sales.conftest import SalesApi, sales_config

FORECAST = """query($p: SalesPeriod) { salesForecast(period: $p) {
  period owner { email } currency count amount weightedAmount } }"""


def _oracle(opps: list[tuple[int, str, int]], period: str) -> dict[str, tuple[int, str]]:
    """Per period: count and Σ amount × probability / 100, exact, then half-up to cents."""
    sums: dict[str, list[Any]] = {}
    for month, amount, probability in opps:
        key = f"2026-{month:02d}" if period == "MONTH" else f"2026-Q{(month - 1) // 3 + 1}"
        entry = sums.setdefault(key, [0, Fraction(0)])
        entry[0] += 1
        entry[1] += Fraction(Decimal(amount)) * probability / 100
    out = {}
    for key, (count, total) in sums.items():
        cents = int(total * 100 + Fraction(1, 2))  # amounts are positive: half up
        out[key] = (count, str((Decimal(cents) / 100).quantize(Decimal("0.01"))))
    return out


@settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    opps=st.lists(
        st.tuples(
            st.integers(1, 12),
            st.decimals("0.01", "99999.99", places=2).map(str),
            st.integers(0, 100),
        ),
        max_size=8,
    ),
    period=st.sampled_from(["MONTH", "QUARTER"]),
)
async def test_forecast_is_the_sum_of_amount_times_probability(
    api: SalesApi, opps: list[tuple[int, str, int]], period: str
) -> None:
    tenant = f"f{uuid.uuid4().hex[:12]}"
    await api.runtime.apply_config(sales_config(tenant))
    uid, token = await api.user(tenant, f"rep@{tenant}.es")
    for month, amount, probability in opps:
        await api.create(
            tenant,
            token,
            "Opportunity",
            {
                "name": "O",
                "ownerId": uid,
                "amount": {"amount": amount},
                "probability": str(probability),
                "closeDate": f"2026-{month:02d}-15",
            },
        )
    rows = (await api.ok(tenant, token, FORECAST, {"p": period}))["salesForecast"]
    got = {r["period"]: (r["count"], r["weightedAmount"]) for r in rows}
    assert got == _oracle(opps, period)
    assert all(r["owner"]["email"] == f"rep@{tenant}.es" and r["currency"] == "EUR" for r in rows)


async def test_new_opportunities_take_the_stage_probability_and_stage_must_fit(
    api: SalesApi,
) -> None:
    pipeline = {
        "label": {"en": "Projects"},
        "stages": [
            {"stage": "prospecting", "probability": 5},
            {"stage": "proposal", "probability": 40},
            {"stage": "closed_won", "probability": 100, "outcome": "won"},
            {"stage": "closed_lost", "probability": 0, "outcome": "lost"},
        ],
    }
    token = await api.tenant(sales_config(pipelines={"projects": pipeline}))
    opp = await api.create("ventas", token, "Opportunity", {"name": "O"}, "id probability pipeline")
    assert (opp["probability"], opp["pipeline"]) == ("5", "default")
    moved = await api.ok(
        "ventas",
        token,
        "mutation($id: ID!) { updateOpportunity(id: $id, input: {stage: proposal}) { probability closedOn } }",
        {"id": opp["id"]},
    )
    assert moved["updateOpportunity"] == {"probability": "40", "closedOn": None}
    outside = await api.gql(
        "ventas",
        token,
        "mutation($id: ID!) { updateOpportunity(id: $id, input: {stage: negotiation}) { id } }",
        {"id": opp["id"]},
    )
    assert error_codes(outside) == ["VALIDATION_FAILED"]
    assert outside["errors"][0]["extensions"]["errors"][0]["code"] == "STAGE_NOT_IN_PIPELINE"
    lost = await api.gql(
        "ventas",
        token,
        "mutation($id: ID!) { updateOpportunity(id: $id, input: {stage: closed_lost}) { id } }",
        {"id": opp["id"]},
    )
    assert lost["errors"][0]["extensions"]["errors"][0]["field"] == "lostReason"


async def test_performance_and_commission(api: SalesApi) -> None:
    settings_ = {
        "quotas": {"period": "quarter", "default": "10000", "users": {"b@ventas.es": "20000"}},
        "commission": {"rate": "5", "accelerated_rate": "8"},
        "departments": {
            "centro": {
                "label": {"en": "Centre", "es-ES": "Centro"},
                "members": ["a@ventas.es", "b@ventas.es"],
            }
        },
    }
    token = await api.tenant(sales_config(**settings_))
    a, _ta = await api.user("ventas", "a@ventas.es")
    b, _tb = await api.user("ventas", "b@ventas.es")
    api.runtime.clock = lambda: datetime(2026, 1, 10, 9, tzinfo=UTC)
    old = await api.create("ventas", token, "Account", {"name": "Vieja S.A."})
    api.runtime.clock = lambda: datetime(2026, 2, 1, 9, tzinfo=UTC)
    new = await api.create("ventas", token, "Account", {"name": "Nueva S.L."})
    for owner, account, kind in [
        (a, old["id"], "call"),
        (a, new["id"], "visit"),
        (b, new["id"], "call"),
    ]:
        await api.create(
            "ventas",
            token,
            "Activity",
            {
                "subject": "x",
                "kind": kind,
                "done": True,
                "ownerId": owner,
                "accountId": account,
                "dueAt": "2026-02-02T10:00:00+01:00",
            },
        )
    opps = []
    for owner, amount in [(a, "12000.00"), (a, "3000.00"), (b, "5000.00")]:
        opps.append(
            (
                await api.create(
                    "ventas",
                    token,
                    "Opportunity",
                    {"name": "O", "ownerId": owner, "amount": {"amount": amount}},
                )
            )["id"]
        )
    api.runtime.clock = lambda: datetime(2026, 2, 11, 9, tzinfo=UTC)
    update = "mutation($id: ID!, $i: OpportunityUpdateInput!) { updateOpportunity(id: $id, input: $i) { closedOn } }"
    await api.ok("ventas", token, update, {"id": opps[0], "i": {"stage": "closed_won"}})
    await api.ok(
        "ventas",
        token,
        update,
        {"id": opps[1], "i": {"stage": "closed_lost", "lostReason": "price"}},
    )
    await api.ok("ventas", token, update, {"id": opps[2], "i": {"stage": "closed_won"}})
    perf = await api.ok(
        "ventas",
        token,
        """query($g: SalesGrouping) { salesPerformance(from: "2026-02-01", to: "2026-02-28", groupBy: $g) {
          key label activities { kind count } newCustomersContacted existingCustomersContacted
          wonCount lostCount wonAmount winRate averageDaysToClose } }""",
        {"g": "REP"},
    )
    by_rep = {r["key"]: r for r in perf["salesPerformance"]}
    assert by_rep[a]["activities"] == [{"kind": "call", "count": 1}, {"kind": "visit", "count": 1}]
    assert (by_rep[a]["newCustomersContacted"], by_rep[a]["existingCustomersContacted"]) == (1, 1)
    assert (by_rep[a]["wonCount"], by_rep[a]["lostCount"], by_rep[a]["winRate"]) == (1, 1, "50.0")
    assert (by_rep[a]["wonAmount"], by_rep[a]["averageDaysToClose"]) == ("12000.00", "10.0")
    dept = await api.ok(
        "ventas",
        token,
        """{ salesPerformance(from: "2026-02-01", to: "2026-02-28", groupBy: DEPARTMENT) {
          key label wonCount wonAmount } }""",
    )
    assert dept["salesPerformance"] == [
        {"key": "centro", "label": "Centre", "wonCount": 2, "wonAmount": "17000.00"}
    ]
    rows = (
        await api.ok(
            "ventas",
            token,
            '{ salesCommission(date: "2026-03-31") { owner { email } period wonAmount quota attainment commission } }',
        )
    )["salesCommission"]
    by_email = {r["owner"]["email"]: r for r in rows}
    # a: 5 % of 10,000 + 8 % of the 2,000 above quota; b: 5 % of 5,000 (quota 20,000).
    assert by_email["a@ventas.es"] == {
        "owner": {"email": "a@ventas.es"},
        "period": "2026-Q1",
        "wonAmount": "12000.00",
        "quota": "10000",
        "attainment": "120.0",
        "commission": "660.00",
    }
    assert by_email["b@ventas.es"]["commission"] == "250.00"
    assert by_email["b@ventas.es"]["attainment"] == "25.0"


async def test_reports_need_run_on_opportunity_and_see_only_the_callers_records(
    api: SalesApi,
) -> None:
    doc = sales_config()
    doc["roles"] = {
        "rep": {
            "label": {"en": "Rep"},
            "permissions": {
                "entities": {"opportunity": ["create", "read", "run"]},
                "record_scope": "own",
            },
        },
        "viewer": {
            "label": {"en": "Viewer"},
            "permissions": {"entities": {"opportunity": ["read"]}},
        },
    }
    token = await api.tenant(doc)
    rep, rep_token = await api.user("ventas", "rep@ventas.es", ["rep"])
    _v, viewer_token = await api.user("ventas", "view@ventas.es", ["viewer"])
    await api.create(
        "ventas",
        token,
        "Opportunity",
        {
            "name": "Boss",
            "amount": {"amount": "1000"},
            "probability": "50",
            "closeDate": "2026-05-01",
        },
    )
    await api.create(
        "ventas",
        rep_token,
        "Opportunity",
        {
            "name": "Mine",
            "amount": {"amount": "10"},
            "probability": "50",
            "closeDate": "2026-05-01",
        },
    )
    mine = (await api.ok("ventas", rep_token, FORECAST, {"p": "MONTH"}))["salesForecast"]
    assert [(r["owner"]["email"], r["weightedAmount"]) for r in mine] == [("rep@ventas.es", "5.00")]
    assert error_codes(await api.gql("ventas", viewer_token, FORECAST, {"p": "MONTH"})) == [
        "FORBIDDEN"
    ]
    assert rep
