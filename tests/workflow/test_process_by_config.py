"""Changing a process is editing JSON: apply it, and the API and the worker follow at once.

An implementer adds a state with two transitions, an approval step and a
reminder timer to ``fixtures/process.json``; after ``apply_config`` (no
restart) the GraphQL schema has the new state and transitions, ``meta``
describes them, approvals ask the new approver and the worker fires the new
timer — on both engines.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from core.store import Database
from tests.workflow.helpers import (
    Clock,
    TenantApi,
    create_order,
    process_config,
    record,
    start_tenant,
    tasks,
    timers,
    transition,
    worker,
)

#: Monday 14 December 2026, 10:00 in Madrid.
NOW = datetime(2026, 12, 14, 9, 0, tzinfo=UTC)


def edited_config() -> dict[str, Any]:
    """process.json plus an on-hold state, an approval on shipping and a reminder."""
    doc = process_config()
    order = doc["entities"]["order"]
    order["fields"]["status"]["options"].append({"value": "on_hold", "label": {"en": "On hold"}})
    flow = doc["workflows"]["order_flow"]
    flow["states"]["on_hold"] = {"read_only": ["total"]}
    flow["transitions"]["hold"] = {
        "label": {"en": "Put on hold"},
        "from": ["confirmed"],
        "to": "on_hold",
        "comment_required": True,
    }
    flow["transitions"]["resume"] = {
        "label": {"en": "Resume"},
        "from": ["on_hold"],
        "to": "confirmed",
    }
    flow["transitions"]["ship"]["approval"] = {
        "steps": [
            {
                "key": "director",
                "label": {"en": "Owner's manager"},
                "approvers": {"manager_of": "owner"},
            }
        ]
    }
    doc["timers"]["hold_reminder"] = {
        "entity": "order",
        "offset": {"amount": 2, "unit": "business_days", "at": "09:00"},
    }
    doc["automations"].update(
        {
            "remind_on_hold": {
                "entity": "order",
                "on": {"event": "transitioned", "to": "on_hold"},
                "do": [{"type": "start_timer", "timer": "hold_reminder"}],
            },
            "stop_reminding": {
                "entity": "order",
                "on": {"event": "transitioned", "transition": "resume"},
                "do": [{"type": "cancel_timer", "timer": "hold_reminder"}],
            },
            "still_on_hold": {
                "entity": "order",
                "on": {"event": "timer", "timer": "hold_reminder"},
                "do": [{"type": "create_task", "subject": {"en": "Still on hold: {record.title}"}}],
            },
        }
    )
    return doc


WORKFLOWS = "{ meta { workflows { states { key } transitions { key needsApproval } } } }"
OPTIONS = 'query($id: ID!) { meta { transitions(entity: "order", id: $id) { key allowed } } }'


async def _confirmed_order(api: TenantApi) -> str:
    body = await api.as_("rep", 'mutation { createCustomer(input: {name: "ACME"}) { id } }')
    customer = body["data"]["createCustomer"]["id"]
    order = await create_order(api, customerId=customer, total={"amount": "500"})
    body = await transition(api, "rep", order["id"], "confirm")
    assert body["data"]["transitionOrder"]["status"] == "confirmed", body
    return str(order["id"])


async def test_a_process_changed_by_json_is_followed_at_once(db: Database) -> None:
    clock = Clock(NOW)
    api = await start_tenant(db, clock=clock)
    order = await _confirmed_order(api)
    body = await transition(api, "rep", order, "hold", "waiting for stock")
    assert body["errors"][0]["extensions"]["errors"][0]["code"] == "TRANSITION_UNKNOWN"

    applied = await api.runtime.apply_config(edited_config())
    assert (applied.changed, applied.version) == (True, 2)

    # The schema and meta know the new state and transitions.
    enum = await api.as_("rep", '{ __type(name: "OrderStatus") { enumValues { name } } }')
    assert "on_hold" in {v["name"] for v in enum["data"]["__type"]["enumValues"]}
    [flow] = (await api.as_("rep", WORKFLOWS))["data"]["meta"]["workflows"]
    assert "on_hold" in {s["key"] for s in flow["states"]}
    needs = {t["key"]: t["needsApproval"] for t in flow["transitions"]}
    assert needs == {"confirm": True, "ship": True, "cancel": False, "hold": False, "resume": False}
    offered = (await api.as_("rep", OPTIONS, {"id": order}))["data"]["meta"]["transitions"]
    assert {t["key"]: t["allowed"] for t in offered} == {
        "ship": False,
        "cancel": True,
        "hold": True,
    }

    # The new transition runs, and the state's rule applies.
    body = await transition(api, "rep", order, "hold", "waiting for stock")
    assert body["data"]["transitionOrder"]["status"] == "on_hold", body
    body = await api.as_(
        "rep",
        'mutation($id: ID!) { updateOrder(id: $id, input: {total: {amount: "600"}}) { id } }',
        {"id": order},
    )
    assert body["errors"][0]["extensions"]["errors"][0]["code"] == "READ_ONLY_IN_STATE"

    # The new reminder is scheduled under version 2 and the worker fires it.
    [reminder] = await timers(api, order)
    assert (reminder["timer_key"], reminder["config_version"]) == ("hold_reminder", 2)
    assert reminder["due_at"] == datetime(2026, 12, 16, 8, 0, tzinfo=UTC)  # Wednesday, 09:00 CET
    clock.now = reminder["due_at"]
    async with worker(api.runtime, clock) as w:
        assert (await w.run_once()).timers_fired == 1
    assert sorted(t["subject"] for t in await tasks(api, "subject")) == [
        "Prepare shipment of Order 1",
        "Still on hold: Order 1",
    ]

    # Resuming cancels nothing left; a second hold's reminder is cancelled by resuming.
    body = await transition(api, "rep", order, "resume")
    assert body["data"]["transitionOrder"]["status"] == "confirmed", body
    await transition(api, "rep", order, "hold", "again")
    assert len(await timers(api, order)) == 1
    await transition(api, "rep", order, "resume")
    assert await timers(api, order) == []

    # Shipping now needs the owner's manager: boss (rep's manager), not boss2 who asked.
    body = await transition(api, "boss2", order, "ship")
    assert body["data"]["transitionOrder"]["status"] == "confirmed", body
    assert (await api.as_("boss2", "{ approvalInbox { id } }"))["data"]["approvalInbox"] == []
    [approval] = (await api.as_("boss", "{ approvalInbox { id steps { key } } }"))["data"][
        "approvalInbox"
    ]
    assert [s["key"] for s in approval["steps"]] == ["director"]
    body = await api.as_(
        "boss", "mutation($id: ID!) { approve(id: $id) { status } }", {"id": approval["id"]}
    )
    assert body["data"]["approve"] == {"status": "approved"}
    assert (await record(api, order))["status"] == "shipped"
    assert [t["timer_key"] for t in await timers(api, order)] == ["follow_up"]
    await api.close()


async def test_a_change_applies_to_new_approvals_while_open_ones_keep_their_steps(
    db: Database,
) -> None:
    api = await start_tenant(db, clock=Clock(NOW))
    body = await api.as_("rep", 'mutation { createCustomer(input: {name: "ACME"}) { id } }')
    customer = body["data"]["createCustomer"]["id"]
    first = await create_order(api, customerId=customer, total={"amount": "500"}, discount="20")
    await transition(api, "rep", first["id"], "confirm")
    # Version 2 drops the finance step.
    doc = process_config()
    approval = doc["workflows"]["order_flow"]["transitions"]["confirm"]["approval"]
    approval["steps"] = approval["steps"][:1]
    await api.runtime.apply_config(doc)
    second = await create_order(api, customerId=customer, total={"amount": "500"}, discount="20")
    await transition(api, "rep", second["id"], "confirm")

    inbox = (await api.as_("boss", "{ approvalInbox { id recordId steps { key } } }"))["data"][
        "approvalInbox"
    ]
    steps = {a["recordId"]: [s["key"] for s in a["steps"]] for a in inbox}
    assert steps == {first["id"]: ["manager", "finance"], second["id"]: ["manager"]}
    for a in inbox:
        body = await api.as_(
            "boss", "mutation($id: ID!) { approve(id: $id) { status } }", {"id": a["id"]}
        )
        assert "errors" not in body, body
    # The open approval still waits for finance; the new one is done.
    assert (await record(api, first["id"]))["status"] == "pending"
    assert (await record(api, second["id"]))["status"] == "confirmed"
    assert len((await api.as_("fin1", "{ approvalInbox { id } }"))["data"]["approvalInbox"]) == 1
    await api.close()
