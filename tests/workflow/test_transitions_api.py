"""Workflows, approvals and rules through GraphQL over HTTP, on both engines."""

from __future__ import annotations

from typing import Any

from tests.api_helpers import error_codes
from tests.workflow.conftest import ProcApi, process_config

ORDER = "id version status priority discount total { amount } customer { id }"


async def _customer(api: ProcApi, limit: str | None = "1000") -> str:
    credit = f', creditLimit: {{amount: "{limit}"}}' if limit else ""
    body = await api.as_(
        "rep", f'mutation {{ createCustomer(input: {{name: "ACME"{credit}}}) {{ id }} }}'
    )
    assert "errors" not in body, body
    return str(body["data"]["createCustomer"]["id"])


async def _order(api: ProcApi, who: str = "rep", **values: Any) -> dict[str, Any]:
    body = await api.as_(
        who,
        f"mutation($i: OrderCreateInput!) {{ createOrder(input: $i) {{ {ORDER} }} }}",
        {"i": {"title": "Order 1", **values}},
    )
    assert "errors" not in body, body
    return dict(body["data"]["createOrder"])


async def _transition(
    api: ProcApi, who: str, id: str, name: str, comment: str | None = None, **values: Any
) -> dict[str, Any]:
    return await api.as_(
        who,
        "mutation($id: ID!, $t: String!, $c: String, $i: OrderUpdateInput) { "
        f"transitionOrder(id: $id, transition: $t, comment: $c, input: $i) {{ {ORDER} }} }}",
        {"id": id, "t": name, "c": comment, "i": values or None},
    )


async def test_new_records_start_in_the_initial_state(proc: ProcApi) -> None:
    order = await _order(proc)
    assert order["status"] == "DRAFT" or order["status"].lower() == "draft"
    body = await proc.as_(
        "rep",
        'mutation { createOrder(input: {title: "x", status: confirmed}) { id } }',
    )
    assert error_codes(body) == ["VALIDATION_FAILED"]
    assert body["errors"][0]["extensions"]["errors"][0]["code"] == "STATE_NOT_INITIAL"


async def test_status_changes_only_by_transition(proc: ProcApi) -> None:
    order = await _order(proc)
    body = await proc.as_(
        "rep",
        "mutation($id: ID!) { updateOrder(id: $id, input: {status: confirmed}) { id } }",
        {"id": order["id"]},
    )
    errors = body["errors"][0]["extensions"]["errors"]
    assert [e["code"] for e in errors] == ["STATUS_BY_TRANSITION"]
    assert errors[0]["field"] == "status"


async def test_transition_checks_required_fields_and_guard(proc: ProcApi) -> None:
    order = await _order(proc)
    body = await _transition(proc, "rep", order["id"], "confirm")
    fields = {e["field"]: e["code"] for e in body["errors"][0]["extensions"]["errors"]}
    assert fields == {"customer": "REQUIRED", "total": "REQUIRED"}
    customer = await _customer(proc, "1000")
    # Over the credit limit: the guard refuses, in the caller's locale, and nothing changes.
    body = await _transition(
        proc, "rep", order["id"], "confirm", customerId=customer, total={"amount": "1500.00"}
    )
    assert error_codes(body) == ["VALIDATION_FAILED"]
    problem = body["errors"][0]["extensions"]["errors"][0]
    assert problem["code"] == "TRANSITION_GUARD"
    assert "credit limit" in problem["message"]
    again = await proc.as_(
        "rep",
        "query($id: ID!) { order(id: $id) { version status total { amount } } }",
        {"id": order["id"]},
    )
    assert again["data"]["order"] == {"version": 1, "status": order["status"], "total": None}
    # Within the limit: confirmed, and the transition's actions ran.
    body = await _transition(
        proc, "rep", order["id"], "confirm", customerId=customer, total={"amount": "900.00"}
    )
    assert "errors" not in body, body
    done = body["data"]["transitionOrder"]
    assert done["status"].lower() == "confirmed"
    assert done["priority"].lower() == "high"
    tasks = await proc.as_(
        "admin", "{ tasks { edges { node { subject relatedId owner { email } dueAt } } } }"
    )
    nodes = [e["node"] for e in tasks["data"]["tasks"]["edges"]]
    assert [n["subject"] for n in nodes] == ["Prepare shipment of Order 1"]
    assert nodes[0]["relatedId"] == order["id"] and nodes[0]["owner"]["email"] == "rep@proc.test"


async def test_transition_not_allowed_from_state_and_role(proc: ProcApi) -> None:
    order = await _order(proc)
    body = await _transition(proc, "rep", order["id"], "ship")
    assert body["errors"][0]["extensions"]["errors"][0]["code"] == "TRANSITION_NOT_ALLOWED"
    body = await _transition(proc, "rep", order["id"], "nope")
    assert body["errors"][0]["extensions"]["errors"][0]["code"] == "TRANSITION_UNKNOWN"
    body = await _transition(proc, "rep", order["id"], "cancel")
    problem = body["errors"][0]["extensions"]["errors"][0]
    assert (problem["code"], problem["field"]) == ("REQUIRED", "comment")
    body = await _transition(proc, "rep", order["id"], "cancel", "customer changed mind")
    assert body["data"]["transitionOrder"]["status"].lower() == "cancelled"
    # Final: nothing leaves it.
    body = await _transition(proc, "admin", order["id"], "cancel", "again")
    assert body["errors"][0]["extensions"]["errors"][0]["code"] == "TRANSITION_NOT_ALLOWED"
    history = await proc.as_(
        "admin", "query($id: ID!) { order(id: $id) { audit { action diff } } }", {"id": order["id"]}
    )
    actions = [h["action"] for h in history["data"]["order"]["audit"]]
    assert actions == ["create", "transition:cancel"]
    assert history["data"]["order"]["audit"][1]["diff"]["_comment"] == "customer changed mind"


async def test_rules_refuse_with_a_localised_message(proc: ProcApi) -> None:
    body = await proc.as_(
        "rep", 'mutation { createOrder(input: {title: "x", discount: "60"}) { id } }'
    )
    problem = body["errors"][0]["extensions"]["errors"][0]
    assert problem == {
        "field": "discount",
        "code": "RULE_FAILED",
        "message": "Discount cannot exceed 50 %",
    }


async def test_approval_two_steps_any_then_all(proc: ProcApi) -> None:
    customer = await _customer(proc, None)
    order = await _order(proc, customerId=customer, total={"amount": "500"}, discount="15")
    body = await _transition(proc, "rep", order["id"], "confirm", "please")
    assert "errors" not in body, body
    assert body["data"]["transitionOrder"]["status"].lower() == "pending"
    # Pending state is read-only and blocks other transitions.
    body = await proc.as_(
        "rep",
        'mutation($id: ID!) { updateOrder(id: $id, input: {notes: "x"}) { id } }',
        {"id": order["id"]},
    )
    assert body["errors"][0]["extensions"]["errors"][0]["code"] == "READ_ONLY_IN_STATE"
    body = await _transition(proc, "rep", order["id"], "cancel", "stop")
    assert body["errors"][0]["extensions"]["errors"][0]["code"] == "APPROVAL_PENDING"
    # Step 1 "any of" the managers; finance sees nothing yet; the requester cannot approve.
    inbox = await proc.as_(
        "boss2", "{ approvalInbox { id step steps { key approvers { user { email } } } } }"
    )
    [approval] = inbox["data"]["approvalInbox"]
    assert (await proc.as_("fin1", "{ approvalInbox { id } }"))["data"]["approvalInbox"] == []
    body = await proc.as_(
        "rep", "mutation($id: ID!) { approve(id: $id) { status } }", {"id": approval["id"]}
    )
    assert error_codes(body) == ["FORBIDDEN"]
    body = await proc.as_(
        "boss",
        'mutation($id: ID!) { approve(id: $id, comment: "ok") { status step } }',
        {"id": approval["id"]},
    )
    assert body["data"]["approve"] == {"status": "pending", "step": 1}
    assert (await proc.as_("boss2", "{ approvalInbox { id } }"))["data"]["approvalInbox"] == []
    # Step 2 "all of" finance.
    body = await proc.as_(
        "fin1", "mutation($id: ID!) { approve(id: $id) { status step } }", {"id": approval["id"]}
    )
    assert body["data"]["approve"] == {"status": "pending", "step": 1}
    body = await proc.as_(
        "fin2", "mutation($id: ID!) { approve(id: $id) { status } }", {"id": approval["id"]}
    )
    assert body["data"]["approve"] == {"status": "approved"}
    order_now = await proc.as_(
        "rep", "query($id: ID!) { order(id: $id) { status priority } }", {"id": order["id"]}
    )
    assert {k: v.lower() for k, v in order_now["data"]["order"].items()} == {
        "status": "confirmed",
        "priority": "high",
    }
    history = await proc.as_(
        "rep",
        'query($id: ID!) { approvals(entity: "order", id: $id) { status steps { key approvers { decision comment user { email } } } } }',
        {"id": order["id"]},
    )
    [record] = history["data"]["approvals"]
    assert record["status"] == "approved"
    assert [[a["decision"] for a in s["approvers"]] for s in record["steps"]] == [
        ["approved", None]
        if record["steps"][0]["approvers"][0]["user"]["email"] == "boss@proc.test"
        else [None, "approved"],
        ["approved", "approved"],
    ]


async def test_rejection_returns_to_the_configured_state(proc: ProcApi) -> None:
    customer = await _customer(proc, None)
    order = await _order(proc, customerId=customer, total={"amount": "500"}, discount="20")
    await _transition(proc, "rep", order["id"], "confirm")
    [approval] = (await proc.as_("boss", "{ approvalInbox { id } }"))["data"]["approvalInbox"]
    body = await proc.as_(
        "boss",
        'mutation($id: ID!) { reject(id: $id, comment: "too much discount") { status } }',
        {"id": approval["id"]},
    )
    assert body["data"]["reject"] == {"status": "rejected"}
    after = await proc.as_(
        "rep", "query($id: ID!) { order(id: $id) { status } }", {"id": order["id"]}
    )
    assert after["data"]["order"]["status"].lower() == "draft"
    body = await proc.as_(
        "boss2", "mutation($id: ID!) { approve(id: $id) { status } }", {"id": approval["id"]}
    )
    assert error_codes(body) == ["CONFLICT"]


async def test_meta_lists_the_transitions_for_the_caller(proc: ProcApi) -> None:
    order = await _order(proc)
    q = (
        'query($id: ID!) { meta { transitions(entity: "order", id: $id) '
        "{ key allowed reason reasonCode needsApproval } } }"
    )
    rep = (await proc.as_("rep", q, {"id": order["id"]}))["data"]["meta"]["transitions"]
    assert {t["key"]: t["allowed"] for t in rep} == {"confirm": False, "cancel": True}
    assert {t["key"]: t["reasonCode"] for t in rep} == {"confirm": "REQUIRED", "cancel": None}
    assert "fill in first" in next(t for t in rep if t["key"] == "confirm")["reason"]
    # Waiting for an approval, every transition says so, with its code.
    customer = await _customer(proc, None)
    held = await _order(proc, customerId=customer, total={"amount": "500"}, discount="20")
    await _transition(proc, "rep", held["id"], "confirm")
    waiting = (await proc.as_("rep", q, {"id": held["id"]}))["data"]["meta"]["transitions"]
    assert waiting and all(
        (t["allowed"], t["reasonCode"]) == (False, "APPROVAL_PENDING") for t in waiting
    ), waiting
    wf = (
        await proc.as_(
            "rep", "{ meta { workflows { key entity field initial states { key final } } } }"
        )
    )["data"]["meta"]["workflows"]
    assert wf[0]["key"] == "order_flow" and wf[0]["initial"] == "draft"


async def test_an_approver_reads_the_record_beyond_their_scope(proc: ProcApi) -> None:
    doc = process_config()
    doc["roles"]["finance"]["permissions"]["record_scope"] = "own"
    await proc.runtime.apply_config(doc)
    customer = await _customer(proc, None)
    order = await _order(proc, customerId=customer, total={"amount": "500"}, discount="15")
    read = "query($id: ID!) { order(id: $id) { title } }"
    assert error_codes(await proc.as_("fin1", read, {"id": order["id"]})) == ["NOT_FOUND"]
    await _transition(proc, "rep", order["id"], "confirm")
    [approval] = (await proc.as_("boss", "{ approvalInbox { id } }"))["data"]["approvalInbox"]
    await proc.as_(
        "boss", "mutation($id: ID!) { approve(id: $id) { status } }", {"id": approval["id"]}
    )
    # Now asked: finance reads the order and its history, but still cannot list it.
    body = await proc.as_("fin1", read, {"id": order["id"]})
    assert body["data"]["order"] == {"title": "Order 1"}
    assert (await proc.as_("fin1", "{ orders { totalCount } }"))["data"]["orders"][
        "totalCount"
    ] == 0


async def test_the_requester_withdraws_a_pending_request(proc: ProcApi) -> None:
    customer = await _customer(proc, None)
    order = await _order(proc, customerId=customer, total={"amount": "500"}, discount="20")
    await _transition(proc, "rep", order["id"], "confirm")
    [approval] = (await proc.as_("boss", "{ approvalInbox { id } }"))["data"]["approvalInbox"]
    withdraw = 'mutation($id: ID!) { withdrawApproval(id: $id, comment: "oops") { status } }'
    body = await proc.as_("boss", withdraw, {"id": approval["id"]})
    assert body["errors"][0]["extensions"]["errors"][0]["code"] == "NOT_REQUESTER"
    body = await proc.as_("rep", withdraw, {"id": approval["id"]})
    assert body["data"]["withdrawApproval"] == {"status": "withdrawn"}
    after = await proc.as_(
        "rep", "query($id: ID!) { order(id: $id) { status } }", {"id": order["id"]}
    )
    assert after["data"]["order"]["status"] == "draft"  # back from "pending"
    assert (await proc.as_("boss", "{ approvalInbox { id } }"))["data"]["approvalInbox"] == []
    body = await _transition(proc, "rep", order["id"], "cancel", "changed plans")
    assert body["data"]["transitionOrder"]["status"] == "cancelled"
