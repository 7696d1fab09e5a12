"""Approvals outliving what they were opened on: a deleted record, a changed config."""

from __future__ import annotations

import asyncio

from core.store import Database
from tests.api_helpers import error_codes
from tests.workflow.conftest import NOW
from tests.workflow.helpers import (
    Clock,
    TenantApi,
    create_order,
    process_config,
    record,
    start_tenant,
    transition,
)

APPROVE = "mutation($id: ID!) { approve(id: $id) { status } }"


async def _awaiting_approval(api: TenantApi) -> tuple[str, str]:
    """An order of rep's waiting for the managers' step; (order id, approval id)."""
    body = await api.as_("rep", 'mutation { createCustomer(input: {name: "ACME"}) { id } }')
    customer = body["data"]["createCustomer"]["id"]
    order = await create_order(api, customerId=customer, total={"amount": "500"}, discount="20")
    body = await transition(api, "rep", order["id"], "confirm", "20 % for a loyal customer")
    assert body["data"]["transitionOrder"]["status"] == "pending", body
    [approval] = (await api.as_("boss", "{ approvalInbox { id } }"))["data"]["approvalInbox"]
    return str(order["id"]), str(approval["id"])


async def test_an_approval_survives_an_unrelated_config_change(db: Database) -> None:
    api = await start_tenant(db, clock=Clock(NOW))
    order, approval = await _awaiting_approval(api)
    doc = process_config()
    doc["entities"]["order"]["fields"]["notes"]["label"] = {"en": "Remarks"}
    await api.runtime.apply_config(doc)
    for who in ("boss", "fin1", "fin2"):
        body = await api.as_(who, APPROVE, {"id": approval})
        assert "errors" not in body, body
    assert body["data"]["approve"] == {"status": "approved"}
    assert (await record(api, order))["status"] == "confirmed"
    await api.close()


async def test_deleting_a_record_closes_its_pending_approval(db: Database) -> None:
    api = await start_tenant(db, clock=Clock(NOW))
    order, approval = await _awaiting_approval(api)
    body = await api.as_(
        "boss", "mutation($id: ID!) { deleteOrder(id: $id) { id } }", {"id": order}
    )
    assert "errors" not in body, body
    assert (await api.as_("boss2", "{ approvalInbox { id } }"))["data"]["approvalInbox"] == []
    row = await db.approvals.get("proc", approval)
    assert row is not None and row["status"] == "cancelled"
    body = await api.as_("boss2", APPROVE, {"id": approval})
    assert body["errors"][0]["extensions"]["errors"][0]["code"] == "APPROVAL_CLOSED"
    await api.close()


async def test_an_approval_completes_after_its_transition_was_renamed(db: Database) -> None:
    api = await start_tenant(db, clock=Clock(NOW))
    order, approval = await _awaiting_approval(api)
    doc = process_config()
    transitions = doc["workflows"]["order_flow"]["transitions"]
    transitions["accept"] = transitions.pop("confirm")
    await api.runtime.apply_config(doc)
    for who in ("boss", "fin1", "fin2"):
        body = await api.as_(who, APPROVE, {"id": approval})
        assert "errors" not in body, body
    assert body["data"]["approve"] == {"status": "approved"}
    assert (await record(api, order))["status"] == "confirmed"
    await api.close()


# -- at the same moment ---------------------------------------------------------------------


async def test_two_requests_at_once_open_one_approval(db: Database) -> None:
    doc = process_config()
    del doc["workflows"]["order_flow"]["transitions"]["confirm"]["approval"]["pending_state"]
    api = await start_tenant(db, doc, clock=Clock(NOW))
    body = await api.as_("rep", 'mutation { createCustomer(input: {name: "ACME"}) { id } }')
    customer = body["data"]["createCustomer"]["id"]
    pending = []
    for _ in range(10):
        order = await create_order(api, customerId=customer, total={"amount": "500"}, discount="20")
        results = await asyncio.gather(
            transition(api, "rep", order["id"], "confirm"),
            transition(api, "admin", order["id"], "confirm"),
        )
        codes = sorted(str(error_codes(r)) for r in results)
        assert codes == ["['CONFLICT']", "[]"], results  # the second sees the first's approval
        rows = await db.approvals.for_record("proc", order["id"])
        pending.append(sum(a["status"] == "pending" for a in rows))
    assert pending == [1] * 10
    await api.close()


async def test_the_last_two_approvers_of_an_all_step_at_once_complete_it(db: Database) -> None:
    api = await start_tenant(db, clock=Clock(NOW))
    stuck = []
    for _ in range(20):
        order, approval = await _awaiting_approval(api)
        body = await api.as_("boss", APPROVE, {"id": approval})
        assert "errors" not in body, body
        results = await asyncio.gather(
            *(api.as_(who, APPROVE, {"id": approval}) for who in ("fin1", "fin2"))
        )
        assert all("errors" not in r for r in results), results
        row = await db.approvals.get("proc", approval)
        assert row is not None
        if row["status"] != "approved":
            stuck.append((await record(api, order))["status"])
    assert stuck == []
    await api.close()


async def test_two_approvers_of_an_any_step_at_once(db: Database) -> None:
    api = await start_tenant(db, clock=Clock(NOW))
    outcomes = set()
    for _ in range(10):
        _order, approval = await _awaiting_approval(api)
        results = await asyncio.gather(
            *(api.as_(who, APPROVE, {"id": approval}) for who in ("boss", "boss2"))
        )
        # One decides the step; the other finds it decided (not an internal error).
        outcomes.add(tuple(sorted(str(error_codes(r)) for r in results)))
        row = await db.approvals.get("proc", approval)
        assert row is not None and row["step"] == 1
    assert outcomes <= {("['FORBIDDEN']", "[]"), ("['CONFLICT']", "[]")}, outcomes
    await api.close()
