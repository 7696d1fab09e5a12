"""Automations through GraphQL: triggers, conditions, every action, and the cascade bound."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest

from core.store import Database
from tests.api_helpers import error_codes
from tests.workflow.configs import sales_config
from tests.workflow.helpers import (
    Clock,
    TenantApi,
    audit,
    count_rows,
    outbox,
    start_tenant,
    tasks,
    timers,
)

ACCOUNT = "id version name note tier score a b n owner { email }"


async def _tenant(
    db: Database, automations: dict[str, Any], clock: Clock | None = None, **config: Any
) -> TenantApi:
    return await start_tenant(db, sales_config(automations=automations, **config), clock=clock)


async def _create(
    api: TenantApi, entity: str, who: str = "rep", fields: str = "id version", **values: Any
) -> dict[str, Any]:
    name = entity.title()
    body = await api.as_(
        who,
        f"mutation($i: {name}CreateInput!) {{ create{name}(input: $i) {{ {fields} }} }}",
        {"i": values},
    )
    assert "errors" not in body, body
    return dict(body["data"][f"create{name}"])


async def _update(api: TenantApi, id: str, who: str = "rep", **values: Any) -> dict[str, Any]:
    return await api.as_(
        who,
        f"mutation($id: ID!, $i: AccountUpdateInput!) {{ updateAccount(id: $id, input: $i) {{ {ACCOUNT} }} }}",
        {"id": id, "i": values},
    )


async def _get(
    api: TenantApi, id: str, entity: str = "account", fields: str = ACCOUNT
) -> dict[str, Any]:
    body = await api.as_(
        "admin", f"query($id: ID!) {{ {entity}(id: $id) {{ {fields} }} }}", {"id": id}
    )
    assert "errors" not in body, body
    return dict(body["data"][entity])


async def _transition(api: TenantApi, id: str, name: str, who: str = "admin") -> dict[str, Any]:
    body = await api.as_(
        who,
        "mutation($id: ID!, $t: String!) { transitionDeal(id: $id, transition: $t) { id stage } }",
        {"id": id, "t": name},
    )
    assert "errors" not in body, body
    return dict(body["data"]["transitionDeal"])


# -- triggers and conditions ---------------------------------------------------------------


async def test_created_runs_once_on_create_and_not_on_later_updates(db: Database) -> None:
    api = await _tenant(
        db,
        {
            "welcome": {
                "entity": "account",
                "on": {"event": "created"},
                "do": [{"type": "set_fields", "expressions": {"note": "'Welcome ' + record.name"}}],
            }
        },
    )
    made = await _create(api, "account", name="ACME")
    got = await _get(api, made["id"])
    assert (got["note"], got["version"]) == ("Welcome ACME", 2)
    assert [e["action"] for e in await audit(api, made["id"])] == ["create", "update"]
    body = await _update(api, made["id"], note="mine")
    assert body["data"]["updateAccount"]["note"] == "mine"
    assert (await _get(api, made["id"]))["version"] == 3
    await api.close()


async def test_updated_runs_on_every_update_while_its_condition_holds(db: Database) -> None:
    api = await _tenant(
        db,
        {
            "big": {
                "entity": "account",
                "on": {"event": "updated"},
                "when": "has(record.score) && record.score > 10",
                "do": [
                    {
                        "type": "notify",
                        "to": {"emails": ["big@auto.test"]},
                        "subject": {"en": "Big: {record.name}"},
                    }
                ],
            }
        },
    )
    made = await _create(api, "account", name="ACME", score=50)
    assert await outbox(api, "notify.email") == []  # created is not updated
    await _update(api, made["id"], score=5)
    assert await outbox(api, "notify.email") == []  # the condition is false
    await _update(api, made["id"], score=20)
    await _update(api, made["id"], note="still big")
    sent = await outbox(api, "notify.email")
    assert [m["payload"]["subject"] for m in sent] == ["Big: ACME", "Big: ACME"]
    assert {m["payload"]["source"] for m in sent} == {"automation:big"}
    await api.close()


async def test_field_changed_runs_only_when_one_of_its_fields_changed(db: Database) -> None:
    api = await _tenant(
        db,
        {
            "gold": {
                "entity": "account",
                "on": {"event": "field_changed", "fields": ["tier"]},
                "when": "record.tier == 'gold'",
                "do": [{"type": "webhook", "url": "https://hooks.example/gold"}],
            }
        },
    )
    made = await _create(api, "account", name="ACME", tier="gold")
    assert await outbox(api, "webhook") == []  # a create is not a change
    await _update(api, made["id"], note="x")
    await _update(api, made["id"], tier="basic")
    assert await outbox(api, "webhook") == []  # other field; then the condition is false
    await _update(api, made["id"], tier="gold")
    await _update(api, made["id"], note="y")
    [hook] = await outbox(api, "webhook")
    assert hook["payload"]["url"] == "https://hooks.example/gold"
    body = hook["payload"]["body"]
    assert (body["event"], body["entity"], body["id"], body["version"]) == (
        "automation:gold",
        "account",
        made["id"],
        4,
    )
    assert body["record"]["tier"] == "gold" and body["tenant"] == "auto"
    await api.close()


async def test_transitioned_filters_by_transition_and_target_state(db: Database) -> None:
    api = await _tenant(
        db,
        {
            "kick_off": {
                "entity": "deal",
                "on": {"event": "transitioned", "to": "won"},
                "do": [{"type": "create_task", "subject": {"en": "Kick-off {record.title}"}}],
            },
            "post_mortem": {
                "entity": "deal",
                "on": {"event": "transitioned", "transition": "lose"},
                "do": [{"type": "webhook", "url": "https://hooks.example/lost"}],
            },
            "any_move": {
                "entity": "deal",
                "on": {"event": "transitioned"},
                "do": [
                    {
                        "type": "notify",
                        "to": {"emails": ["log@auto.test"]},
                        "subject": {"en": "{record.title} is {record.stage}"},
                    }
                ],
            },
        },
    )
    won = await _create(api, "deal", title="Big", ownerId=api.ids["rep"])
    lost = await _create(api, "deal", title="Small", ownerId=api.ids["rep"])
    await _create(api, "deal", title="Idle", ownerId=api.ids["rep"])
    assert await outbox(api, "notify.email") == []
    await _transition(api, won["id"], "win")
    assert [t["subject"] for t in await tasks(api)] == ["Kick-off Big"]
    assert await outbox(api, "webhook") == []
    await _transition(api, lost["id"], "lose")
    [hook] = await outbox(api, "webhook")
    assert hook["payload"]["body"]["id"] == lost["id"]
    subjects = [m["payload"]["subject"] for m in await outbox(api, "notify.email")]
    assert subjects == ["Big is Won", "Small is Lost"]
    assert len(await tasks(api)) == 1
    await api.close()


# -- actions ---------------------------------------------------------------------------------


async def test_set_fields_that_changes_nothing_writes_nothing(db: Database) -> None:
    api = await _tenant(
        db,
        {
            "promote": {
                "entity": "account",
                "on": {"event": "updated"},
                "when": "has(record.score) && record.score >= 10",
                "do": [{"type": "set_fields", "values": {"tier": "gold"}}],
            }
        },
    )
    made = await _create(api, "account", name="ACME", score=0)
    body = await _update(api, made["id"], score=10)
    assert "errors" not in body, body
    got = await _get(api, made["id"])
    assert (got["tier"], got["version"]) == ("gold", 3)  # the user's write, then the automation's
    updated_before = len(await outbox(api, "record.updated"))
    await _update(api, made["id"], score=11)
    got = await _get(api, made["id"])
    assert (got["tier"], got["version"]) == ("gold", 4)  # tier already gold: no second write
    trail = await audit(api, made["id"])
    assert [e["action"] for e in trail] == ["create", "update", "update", "update"]
    assert trail[-1]["diff"] == {"score": [10, 11]}
    assert len(await outbox(api, "record.updated")) == updated_before + 1
    await api.close()


async def test_create_record_links_the_new_record_to_the_trigger(db: Database) -> None:
    api = await _tenant(
        db,
        {
            "first_contact": {
                "entity": "account",
                "on": {"event": "created"},
                "do": [
                    {
                        "type": "create_record",
                        "entity": "contact",
                        "values": {"role": "primary"},
                        "expressions": {"name": "record.name + ' (main)'"},
                        "link_field": "account",
                    }
                ],
            }
        },
    )
    made = await _create(api, "account", name="ACME")
    # The rep who created the account sees the contact made for them.
    body = await api.as_(
        "rep", "{ contacts { edges { node { name role account { id } createdBy { email } } } } }"
    )
    [contact] = [e["node"] for e in body["data"]["contacts"]["edges"]]
    assert contact == {
        "name": "ACME (main)",
        "role": "primary",
        "account": {"id": made["id"]},
        "createdBy": {"email": "rep@auto.test"},
    }
    await api.close()


async def test_create_task_assignees_and_due_in_business_days(db: Database) -> None:
    # Wednesday 23 December 2026, 16:00 in Madrid: Christmas Day and a weekend follow.
    clock = Clock(datetime(2026, 12, 23, 15, 0, tzinfo=UTC))
    api = await _tenant(
        db,
        {
            "follow": {
                "entity": "deal",
                "on": {"event": "created"},
                "do": [
                    {
                        "type": "create_task",
                        "subject": {"en": "Call about {record.title}"},
                        "due": {"amount": 2, "unit": "business_days", "at": "09:00"},
                    },
                    {
                        "type": "create_task",
                        "subject": {"en": "Review {record.title}"},
                        "notes": {"en": "Amount {record.amount}"},
                        "assignee": "actor",
                        "due": {"amount": 3, "unit": "days"},
                    },
                ],
            }
        },
        clock,
    )
    deal = await _create(
        api,
        "deal",
        who="admin",
        title="Boiler",
        ownerId=api.ids["rep"],
        amount={"amount": "120.50"},
    )
    # Without an owner, "owner" falls back to whoever created the record.
    await _create(api, "deal", who="boss", title="Heat pump")
    found = await tasks(
        api, "subject notes dueAt source relatedId relatedEntity done owner { email }"
    )
    by_subject = {t["subject"]: t for t in found}
    assert set(by_subject) == {
        "Call about Boiler",
        "Review Boiler",
        "Call about Heat pump",
        "Review Heat pump",
    }
    call = by_subject["Call about Boiler"]
    # Thu 24 is the first business day, Fri 25 is Christmas, then the weekend: Mon 28, 09:00 CET.
    assert call["dueAt"] == "2026-12-28T08:00:00+00:00"
    assert call["owner"]["email"] == "rep@auto.test"
    assert (call["source"], call["relatedId"], call["relatedEntity"], call["done"]) == (
        "automation:follow",
        deal["id"],
        "deal",
        False,
    )
    review = by_subject["Review Boiler"]
    assert review["dueAt"] == "2026-12-26T15:00:00+00:00"  # three calendar days, same wall time
    assert review["owner"]["email"] == "admin@auto.test"  # the actor
    assert review["notes"] == "Amount 120.50 EUR"
    assert by_subject["Call about Heat pump"]["owner"]["email"] == "boss@auto.test"
    await api.close()


async def test_notify_resolves_recipients_from_roles_fields_and_addresses(db: Database) -> None:
    api = await _tenant(
        db,
        {
            "tell": {
                "entity": "account",
                "on": {"event": "created"},
                "do": [
                    {
                        "type": "notify",
                        "to": {
                            "roles": ["manager"],
                            "fields": ["owner", "email"],
                            "emails": ["Ops@Auto.test", "boss@auto.test"],
                        },
                        "subject": {"en": "New account {record.name}"},
                        "body": {"en": "Tier {record.tier}"},
                    }
                ],
            },
            "owner_only": {
                "entity": "account",
                "on": {"event": "created"},
                "do": [
                    {
                        "type": "notify",
                        "to": {"fields": ["owner"]},
                        "subject": {"en": "Yours: {record.name}"},
                    }
                ],
            },
        },
    )
    made = await _create(
        api,
        "account",
        who="admin",
        name="ACME",
        ownerId=api.ids["rep"],
        email="Client@Example.com",
        tier="gold",
    )
    messages = await outbox(api, "notify.email")
    by_subject = {m["payload"]["subject"]: m for m in messages}
    tell = by_subject["New account ACME"]["payload"]
    assert sorted(tell["to"]) == sorted(
        [
            "ops@auto.test",
            "boss@auto.test",
            "boss2@auto.test",
            "rep@auto.test",
            "client@example.com",
        ]
    )
    assert len(tell["to"]) == len(set(tell["to"]))  # the manager named twice gets one message
    assert tell["body"] == "Tier Gold"  # the option's label, not its value
    assert (tell["entity"], tell["record_id"], tell["source"]) == (
        "account",
        made["id"],
        "automation:tell",
    )
    assert by_subject["Yours: ACME"]["payload"]["to"] == ["rep@auto.test"]
    # Nobody to tell: no message at all.
    await _create(api, "account", who="admin", name="Orphan")
    assert not any(
        m["payload"]["subject"] == "Yours: Orphan" for m in await outbox(api, "notify.email")
    )
    await api.close()


async def test_start_timer_and_cancel_timer(db: Database) -> None:
    clock = Clock(datetime(2026, 12, 21, 9, 0, tzinfo=UTC))
    api = await _tenant(
        db,
        {
            "start_nudge": {
                "entity": "deal",
                "on": {"event": "created"},
                "do": [{"type": "start_timer", "timer": "nudge"}],
            },
            "stop_nudge": {
                "entity": "deal",
                "on": {"event": "transitioned", "to": "won"},
                "do": [{"type": "cancel_timer", "timer": "nudge"}],
            },
        },
        clock,
        timers={"nudge": {"entity": "deal", "offset": {"amount": 3, "unit": "days"}}},
    )
    won = await _create(api, "deal", who="admin", title="A")
    lost = await _create(api, "deal", who="admin", title="B")
    [timer] = await timers(api, won["id"])
    assert (timer["timer_key"], timer["due_at"], timer["entity"]) == (
        "nudge",
        datetime(2026, 12, 24, 9, 0, tzinfo=UTC),
        "deal",
    )
    await _transition(api, won["id"], "win")
    await _transition(api, lost["id"], "lose")
    assert await timers(api, won["id"]) == []
    assert [t["status"] for t in await timers(api, won["id"], None)] == ["cancelled"]
    assert [t["timer_key"] for t in await timers(api, lost["id"])] == ["nudge"]
    await api.close()


async def test_an_automation_may_run_a_transition(db: Database) -> None:
    api = await _tenant(
        db,
        {
            "auto_win": {
                "entity": "deal",
                "on": {"event": "field_changed", "fields": ["amount"]},
                "when": "has(record.amount) && record.amount.amount >= 1000.0",
                "do": [{"type": "transition", "transition": "win"}],
            }
        },
    )
    deal = await _create(api, "deal", who="admin", title="A")
    body = await api.as_(
        "admin",
        'mutation($id: ID!) { updateDeal(id: $id, input: {amount: {amount: "999"}}) { stage } }',
        {"id": deal["id"]},
    )
    assert body["data"]["updateDeal"]["stage"] == "open"
    await api.as_(
        "admin",
        'mutation($id: ID!) { updateDeal(id: $id, input: {amount: {amount: "1000"}}) { stage } }',
        {"id": deal["id"]},
    )
    got = await _get(api, deal["id"], "deal", "stage version")
    assert got == {"stage": "won", "version": 4}
    actions = [e["action"] for e in await audit(api, deal["id"])]
    assert actions == ["create", "update", "update", "transition:win"]
    await api.close()


# -- the cascade bound -------------------------------------------------------------------------

PING_PONG = {
    "ping": {
        "entity": "account",
        "on": {"event": "field_changed", "fields": ["a"]},
        "do": [{"type": "set_fields", "expressions": {"b": "record.a + 1"}}],
    },
    "pong": {
        "entity": "account",
        "on": {"event": "field_changed", "fields": ["b"]},
        "do": [{"type": "set_fields", "expressions": {"a": "record.b + 1"}}],
    },
    "kick": {
        "entity": "account",
        "on": {"event": "created"},
        "when": "record.name == 'loop'",
        "do": [{"type": "set_fields", "values": {"a": 1}}],
    },
}


async def _footprint(api: TenantApi) -> dict[str, int]:
    return {t: await count_rows(api, t) for t in ("record", "audit", "outbox", "timer")}


async def test_automations_that_trigger_each_other_forever_are_refused(db: Database) -> None:
    api = await _tenant(db, PING_PONG)
    made = await _create(api, "account", name="ACME")
    before = await _footprint(api)
    body = await _update(api, made["id"], a=1)
    assert error_codes(body) == ["AUTOMATION_DEPTH"]
    message = body["errors"][0]["message"]
    # The message names the chain that looped, one link per nested run.
    assert re.findall(r"\b(ping|pong)\b", message) == ["ping", "pong"] * 3, message
    assert body["errors"][0]["extensions"]["errors"][0]["code"] == "AUTOMATION_DEPTH"
    # Nothing of the write is left: not the user's change, not the automations' ones.
    got = await _get(api, made["id"])
    assert (got["version"], got["a"], got["b"]) == (1, None, None)
    assert await _footprint(api) == before
    assert len(await audit(api, made["id"])) == 1
    # A create that starts the loop leaves no record at all.
    body = await api.as_("rep", 'mutation { createAccount(input: {name: "loop"}) { id } }')
    assert error_codes(body) == ["AUTOMATION_DEPTH"]
    assert re.findall(r"\b(kick|ping|pong)\b", body["errors"][0]["message"])[:3] == [
        "kick",
        "ping",
        "pong",
    ]
    assert await _footprint(api) == before
    await api.close()


COUNTER = {
    "count": {
        "entity": "account",
        "on": {"event": "field_changed", "fields": ["n"]},
        "when": "has(record.n) && record.n < {stop}",
        "do": [{"type": "set_fields", "expressions": {"n": "record.n + 1"}}],
    }
}


def _counter(stop: int) -> dict[str, Any]:
    spec = dict(COUNTER["count"])
    spec["when"] = str(spec["when"]).replace("{stop}", str(stop))
    return {"count": spec}


@pytest.mark.parametrize(
    ("depth", "stop", "refused"),
    [
        (None, 5, False),  # 4 nested runs, the default bound is 5
        (3, 5, True),  # the same chain under a bound of 3
        (None, 8, True),  # 7 nested runs
        (10, 8, False),  # ... allowed by a bound of 10
    ],
)
async def test_the_depth_bound_and_its_setting(
    db: Database, depth: int | None, stop: int, refused: bool
) -> None:
    limits = {"automation_depth": depth} if depth is not None else None
    api = await _tenant(db, _counter(stop), limits=limits)
    made = await _create(api, "account", name="ACME")
    body = await _update(api, made["id"], n=1)
    got = await _get(api, made["id"])
    if refused:
        assert error_codes(body) == ["AUTOMATION_DEPTH"]
        names = re.findall(r"\bcount\b", body["errors"][0]["message"])
        assert len(names) == (depth or 5) + 1
        assert (got["n"], got["version"]) == (None, 1)
    else:
        assert "errors" not in body, body
        # The user's write, then one write per run.
        assert (got["n"], got["version"]) == (stop, 2 + stop - 1)
    await api.close()


async def test_a_chain_of_exactly_the_bound_succeeds(db: Database) -> None:
    # automation_depth 4; runs at n = 1, 2, 3, 4 (four nested runs), then n = 5 stops it:
    # an automation whose condition is false does not count as going deeper.
    api = await _tenant(db, _counter(5), limits={"automation_depth": 4})
    made = await _create(api, "account", name="ACME")
    body = await _update(api, made["id"], n=1)
    assert "errors" not in body, body
    assert (await _get(api, made["id"]))["n"] == 5
    await api.close()
