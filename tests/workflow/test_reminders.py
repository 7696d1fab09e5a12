"""``myTasks`` and ``inactiveRecords``: local days in the tenant's zone, with an injected clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from core.store import Database
from tests.api_helpers import error_codes
from tests.workflow.configs import field, sales_config
from tests.workflow.helpers import Clock, TenantApi, start_tenant

#: Monday 21 December 2026, 10:00 in Shanghai (UTC+8).
NOW = datetime(2026, 12, 21, 2, 0, tzinfo=UTC)


def _config() -> dict[str, Any]:
    doc = sales_config("reminders", timezone="Asia/Shanghai", country="CN")
    doc["entities"]["call"] = {
        "label": {"en": "Call"},
        "plural": "calls",
        "title_field": "subject",
        "fields": {
            "subject": field("text", "Subject", required=True),
            "account": field("relation", "Account", target="account"),
            "held_on": field("date", "Held on"),
        },
    }
    return doc


async def _task(
    api: TenantApi, subject: str, owner: str, due: str | None, done: bool = False
) -> str:
    values: dict[str, Any] = {"subject": subject, "ownerId": api.ids[owner], "done": done}
    if due is not None:
        values["dueAt"] = due
    body = await api.as_(
        "admin", "mutation($i: TaskCreateInput!) { createTask(input: $i) { id } }", {"i": values}
    )
    assert "errors" not in body, body
    return str(body["data"]["createTask"]["id"])


async def _mine(api: TenantApi, who: str, due: str | None = None) -> list[str]:
    arg = f"(due: {due})" if due else ""
    body = await api.as_(who, f"{{ myTasks{arg} {{ subject }} }}")
    assert "errors" not in body, body
    return [t["subject"] for t in body["data"]["myTasks"]]


async def test_my_tasks_by_local_day(db: Database) -> None:
    clock = Clock(NOW)
    api = await start_tenant(db, _config(), clock=clock)
    await _task(api, "late today", "rep", "2026-12-21T23:30:00+08:00")
    await _task(api, "early today", "rep", "2026-12-21T00:10:00+08:00")  # 20 December in UTC
    await _task(api, "tomorrow", "rep", "2026-12-22T00:30:00+08:00")  # 21 December in UTC
    await _task(api, "overdue", "rep", "2026-12-20T23:59:00+08:00")
    await _task(api, "overdue but done", "rep", "2026-12-19T09:00:00+08:00", done=True)
    await _task(api, "next week", "rep", "2026-12-28T09:00:00+08:00")
    await _task(api, "someday", "rep", None)
    await _task(api, "someone else's", "rep2", "2026-12-21T12:00:00+08:00")
    assert await _mine(api, "rep", "TODAY") == ["early today", "late today"]
    assert await _mine(api, "rep") == ["early today", "late today"]  # today by default
    assert await _mine(api, "rep", "TOMORROW") == ["tomorrow"]
    assert await _mine(api, "rep", "OVERDUE") == ["overdue"]
    assert await _mine(api, "rep", "UPCOMING") == ["next week"]
    assert sorted(await _mine(api, "rep", "OPEN")) == sorted(
        ["overdue", "early today", "late today", "tomorrow", "next week", "someday"]
    )
    assert await _mine(api, "rep2", "TODAY") == ["someone else's"]
    assert await _mine(api, "boss", "OPEN") == []
    # Midnight in Shanghai (16:00 UTC): "tomorrow" is today, today's tasks are overdue.
    clock.now = datetime(2026, 12, 21, 16, 0, tzinfo=UTC)
    assert await _mine(api, "rep", "TODAY") == ["tomorrow"]
    assert await _mine(api, "rep", "OVERDUE") == ["overdue", "early today", "late today"]
    assert await _mine(api, "rep", "TOMORROW") == []
    await api.close()


async def test_done_tasks_leave_every_window(db: Database) -> None:
    api = await start_tenant(db, _config(), clock=Clock(NOW))
    task = await _task(api, "call back", "rep", "2026-12-21T15:00:00+08:00")
    assert await _mine(api, "rep") == ["call back"]
    body = await api.as_(
        "rep",
        "mutation($id: ID!) { updateTask(id: $id, input: {done: true}) { done } }",
        {"id": task},
    )
    assert body["data"]["updateTask"] == {"done": True}
    for window in ("TODAY", "OVERDUE", "OPEN"):
        assert await _mine(api, "rep", window) == []
    await api.close()


async def _account(api: TenantApi, name: str) -> str:
    body = await api.as_(
        "admin", "mutation($n: String!) { createAccount(input: {name: $n}) { id } }", {"n": name}
    )
    return str(body["data"]["createAccount"]["id"])


async def _call(api: TenantApi, account: str, held_on: str) -> str:
    body = await api.as_(
        "admin",
        'mutation($a: ID!, $d: Date!) { createCall(input: {subject: "call", accountId: $a, heldOn: $d}) { id } }',
        {"a": account, "d": held_on},
    )
    assert "errors" not in body, body
    return str(body["data"]["createCall"]["id"])


INACTIVE = "id title lastActivityId lastActivityAt"


async def _inactive(api: TenantApi, days: int, extra: str = "") -> list[dict[str, Any]]:
    body = await api.as_(
        "admin",
        f'{{ inactiveRecords(entity: "account", days: {days}, activity: "call", via: "account"{extra}) {{ {INACTIVE} }} }}',
    )
    assert "errors" not in body, body
    return list(body["data"]["inactiveRecords"])


async def test_inactive_records_have_no_activity_in_the_last_days(db: Database) -> None:
    clock = Clock(datetime(2026, 10, 1, 2, 0, tzinfo=UTC))
    api = await start_tenant(db, _config(), clock=clock)
    ids = []
    for name in ("ACME", "Globex", "Initech", "Umbrella"):  # oldest first
        ids.append(await _account(api, name))
        clock.now += timedelta(minutes=1)
    acme, globex, initech, umbrella = ids
    old_call = await _call(api, acme, "2026-10-01")
    clock.now = datetime(2026, 12, 15, 2, 0, tzinfo=UTC)
    await _call(api, globex, "2026-12-15")
    clock.now = NOW
    # Logged today about a call held long ago.
    initech_call = await _call(api, initech, "2026-11-01")

    found = await _inactive(api, 30)
    assert [r["title"] for r in found] == ["ACME", "Umbrella"]
    assert found[0] == {
        "id": acme,
        "title": "ACME",
        "lastActivityId": old_call,
        "lastActivityAt": "2026-10-01T02:04:00+00:00",
    }
    assert (found[1]["id"], found[1]["lastActivityId"], found[1]["lastActivityAt"]) == (
        umbrella,
        None,
        None,
    )
    # By the date the call was held rather than when it was logged.
    held = await _inactive(api, 30, ', dateField: "held_on"')
    assert [(r["title"], r["lastActivityId"]) for r in held] == [
        ("ACME", old_call),
        ("Initech", initech_call),
        ("Umbrella", None),
    ]
    # A longer window reaches ACME's October call; first limits the answer.
    assert [r["title"] for r in await _inactive(api, 90)] == ["Umbrella"]
    assert [r["title"] for r in await _inactive(api, 30, ", first: 1")] == ["ACME"]
    assert globex not in {r["id"] for r in found}
    await api.close()


async def test_inactive_records_refuse_a_link_that_is_not_a_relation(db: Database) -> None:
    api = await start_tenant(db, _config(), clock=Clock(NOW))
    body = await api.as_(
        "admin",
        '{ inactiveRecords(entity: "account", days: 30, activity: "call", via: "subject") { id } }',
    )
    assert error_codes(body) == ["BAD_REQUEST"]
    assert body["errors"][0]["extensions"]["errors"][0]["field"] == "via"
    await api.close()
