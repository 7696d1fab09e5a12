"""Timers with an injected clock: scheduling across holidays and zones, firing, pinning."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from core.store import Database
from tests.workflow.configs import sales_config
from tests.workflow.helpers import (
    Clock,
    TenantApi,
    start_tenant,
    tasks,
    timers,
    worker,
)

TIMERS: dict[str, Any] = {
    "before_close": {
        "entity": "deal",
        "field": "close_date",
        "offset": {"amount": -1, "unit": "business_days", "at": "09:00"},
    },
    "callback": {
        "entity": "account",
        "field": "callback_at",
        "offset": {"amount": -30, "unit": "minutes"},
    },
    "nudge": {"entity": "deal", "offset": {"amount": 1, "unit": "business_days", "at": "09:00"}},
}
AUTOMATIONS: dict[str, Any] = {
    "closing_task": {
        "entity": "deal",
        "on": {"event": "timer", "timer": "before_close"},
        "do": [{"type": "create_task", "subject": {"en": "Closing {record.title}"}}],
    },
    "start_nudge": {
        "entity": "deal",
        "on": {"event": "created"},
        "when": "record.title.startsWith('nudge')",
        "do": [{"type": "start_timer", "timer": "nudge"}],
    },
    "nudge_task": {
        "entity": "deal",
        "on": {"event": "timer", "timer": "nudge"},
        "do": [{"type": "create_task", "subject": {"en": "Nudge {record.title}"}}],
    },
}


def timer_config(
    timezone: str = "Europe/Madrid", country: str = "ES", automations: dict[str, Any] | None = None
) -> dict[str, Any]:
    return sales_config(
        "timers",
        timezone=timezone,
        country=country,
        timers=TIMERS,
        automations=AUTOMATIONS if automations is None else automations,
    )


async def _deal(api: TenantApi, title: str, **values: Any) -> str:
    body = await api.as_(
        "admin",
        "mutation($i: DealCreateInput!) { createDeal(input: $i) { id } }",
        {"i": {"title": title, **values}},
    )
    assert "errors" not in body, body
    return str(body["data"]["createDeal"]["id"])


async def _update_deal(api: TenantApi, id: str, **values: Any) -> None:
    body = await api.as_(
        "admin",
        "mutation($id: ID!, $i: DealUpdateInput!) { updateDeal(id: $id, input: $i) { id } }",
        {"id": id, "i": values},
    )
    assert "errors" not in body, body


def _utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


# -- scheduling ------------------------------------------------------------------------------


async def test_a_field_timer_follows_its_date_field(db: Database) -> None:
    api = await start_tenant(db, timer_config(), clock=Clock(_utc(2026, 12, 1, 9)))
    # Wednesday 9 December: the day before is a holiday (Immaculate Conception), so the
    # business day before is Monday 7th, 09:00 in Madrid.
    deal = await _deal(api, "Boiler", closeDate="2026-12-09")
    [timer] = await timers(api, deal)
    assert (timer["timer_key"], timer["due_at"], timer["config_version"]) == (
        "before_close",
        _utc(2026, 12, 7, 8),
        1,
    )
    # Changing the date moves the timer: the old one is cancelled, one stays pending.
    await _update_deal(api, deal, closeDate="2026-12-29")
    [moved] = await timers(api, deal)
    assert moved["due_at"] == _utc(2026, 12, 28, 8)
    assert [t["status"] for t in await timers(api, deal, None)] == ["cancelled", "pending"]
    # Another field changing leaves it alone.
    await _update_deal(api, deal, title="Boiler (big)")
    assert [t["id"] for t in await timers(api, deal)] == [moved["id"]]
    assert len(await timers(api, deal, None)) == 2
    # Clearing the date cancels it.
    await _update_deal(api, deal, closeDate=None)
    assert await timers(api, deal) == []
    # Deleting the record cancels its timers.
    await _update_deal(api, deal, closeDate="2027-01-20")
    assert len(await timers(api, deal)) == 1
    body = await api.as_("admin", "mutation($id: ID!) { deleteDeal(id: $id) { id } }", {"id": deal})
    assert "errors" not in body, body
    assert await timers(api, deal) == []
    assert {t["status"] for t in await timers(api, deal, None)} == {"cancelled"}
    await api.close()


async def test_a_datetime_field_timer_counts_exact_minutes(db: Database) -> None:
    api = await start_tenant(db, timer_config(), clock=Clock(_utc(2026, 3, 20, 9)))
    body = await api.as_(
        "admin",
        'mutation { createAccount(input: {name: "A", callbackAt: "2026-03-29T02:10:00+02:00"}) { id } }',
    )
    account = body["data"]["createAccount"]["id"]
    # Half an hour before 00:10 UTC on the night Madrid springs forward.
    [timer] = await timers(api, account)
    assert timer["due_at"] == _utc(2026, 3, 28, 23, 40)
    await api.close()


@pytest.mark.parametrize(
    ("timezone", "country", "now", "due"),
    [
        # Thursday 24 December, noon in Madrid: Christmas Day, then the weekend.
        ("Europe/Madrid", "ES", _utc(2026, 12, 24, 11), _utc(2026, 12, 28, 8)),
        # Wednesday 30 September in Shanghai: National Day holidays until Wednesday 7 October.
        ("Asia/Shanghai", "CN", _utc(2026, 9, 30, 7), _utc(2026, 10, 8, 1)),
        # Thursday 8 October 17:00 UTC is already Friday in Shanghai; the next business day
        # is Saturday 10 October, an official make-up working day.
        ("Asia/Shanghai", "CN", _utc(2026, 10, 8, 17), _utc(2026, 10, 10, 1)),
        # 00:30 on Rizal Day in Manila: New Year's Eve, New Year's Day, then the weekend.
        ("Asia/Manila", "PH", _utc(2026, 12, 29, 16, 30), _utc(2027, 1, 4, 1)),
    ],
)
async def test_started_timers_skip_holidays_in_the_tenant_zone(
    db: Database, timezone: str, country: str, now: datetime, due: datetime
) -> None:
    api = await start_tenant(db, timer_config(timezone, country), clock=Clock(now))
    deal = await _deal(api, "nudge me")
    [timer] = await timers(api, deal)
    assert (timer["timer_key"], timer["due_at"]) == ("nudge", due)
    await api.close()


@pytest.mark.parametrize(
    ("timezone", "country", "close", "due"),
    [
        ("Europe/Madrid", "ES", "2026-12-09", _utc(2026, 12, 7, 8)),
        # Before Thursday 8 October: back over National Day to Wednesday 30 September.
        ("Asia/Shanghai", "CN", "2026-10-08", _utc(2026, 9, 30, 1)),
        # Before Monday 28 December: the weekend, Christmas Day and Christmas Eve.
        ("Asia/Manila", "PH", "2026-12-28", _utc(2026, 12, 23, 1)),
    ],
)
async def test_field_timers_go_back_over_holidays_in_the_tenant_zone(
    db: Database, timezone: str, country: str, close: str, due: datetime
) -> None:
    api = await start_tenant(db, timer_config(timezone, country), clock=Clock(_utc(2026, 9, 1)))
    deal = await _deal(api, "Deal", closeDate=close)
    [timer] = await timers(api, deal)
    assert timer["due_at"] == due
    await api.close()


# -- firing ----------------------------------------------------------------------------------


async def test_the_worker_fires_due_timers_once_and_leaves_the_rest(db: Database) -> None:
    clock = Clock(_utc(2026, 12, 21, 9))
    api = await start_tenant(db, timer_config(), clock=clock)
    soon = await _deal(api, "Soon", closeDate="2026-12-23")  # due Tue 22nd, 08:00 UTC
    later = await _deal(api, "Later", closeDate="2027-01-15")  # due Thu 14 January
    async with worker(api.runtime, clock) as w:
        assert (await w.run_once()).timers_fired == 0
        assert len(await timers(api, soon)) == len(await timers(api, later)) == 1
        clock.now = _utc(2026, 12, 22, 7, 59)
        assert (await w.run_once()).timers_fired == 0
        clock.now = _utc(2026, 12, 22, 8)
        assert (await w.run_once()).timers_fired == 1
        [fired] = await timers(api, soon, "fired")
        assert fired["fired_at"] == clock.now
        assert len(await timers(api, later)) == 1
        # Its automation ran once, however often the worker passes.
        assert (await w.run_once()).timers_fired == 0
        assert [t["subject"] for t in await tasks(api)] == ["Closing Soon"]
        [task] = await tasks(api, "relatedId source")
        assert task == {"relatedId": soon, "source": "automation:closing_task"}
        clock.now = _utc(2027, 1, 14, 8)
        assert (await w.run_once()).timers_fired == 1
    assert sorted(t["subject"] for t in await tasks(api)) == ["Closing Later", "Closing Soon"]
    await api.close()


async def test_a_timer_fires_with_the_config_version_it_started_under(db: Database) -> None:
    clock = Clock(_utc(2026, 12, 21, 9))
    v1 = timer_config()
    api = await start_tenant(db, v1, clock=clock)
    old = await _deal(api, "nudge old")
    v2 = copy.deepcopy(v1)
    v2["automations"]["nudge_task"]["do"][0]["subject"] = {"en": "Chase {record.title}"}
    v2["timers"]["nudge"]["offset"] = {"amount": 2, "unit": "business_days", "at": "09:00"}
    applied = await api.runtime.apply_config(v2)
    assert applied.version == 2
    new = await _deal(api, "nudge new")
    [old_timer], [new_timer] = await timers(api, old), await timers(api, new)
    assert (old_timer["config_version"], old_timer["due_at"]) == (1, _utc(2026, 12, 22, 8))
    assert (new_timer["config_version"], new_timer["due_at"]) == (2, _utc(2026, 12, 23, 8))
    clock.now = _utc(2026, 12, 23, 8)
    async with worker(api.runtime, clock) as w:
        assert (await w.run_once()).timers_fired == 2
    assert sorted(t["subject"] for t in await tasks(api)) == ["Chase nudge new", "Nudge nudge old"]
    await api.close()


async def test_a_timer_whose_automation_is_gone_fires_and_does_nothing(db: Database) -> None:
    clock = Clock(_utc(2026, 12, 21, 9))
    api = await start_tenant(db, timer_config(), clock=clock)
    deal = await _deal(api, "nudge me")
    clock.now += timedelta(days=7)
    body = await api.as_("admin", "mutation($id: ID!) { deleteDeal(id: $id) { id } }", {"id": deal})
    assert "errors" not in body, body
    async with worker(api.runtime, clock) as w:
        stats = await w.run_once()
    assert (stats.timers_fired, stats.timers_failed) == (0, 0)  # cancelled with the record
    assert await tasks(api) == []
    await api.close()


async def test_what_a_timer_does_happens_at_the_workers_time(db: Database) -> None:
    automations = copy.deepcopy(AUTOMATIONS)
    automations["nudge_task"]["do"][0]["due"] = {
        "amount": 1,
        "unit": "business_days",
        "at": "09:00",
    }
    clock = Clock(_utc(2026, 12, 21, 9))
    api = await start_tenant(db, timer_config(automations=automations), clock=clock)
    await _deal(api, "nudge me")  # due Tuesday 22nd, 08:00 UTC
    clock.now = _utc(2026, 12, 24, 11)  # the worker passes on Thursday 24th at noon
    async with worker(api.runtime, clock) as w:
        assert (await w.run_once()).timers_fired == 1
    [task] = await tasks(api, "subject dueAt createdAt")
    # One business day after Christmas Eve, past Christmas Day and the weekend.
    assert task == {
        "subject": "Nudge nudge me",
        "dueAt": "2026-12-28T08:00:00+00:00",
        "createdAt": "2026-12-24T11:00:00+00:00",
    }
    await api.close()


async def test_a_timer_rearmed_by_its_own_automation_is_consistent(db: Database) -> None:
    clock = Clock(_utc(2026, 12, 1, 9))
    automations = {
        "start_ping": {
            "entity": "deal",
            "on": {"event": "created"},
            "do": [{"type": "start_timer", "timer": "ping"}],
        },
        "rearm": {
            "entity": "deal",
            "on": {"event": "timer", "timer": "ping"},
            "do": [
                {"type": "create_task", "subject": {"en": "v1 ping {record.title}"}},
                {"type": "start_timer", "timer": "ping"},
            ],
        },
    }
    ping = {"entity": "deal", "offset": {"amount": 1, "unit": "days"}}
    v1 = sales_config("timers", timers={"ping": ping}, automations=automations)
    api = await start_tenant(db, v1, clock=clock)
    deal = await _deal(api, "A")
    v2 = copy.deepcopy(v1)
    v2["timers"]["ping"]["offset"]["amount"] = 5
    v2["automations"]["rearm"]["do"][0]["subject"] = {"en": "v2 ping {record.title}"}
    await api.runtime.apply_config(v2)
    clock.now = _utc(2026, 12, 2, 9)
    async with worker(api.runtime, clock) as w:
        assert (await w.run_once()).timers_fired == 1
    assert [t["subject"] for t in await tasks(api, "subject")] == ["v1 ping A"]
    [again] = await timers(api, deal)
    # Either the run stays pinned to version 1 (its offset and, when it fires, its
    # automations; what D6 describes), or it moves to version 2 as a whole.
    assert (again["config_version"], again["due_at"]) in {
        (1, _utc(2026, 12, 3, 9)),
        (2, _utc(2026, 12, 7, 9)),
    }
    await api.close()


async def test_a_repeating_reminder_notifies_every_time(db: Database) -> None:
    clock = Clock(_utc(2026, 12, 1, 9))
    automations = {
        "start_ping": {
            "entity": "deal",
            "on": {"event": "created"},
            "do": [{"type": "start_timer", "timer": "ping"}],
        },
        "ping_owner": {
            "entity": "deal",
            "on": {"event": "timer", "timer": "ping"},
            "do": [
                {
                    "type": "notify",
                    "to": {"emails": ["sales@timers.test"]},
                    "subject": {"en": "Still open: {record.title}"},
                },
                {"type": "webhook", "url": "https://hooks.example/ping"},
                {"type": "start_timer", "timer": "ping"},
            ],
        },
    }
    ping = {"entity": "deal", "offset": {"amount": 1, "unit": "days"}}
    api = await start_tenant(
        db, sales_config("timers", timers={"ping": ping}, automations=automations), clock=clock
    )
    await _deal(api, "A")
    async with worker(api.runtime, clock) as w:
        for day in (2, 3, 4):
            clock.now = _utc(2026, 12, day, 9)
            assert (await w.run_once()).timers_fired == 1
    rows = await db._fetch_as("timers", "SELECT topic FROM outbox WHERE tenant_id = {}", "timers")
    topics = [r["topic"] for r in rows]
    assert (topics.count("notify.email"), topics.count("webhook")) == (3, 3)
    await api.close()
