"""The job store: claims, leases, expiry, retries, dead letters, timers (both engines)."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.store import Database
from core.store.jobs import DEAD, JobStore
from core.worker import BACKOFF_BASE, BACKOFF_CAP, backoff
from tests.worker.helpers import NOW, add_tenant, at


async def _enqueue(db: Database, tenant: str, n: int, prefix: str = "k") -> list[str]:
    keys = [f"{prefix}{i}" for i in range(n)]
    for key in keys:
        await db.enqueue(tenant, "record.created", {"key": key}, key, NOW)
    return keys


async def _row(db: Database, tenant: str, key: str) -> dict[str, object]:
    rows = await db._fetch_as(
        tenant,
        "SELECT attempts, leased_by, delivered_at, last_error FROM outbox "
        "WHERE tenant_id = {} AND idempotency_key = {}",
        tenant,
        key,
    )
    return rows[0]


# -- outbox ---------------------------------------------------------------------


async def test_claims_lease_the_oldest_due_messages_to_one_worker(
    db: Database, jobs: JobStore
) -> None:
    await _enqueue(db, "acme", 3)
    first = await jobs.claim_outbox("acme", "w1", NOW, 30, 2, 10)
    assert [m["idempotency_key"] for m in first] == ["k0", "k1"]
    assert {m["leased_by"] for m in first} == {"w1"}
    assert {m["attempts"] for m in first} == {1}
    assert {m["lease_until"] for m in first} == {at(30)}
    assert first[0]["payload"] == {"key": "k0"} and first[0]["topic"] == "record.created"
    # Leased messages are not claimed again while their lease runs.
    second = await jobs.claim_outbox("acme", "w2", at(29), 30, 10, 10)
    assert [m["idempotency_key"] for m in second] == ["k2"]
    assert await jobs.claim_outbox("acme", "w3", at(29), 30, 10, 10) == []

    assert not await jobs.finish_outbox("acme", first[0]["id"], "w2", at(1))  # not its lease
    assert await jobs.finish_outbox("acme", first[0]["id"], "w1", at(1))
    assert not await jobs.finish_outbox("acme", first[0]["id"], "w1", at(2))  # already done
    row = await _row(db, "acme", "k0")
    assert row["delivered_at"] is not None and row["leased_by"] is None


async def test_an_expired_lease_is_taken_over_and_the_old_holder_cannot_finish(
    db: Database, jobs: JobStore
) -> None:
    await _enqueue(db, "acme", 1)
    [mine] = await jobs.claim_outbox("acme", "w1", NOW, 10, 5, 10)
    assert await jobs.claim_outbox("acme", "w2", at(9.999), 10, 5, 10) == []
    [taken] = await jobs.claim_outbox("acme", "w2", at(10), 10, 5, 10)
    assert taken["id"] == mine["id"] and taken["attempts"] == 2
    assert not await jobs.finish_outbox("acme", mine["id"], "w1", at(11))
    assert not await jobs.retry_outbox("acme", mine["id"], "w1", "late", at(60))
    assert await jobs.finish_outbox("acme", mine["id"], "w2", at(11))


async def test_a_retried_message_waits_until_its_retry_time(db: Database, jobs: JobStore) -> None:
    await _enqueue(db, "acme", 1)
    [m] = await jobs.claim_outbox("acme", "w1", NOW, 30, 5, 10)
    assert await jobs.retry_outbox("acme", m["id"], "w1", "HTTP 500", at(60))
    assert (await _row(db, "acme", "k0"))["last_error"] == "HTTP 500"
    assert await jobs.claim_outbox("acme", "w1", at(59), 30, 5, 10) == []
    assert await jobs.tenants_with_due_work(at(59)) == []
    [again] = await jobs.claim_outbox("acme", "w2", at(60), 30, 5, 10)
    assert again["attempts"] == 2 and again["last_error"] == "HTTP 500"


async def test_messages_out_of_attempts_are_dead_letters_never_claimed(
    db: Database, jobs: JobStore
) -> None:
    await _enqueue(db, "acme", 3)
    await add_tenant(db, "acme")
    # k0: fails twice with max_attempts 2; the worker buries it on its last attempt.
    # k1: permanent failure, buried at once. k2: its worker is lost on the last attempt.
    claimed = await jobs.claim_outbox("acme", "w1", NOW, 10, 3, 2)
    by_key = {m["idempotency_key"]: m["id"] for m in claimed}
    assert await jobs.retry_outbox("acme", by_key["k0"], "w1", "timeout", at(1))
    assert await jobs.bury_outbox("acme", by_key["k1"], "w1", "HTTP 404")
    assert await jobs.release_outbox("acme", "w1", [by_key["k2"]]) == 1
    k2, k0 = await jobs.claim_outbox("acme", "w1", at(1), 10, 5, 2)  # k2 is due first
    assert (k0["idempotency_key"], k0["attempts"]) == ("k0", 2)
    assert (k2["idempotency_key"], k2["attempts"]) == ("k2", 1)
    assert await jobs.bury_outbox("acme", k0["id"], "w1", "timeout again")
    # w1 is lost with k2; with max_attempts 1 the next claim buries k2.
    assert await jobs.tenants_with_due_work(at(100)) == ["acme"]
    assert await jobs.claim_outbox("acme", "w2", at(100), 10, 5, 1) == []
    assert await jobs.tenants_with_due_work(at(100)) == []
    dead = await jobs.dead_letters("acme")
    assert [(m["idempotency_key"], m["last_error"]) for m in dead] == [
        ("k0", "timeout again"),
        ("k1", "HTTP 404"),
        ("k2", "the worker was lost during the last attempt (lease expired)"),
    ]
    assert {m["leased_by"] for m in dead} == {DEAD}
    # A larger max_attempts later does not bring them back; reviving does.
    assert await jobs.claim_outbox("acme", "w2", at(200), 10, 5, 100) == []
    assert await jobs.revive_outbox("acme", dead[1]["id"], at(200))
    [revived] = await jobs.claim_outbox("acme", "w2", at(200), 10, 5, 100)
    assert revived["idempotency_key"] == "k1" and revived["attempts"] == 1
    assert [m["idempotency_key"] for m in await jobs.dead_letters("acme")] == ["k0", "k2"]


async def test_released_claims_are_claimable_at_once_without_using_an_attempt(
    db: Database, jobs: JobStore
) -> None:
    await _enqueue(db, "acme", 3)
    claimed = await jobs.claim_outbox("acme", "w1", NOW, 60, 3, 10)
    assert await jobs.release_outbox("acme", "w2", [m["id"] for m in claimed]) == 0
    assert await jobs.release_outbox("acme", "w1", [m["id"] for m in claimed[1:]]) == 2
    again = await jobs.claim_outbox("acme", "w2", NOW, 60, 3, 10)
    assert [(m["idempotency_key"], m["attempts"]) for m in again] == [("k1", 1), ("k2", 1)]


async def test_claims_and_updates_stay_inside_their_tenant(db: Database, jobs: JobStore) -> None:
    for tenant in ("acme", "globex", "initech"):
        await add_tenant(db, tenant)
    await _enqueue(db, "acme", 2, "a")
    await _enqueue(db, "globex", 2, "g")
    assert await jobs.tenants_with_due_work(NOW) == ["acme", "globex"]
    acme = await jobs.claim_outbox("acme", "w1", NOW, 60, 10, 10)
    assert {m["tenant_id"] for m in acme} == {"acme"} and len(acme) == 2
    # Another tenant's id is unknown to acme's scope, even to the worker holding it.
    globex = await jobs.claim_outbox("globex", "w1", NOW, 60, 10, 10)
    assert not await jobs.finish_outbox("acme", globex[0]["id"], "w1", NOW)
    assert not await jobs.retry_outbox("acme", globex[0]["id"], "w1", "x", NOW)
    assert not await jobs.bury_outbox("acme", globex[0]["id"], "w1", "x")
    assert await jobs.release_outbox("acme", "w1", [globex[0]["id"]]) == 0
    assert await jobs.dead_letters("initech") == []
    assert await jobs.tenants_with_due_work(NOW) == []  # all leased
    assert await jobs.tenants_with_due_work(at(60)) == ["acme", "globex"]


async def test_delivered_and_future_messages_are_not_due(db: Database, jobs: JobStore) -> None:
    await add_tenant(db, "acme")
    await db.enqueue("acme", "record.created", {}, "later", at(3600))
    assert await jobs.tenants_with_due_work(NOW) == []
    assert await jobs.claim_outbox("acme", "w1", NOW, 60, 10, 10) == []
    [m] = await jobs.claim_outbox("acme", "w1", at(3600), 60, 10, 10)
    assert await jobs.finish_outbox("acme", m["id"], "w1", at(3601))
    assert await jobs.tenants_with_due_work(at(99999)) == []


async def test_worker_ids_may_not_pose_as_the_dead_letter_marker(jobs: JobStore) -> None:
    with pytest.raises(ValueError, match="worker id"):
        await jobs.claim_outbox("acme", DEAD, NOW, 60, 10, 10)
    with pytest.raises(ValueError, match="worker id"):
        await jobs.claim_timers("acme", "", NOW, 60, 10)


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    claims=st.lists(
        st.tuples(
            st.sampled_from(["w1", "w2", "w3"]),
            st.integers(min_value=0, max_value=40),  # clock reading, seconds
            st.integers(min_value=1, max_value=4),  # batch
            st.booleans(),  # finish what was claimed
        ),
        min_size=1,
        max_size=12,
    )
)
async def test_live_leases_never_overlap_and_every_message_is_finished_at_most_once(
    db: Database, jobs: JobStore, claims: list[tuple[str, int, int, bool]]
) -> None:
    tenant = f"t{random.getrandbits(40):x}"  # a fresh tenant per example
    keys = await _enqueue(db, tenant, 6)
    holders: dict[str, tuple[str, float]] = {}  # message id -> (worker, lease end)
    finished: list[str] = []
    for worker, clock, batch, finish in sorted(claims, key=lambda c: c[1]):
        for m in await jobs.claim_outbox(tenant, worker, at(clock), 10, batch, 100):
            held = holders.get(m["id"])
            assert held is None or held[1] <= clock, "claimed while another lease was live"
            holders[m["id"]] = (worker, clock + 10)
            if finish:
                assert await jobs.finish_outbox(tenant, m["id"], worker, at(clock))
                finished.append(m["id"])
                holders[m["id"]] = (worker, float("inf"))  # delivered: never again
    assert len(finished) == len(set(finished)) <= len(keys)


@given(
    attempts=st.integers(min_value=1, max_value=200),
    seed=st.integers(min_value=0, max_value=2**32),
    hint=st.none() | st.floats(min_value=0, max_value=10_000),
)
def test_backoff_doubles_with_jitter_within_the_cap(
    attempts: int, seed: int, hint: float | None
) -> None:
    delay = backoff(attempts, random.Random(seed), hint)
    base = min(BACKOFF_CAP, BACKOFF_BASE * 2 ** (attempts - 1))
    assert base / 2 <= delay <= BACKOFF_CAP
    if hint is None:
        assert delay <= base
    else:
        assert delay >= min(hint, BACKOFF_CAP)


# -- timers ---------------------------------------------------------------------


async def test_scheduling_a_timer_again_moves_it(db: Database, jobs: JobStore) -> None:
    first = await jobs.schedule_timer("acme", "follow_up", "quote", "q1", at(3600), 4, NOW)
    other = await jobs.schedule_timer("acme", "expire", "quote", "q1", at(7200), 4, NOW)
    moved = await jobs.schedule_timer("acme", "follow_up", "quote", "q1", at(5400), 5, at(10))
    await jobs.schedule_timer("acme", "follow_up", "quote", "q2", at(3600), 5, at(10))
    timers = await jobs.timers_for("acme", "q1")
    assert [(t["id"], t["timer_key"], t["status"]) for t in timers] == [
        (first, "follow_up", "cancelled"),
        (other, "expire", "pending"),
        (moved, "follow_up", "pending"),
    ]
    assert timers[0]["fired_at"] == at(10)  # when it left pending
    assert timers[2]["due_at"] == at(5400) and timers[2]["config_version"] == 5
    assert timers[2]["entity"] == "quote" and timers[2]["attempts"] == 0
    assert await jobs.timers_for("globex", "q1") == []


async def test_cancelling_timers_by_key_or_all(db: Database, jobs: JobStore) -> None:
    await jobs.schedule_timer("acme", "a", "quote", "q1", at(60), 1, NOW)
    await jobs.schedule_timer("acme", "b", "quote", "q1", at(60), 1, NOW)
    await jobs.schedule_timer("acme", "c", "quote", "q1", at(60), 1, NOW)
    assert await jobs.cancel_timers("globex", "q1", NOW) == 0
    assert await jobs.cancel_timers("acme", "q1", NOW, "a") == 1
    assert await jobs.cancel_timers("acme", "q1", NOW, "a") == 0
    assert await jobs.cancel_timers("acme", "q1", NOW) == 2
    assert {t["status"] for t in await jobs.timers_for("acme", "q1")} == {"cancelled"}


async def test_timers_are_claimed_when_due_and_settled_once(db: Database, jobs: JobStore) -> None:
    await add_tenant(db, "acme")
    await add_tenant(db, "globex")
    early = await jobs.schedule_timer("acme", "a", "quote", "q1", at(60), 1, NOW)
    late = await jobs.schedule_timer("acme", "b", "quote", "q2", at(120), 1, NOW)
    await jobs.schedule_timer("globex", "a", "quote", "g1", at(600), 1, NOW)
    assert await jobs.tenants_with_due_work(at(59)) == []
    assert await jobs.tenants_with_due_work(at(60)) == ["acme"]
    assert await jobs.claim_timers("acme", "w1", at(59), 30, 10) == []
    [claimed] = await jobs.claim_timers("acme", "w1", at(60), 30, 10)
    assert claimed["id"] == early and claimed["attempts"] == 1 and claimed["leased_by"] == "w1"
    assert await jobs.claim_timers("acme", "w2", at(89), 30, 10) == []
    assert not await jobs.finish_timer("acme", early, "w2", "fired", at(61))
    assert await jobs.finish_timer("acme", early, "w1", "fired", at(61))
    assert not await jobs.finish_timer("acme", early, "w1", "fired", at(62))
    [later] = await jobs.claim_timers("acme", "w2", at(200), 30, 10)
    assert later["id"] == late
    # A timer cancelled after its claim cannot be fired any more.
    assert await jobs.cancel_timers("acme", "q2", at(201)) == 1
    assert not await jobs.finish_timer("acme", late, "w2", "fired", at(202))
    statuses = {t["id"]: t["status"] for t in await jobs.timers_for("acme", "q1")}
    assert statuses == {early: "fired"}
    with pytest.raises(ValueError, match="fired"):
        await jobs.finish_timer("acme", early, "w1", "cancelled", at(1))


async def test_a_failed_timer_backs_off_then_fails_for_good(db: Database, jobs: JobStore) -> None:
    await add_tenant(db, "acme")
    timer = await jobs.schedule_timer("acme", "a", "quote", "q1", NOW, 1, NOW)
    [t] = await jobs.claim_timers("acme", "w1", NOW, 30, 10, max_attempts=2)
    assert await jobs.retry_timer("acme", timer, "w1", "boom", at(45))
    assert await jobs.tenants_with_due_work(at(44)) == []
    assert await jobs.claim_timers("acme", "w2", at(44), 30, 10, max_attempts=2) == []
    [t] = await jobs.claim_timers("acme", "w2", at(45), 30, 10, max_attempts=2)
    assert t["attempts"] == 2 and t["last_error"] == "boom" and t["due_at"] == NOW
    assert await jobs.finish_timer("acme", timer, "w2", "failed", at(46), "boom again")
    [row] = await jobs.timers_for("acme", "q1")
    assert (row["status"], row["last_error"], row["fired_at"]) == ("failed", "boom again", at(46))


async def test_a_timer_whose_worker_was_lost_on_the_last_attempt_fails(
    db: Database, jobs: JobStore
) -> None:
    timer = await jobs.schedule_timer("acme", "a", "quote", "q1", NOW, 1, NOW)
    assert len(await jobs.claim_timers("acme", "w1", NOW, 30, 10, max_attempts=1)) == 1
    assert await jobs.claim_timers("acme", "w2", at(30), 30, 10, max_attempts=1) == []
    [row] = await jobs.timers_for("acme", "q1")
    assert row["id"] == timer and row["status"] == "failed"
    assert "lost" in (row["last_error"] or "")


async def test_released_timers_are_claimable_again(db: Database, jobs: JobStore) -> None:
    timer = await jobs.schedule_timer("acme", "a", "quote", "q1", NOW, 1, NOW)
    await jobs.claim_timers("acme", "w1", NOW, 30, 10)
    assert await jobs.release_timers("acme", "w1", [timer]) == 1
    [again] = await jobs.claim_timers("acme", "w2", NOW + timedelta(seconds=1), 30, 10)
    assert again["attempts"] == 1
