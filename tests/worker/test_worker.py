"""The worker end to end in one process: plugins, email, webhooks, timers, stopping, racing."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import AsyncIterator, Mapping
from datetime import timedelta
from email.message import EmailMessage
from typing import Any

import pytest

from core.delivery import SmtpMailer, SmtpSettings, message_id, sign_body
from core.hookspecs import hookimpl
from core.runtime import Runtime
from core.store import Database, open_database
from core.store.jobs import JobStore
from core.store.migrations import TENANT_TABLES
from core.store.values import utcnow
from core.worker import Worker, WorkerStats
from tests.api_helpers import Api, acme_config, make_runtime, plugin_manifest
from tests.worker.helpers import NOW, TEST_ENV, Clock, add_tenant
from tests.worker.receivers import HttpReceiver, Reply, SmtpReceiver

SENDER = "crm@example.com"


class Recorder:
    """A tenant plugin that records the outbox events it is handed; may fail on demand."""

    TESSERA_MANIFEST = plugin_manifest("recorder")

    def __init__(self) -> None:
        self.events: list[tuple[str, str, dict[str, Any]]] = []
        self.failures = 0  # how many calls fail before they succeed

    @hookimpl
    async def tessera_after_commit(self, tenant: str, topic: str, payload: dict[str, Any]) -> None:
        if self.failures:
            self.failures -= 1
            raise RuntimeError("the ledger is offline")
        self.events.append((tenant, topic, dict(payload)))


class ListMailer:
    """A mailer that keeps what it is given; ``on_send`` runs before each one is kept."""

    sender = SENDER

    def __init__(self, on_send: Any = None) -> None:
        self.sent: list[EmailMessage] = []
        self.on_send = on_send

    async def send(self, message: EmailMessage) -> None:
        if self.on_send is not None:
            self.on_send(message)
        self.sent.append(message)


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
async def runtime(db: Database, recorder: Recorder) -> Runtime:
    return await make_runtime(db, [recorder])


def _worker(runtime: Runtime, clock: Clock, **kwargs: Any) -> Worker:
    kwargs.setdefault("mailer", ListMailer())
    kwargs.setdefault("env", TEST_ENV)
    return Worker(runtime, clock=clock, rng=random.Random(7), **kwargs)


async def _outbox(db: Database, tenant: str) -> list[dict[str, Any]]:
    return await db._fetch_as(
        tenant,
        "SELECT idempotency_key, topic, attempts, delivered_at, last_error, available_at, "
        "leased_by FROM outbox WHERE tenant_id = {} ORDER BY created_at, id",
        tenant,
    )


# -- plugins ----------------------------------------------------------------------


async def test_record_events_reach_the_plugins_the_tenant_enables(
    runtime: Runtime, recorder: Recorder
) -> None:
    api = Api(runtime)
    try:
        doc = acme_config()
        doc["plugins"] = ["recorder"]
        token = await api.tenant(doc)
        other = await api.tenant(acme_config("globex"))
        for tenant, tok in (("acme", token), ("globex", other)):
            body = await api.gql(
                tenant, tok, 'mutation { createWidget(input: {title: "Gear"}) { id } }'
            )
            assert "errors" not in body, body
    finally:
        await api.close()
    async with _worker(runtime, Clock(utcnow())) as worker:  # the service wrote them just now
        stats = await worker.run_once()
    assert (stats.tenants, stats.delivered, stats.retried, stats.dead) == (2, 2, 0, 0)
    [(tenant, topic, payload)] = recorder.events  # globex does not enable the plugin
    assert (tenant, topic, payload["entity"], payload["action"]) == (
        "acme",
        "record.created",
        "widget",
        "create",
    )
    for t in ("acme", "globex"):
        assert all(m["delivered_at"] is not None for m in await _outbox(runtime.db, t))


async def test_a_failing_handler_is_retried_after_a_backoff(
    runtime: Runtime, recorder: Recorder
) -> None:
    await runtime.apply_config({**acme_config(), "plugins": ["recorder"]})
    await runtime.db.enqueue("acme", "record.updated", {"id": "w1"}, "w1:2:update", NOW)
    recorder.failures = 1
    clock = Clock()
    async with _worker(runtime, clock) as worker:
        first = await worker.run_once()
        assert (first.delivered, first.retried) == (0, 1)
        [row] = await _outbox(runtime.db, "acme")
        assert "the ledger is offline" in row["last_error"] and row["attempts"] == 1
        assert await worker.run_once() == WorkerStats()  # not due yet
        clock.advance(30)  # the first back-off is 15-30 s
        second = await worker.run_once()
    assert (second.delivered, second.retried) == (1, 0)
    assert [e[1] for e in recorder.events] == ["record.updated"]
    [row] = await _outbox(runtime.db, "acme")
    assert row["attempts"] == 2 and row["last_error"] is None


async def test_a_handler_that_keeps_failing_ends_as_a_dead_letter(
    runtime: Runtime, recorder: Recorder
) -> None:
    await runtime.apply_config({**acme_config(), "plugins": ["recorder"]})
    await runtime.db.enqueue("acme", "record.created", {"id": "w1"}, "w1:1:create", NOW)
    recorder.failures = 100
    clock = Clock()
    totals = WorkerStats()
    async with _worker(runtime, clock, max_attempts=3) as worker:
        for _ in range(5):
            totals.add(await worker.run_once())
            clock.advance(3600)
    assert (totals.retried, totals.dead, totals.delivered) == (2, 1, 0)
    [dead] = await JobStore(runtime.db).dead_letters("acme")
    assert dead["attempts"] == 3 and "the ledger is offline" in dead["last_error"]


# -- email and webhooks -------------------------------------------------------------


async def test_emails_go_out_through_smtp(runtime: Runtime) -> None:
    await add_tenant(runtime.db, "acme")
    payload = {"to": ["ana@example.com"], "subject": "Quote Q-17", "body": "Hi", "locale": "en"}
    await runtime.db.enqueue("acme", "notify.email", payload, "q17:reminder", NOW)
    await runtime.db.enqueue("acme", "notify.email", {"to": "nobody"}, "broken", NOW)
    with SmtpReceiver() as server:
        mailer = SmtpMailer(SmtpSettings("127.0.0.1", server.port), SENDER)
        async with _worker(runtime, Clock(), mailer=mailer) as worker:
            stats = await worker.run_once()
    assert (stats.delivered, stats.dead) == (1, 1)
    [(_, message)] = server.messages
    assert message["Subject"] == "Quote Q-17"
    assert message["Message-ID"] == message_id("acme", "q17:reminder", SENDER)
    [dead] = await JobStore(runtime.db).dead_letters("acme")
    assert dead["idempotency_key"] == "broken" and dead["last_error"].startswith("permanent: to")


async def test_webhooks_are_retried_on_500_and_dead_on_400(runtime: Runtime) -> None:
    await add_tenant(runtime.db, "acme")

    seen: set[str] = set()

    def respond(request: Any, n: int) -> Reply:
        key = request.headers["Idempotency-Key"]
        first = key not in seen
        seen.add(key)
        if key == "bad":
            return Reply(400)
        return Reply(500 if key == "flaky" and first else 200)

    clock = Clock()
    with HttpReceiver(respond) as receiver:
        for key in ("ok", "flaky", "bad"):
            body = {"event": key}
            payload = {"url": f"{receiver.url}/hook", "body": body, "headers": {"X-A": "1"}}
            await runtime.db.enqueue("acme", "webhook", payload, key, NOW)
        async with _worker(runtime, clock, webhook_secret="s3cret") as worker:
            first = await worker.run_once()
            clock.advance(30)
            second = await worker.run_once()
    assert (first.delivered, first.retried, first.dead) == (1, 1, 1)
    assert (second.delivered, second.retried, second.dead) == (1, 0, 0)
    assert sorted(receiver.keys()) == ["bad", "flaky", "flaky", "ok"]
    assert receiver.keys()[-1] == "flaky"  # the retry, in the second pass
    for request in receiver.requests:
        assert request.headers["X-Tessera-Signature"] == sign_body("s3cret", request.body)
    rows = {r["idempotency_key"]: r for r in await _outbox(runtime.db, "acme")}
    assert rows["flaky"]["delivered_at"] is not None and rows["flaky"]["attempts"] == 2
    assert rows["bad"]["leased_by"] == "!dead" and "HTTP 400" in rows["bad"]["last_error"]


async def test_plugin_events_go_in_order_while_webhooks_go_side_by_side(
    runtime: Runtime, recorder: Recorder
) -> None:
    await runtime.apply_config({**acme_config(), "plugins": ["recorder"]})
    with HttpReceiver(lambda request, n: Reply(delay=0.15)) as receiver:
        for i in range(12):
            if i % 2:
                payload = {"url": receiver.url, "body": {"i": i}}
                await runtime.db.enqueue("acme", "webhook", payload, f"hook-{i}", NOW)
            else:
                event = {"id": "w1", "version": i}
                await runtime.db.enqueue("acme", "record.updated", event, f"w1:{i}", NOW)
        async with _worker(runtime, Clock(), concurrency=3) as worker:
            stats = await worker.run_once()
    assert stats.delivered == 12
    assert [e[2]["version"] for e in recorder.events] == [0, 2, 4, 6, 8, 10]
    assert 2 <= receiver.most_in_flight <= 3


# -- stopping and leases ------------------------------------------------------------------


async def test_stopping_finishes_the_item_in_hand_and_gives_back_the_rest(
    runtime: Runtime,
) -> None:
    await add_tenant(runtime.db, "acme")
    for i in range(5):
        await runtime.db.enqueue("acme", "notify.email", _email(i), f"m{i}", NOW)
    stop = asyncio.Event()
    mailer = ListMailer(on_send=lambda message: stop.set())  # a signal arrives mid-send
    async with _worker(runtime, Clock(), mailer=mailer) as worker:
        await asyncio.wait_for(worker.run(stop, poll=0.01), 5)
    assert len(mailer.sent) == 1
    rows = await _outbox(runtime.db, "acme")
    assert [r["delivered_at"] is not None for r in rows] == [True, False, False, False, False]
    assert [(r["attempts"], r["leased_by"]) for r in rows[1:]] == [(0, None)] * 4


async def test_items_whose_lease_ran_out_are_not_started(runtime: Runtime) -> None:
    await add_tenant(runtime.db, "acme")
    for i in range(3):
        await runtime.db.enqueue("acme", "notify.email", _email(i), f"m{i}", NOW)
    clock = Clock()
    mailer = ListMailer(on_send=lambda message: clock.advance(60))  # a very slow server
    async with _worker(runtime, clock, mailer=mailer, lease_seconds=60) as worker:
        stats = await worker.run_once()
    # The first one still counts (nobody took it over); the others were given back.
    assert (len(mailer.sent), stats.delivered, stats.released) == (1, 1, 2)
    rows = await _outbox(runtime.db, "acme")
    assert [(r["attempts"], r["leased_by"]) for r in rows[1:]] == [(0, None)] * 2
    async with _worker(runtime, clock, lease_seconds=60) as other:
        assert (await other.run_once()).delivered == 2


async def test_run_keeps_passing_until_stopped_and_survives_a_failing_pass(
    runtime: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    await add_tenant(runtime.db, "acme")
    for i in range(7):
        await runtime.db.enqueue("acme", "notify.email", _email(i), f"m{i}", NOW)
    stop = asyncio.Event()
    mailer = ListMailer()
    worker = _worker(runtime, Clock(), mailer=mailer, batch=3)
    real_pass = worker.run_once
    passes = 0

    async def flaky_pass() -> WorkerStats:
        nonlocal passes
        passes += 1
        if passes == 1:
            raise ConnectionError("database restarting")
        stats = await real_pass()
        if not stats.busy:
            stop.set()
        return stats

    worker.run_once = flaky_pass  # type: ignore[method-assign]
    with caplog.at_level(logging.INFO, logger="tessera.worker"):
        await asyncio.wait_for(worker.run(stop, poll=0.01), 10)
    await worker.aclose()
    assert len(mailer.sent) == 7 and passes == 5  # failed, 3 + 3 + 1, idle
    assert "pass failed" in caplog.text and "database restarting" in caplog.text
    assert "delivered 3, retried 0, dead 0" in caplog.text


async def test_one_tenants_failure_does_not_hold_up_the_others(
    runtime: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    for tenant in ("acme", "globex"):
        await add_tenant(runtime.db, tenant)
        await runtime.db.enqueue(tenant, "notify.email", _email(0), "m0", NOW)
    mailer = ListMailer()
    async with _worker(runtime, Clock(), mailer=mailer) as worker:
        claim = worker.jobs.claim_outbox

        async def broken_for_acme(tenant: str, *args: Any) -> list[dict[str, Any]]:
            if tenant == "acme":
                raise ConnectionError("acme's shard is away")
            return await claim(tenant, *args)

        worker.jobs.claim_outbox = broken_for_acme  # type: ignore[method-assign, assignment]
        with caplog.at_level(logging.ERROR, logger="tessera.worker"):
            stats = await worker.run_once()
    assert (stats.tenants, stats.delivered, len(mailer.sent)) == (2, 1, 1)
    assert "tenant acme failed" in caplog.text and "shard is away" in caplog.text


def _email(i: int) -> dict[str, Any]:
    return {"to": [f"u{i}@example.com"], "subject": f"n{i}", "body": "b"}


# -- timers ---------------------------------------------------------------------------


class Engine:
    """Stands in for the workflow engine: each firing writes an effect record."""

    def __init__(self, runtime: Runtime, fail: int = 0, reschedule: bool = False) -> None:
        self.runtime = runtime
        self.fail = fail
        self.reschedule = reschedule
        self.calls = 0

    async def __call__(self, tenant: str, row: Mapping[str, Any]) -> None:
        self.calls += 1
        db = self.runtime.db
        await db.insert_record(
            tenant, "effect", f"e{self.calls}", {"timer": row["id"]}, {}, "worker", NOW
        )
        if self.reschedule:
            await JobStore(db).schedule_timer(
                tenant, row["timer_key"], row["entity"], row["record_id"], NOW, 1, NOW
            )
        if self.fail:
            self.fail -= 1
            raise RuntimeError("automation failed")


def _use_engine(runtime: Runtime, engine: Engine | None) -> None:
    """Stand in for ``Runtime.fire_timer`` (``None``: a runtime without it)."""
    setattr(runtime, "fire_timer", engine)  # noqa: B010 - shadows the method on purpose


async def _effects(db: Database, tenant: str) -> list[str]:
    rows = await db._fetch_as(
        tenant,
        "SELECT data FROM record WHERE tenant_id = {} AND entity = 'effect' ORDER BY id",
        tenant,
    )
    from core.store.values import load_json

    return [load_json(r["data"])["timer"] for r in rows]


async def test_a_due_timer_fires_once_with_its_writes(runtime: Runtime) -> None:
    jobs = JobStore(runtime.db)
    await add_tenant(runtime.db, "acme")
    due = await jobs.schedule_timer("acme", "follow_up", "quote", "q1", NOW, 3, NOW)
    later = await jobs.schedule_timer(
        "acme", "follow_up", "quote", "q2", NOW + timedelta(1), 3, NOW
    )
    engine = Engine(runtime)
    _use_engine(runtime, engine)
    clock = Clock()
    async with _worker(runtime, clock) as worker:
        stats = await worker.run_once()
        assert stats.timers_fired == 1
        assert (await worker.run_once()).timers_fired == 0
    assert await _effects(runtime.db, "acme") == [due]
    [row] = await jobs.timers_for("acme", "q1")
    assert (row["status"], row["fired_at"], row["leased_by"]) == ("fired", NOW, None)
    assert [t["status"] for t in await jobs.timers_for("acme", "q2")] == ["pending"]
    assert later


async def test_a_failing_timer_writes_nothing_and_is_retried(runtime: Runtime) -> None:
    jobs = JobStore(runtime.db)
    await add_tenant(runtime.db, "acme")
    timer = await jobs.schedule_timer("acme", "follow_up", "quote", "q1", NOW, 3, NOW)
    _use_engine(runtime, Engine(runtime, fail=1))
    clock = Clock()
    async with _worker(runtime, clock) as worker:
        assert (await worker.run_once()).timers_retried == 1
        assert await _effects(runtime.db, "acme") == []  # rolled back with the failure
        [row] = await jobs.timers_for("acme", "q1")
        assert (row["status"], row["attempts"]) == ("pending", 1)
        assert "automation failed" in row["last_error"]
        assert (await worker.run_once()).timers_fired == 0  # backing off
        clock.advance(30)
        assert (await worker.run_once()).timers_fired == 1
    assert await _effects(runtime.db, "acme") == [timer]


async def test_a_timer_that_keeps_failing_is_marked_failed(runtime: Runtime) -> None:
    jobs = JobStore(runtime.db)
    await add_tenant(runtime.db, "acme")
    await jobs.schedule_timer("acme", "follow_up", "quote", "q1", NOW, 3, NOW)
    _use_engine(runtime, Engine(runtime, fail=100))
    clock = Clock()
    totals = WorkerStats()
    async with _worker(runtime, clock, max_attempts=2) as worker:
        for _ in range(4):
            totals.add(await worker.run_once())
            clock.advance(3600)
    assert (totals.timers_retried, totals.timers_failed, totals.timers_fired) == (1, 1, 0)
    [row] = await jobs.timers_for("acme", "q1")
    assert row["status"] == "failed" and "automation failed" in row["last_error"]
    assert await _effects(runtime.db, "acme") == []


async def test_a_timer_cancelled_after_its_claim_does_not_fire(runtime: Runtime) -> None:
    jobs = JobStore(runtime.db)
    await add_tenant(runtime.db, "acme")
    await jobs.schedule_timer("acme", "follow_up", "quote", "q1", NOW, 3, NOW)
    engine = Engine(runtime)
    _use_engine(runtime, engine)
    async with _worker(runtime, Clock()) as worker:
        claim = worker.jobs.claim_timers

        async def claim_then_cancel(*args: Any, **kwargs: Any) -> list[dict[str, Any]]:
            rows = await claim(*args, **kwargs)
            await jobs.cancel_timers("acme", "q1", NOW)  # the record changed meanwhile
            return rows

        worker.jobs.claim_timers = claim_then_cancel  # type: ignore[method-assign]
        assert (await worker.run_once()).timers_fired == 0
    assert engine.calls == 0
    assert [t["status"] for t in await jobs.timers_for("acme", "q1")] == ["cancelled"]


async def test_an_engine_may_reschedule_the_timer_it_fires(runtime: Runtime) -> None:
    jobs = JobStore(runtime.db)
    await add_tenant(runtime.db, "acme")
    await jobs.schedule_timer("acme", "every_day", "quote", "q1", NOW, 3, NOW)
    _use_engine(runtime, Engine(runtime, reschedule=True))
    async with _worker(runtime, Clock()) as worker:
        assert (await worker.run_once()).timers_fired == 1
    assert [t["status"] for t in await jobs.timers_for("acme", "q1")] == ["fired", "pending"]


async def test_without_an_engine_timers_wait_and_messages_still_go(
    runtime: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    jobs = JobStore(runtime.db)
    await add_tenant(runtime.db, "acme")
    await jobs.schedule_timer("acme", "follow_up", "quote", "q1", NOW, 3, NOW)
    await runtime.db.enqueue("acme", "notify.email", _email(0), "m0", NOW)
    _use_engine(runtime, None)  # a runtime without the workflow engine
    with caplog.at_level(logging.WARNING, logger="tessera.worker"):
        async with _worker(runtime, Clock()) as worker:
            stats = await worker.run_once()
    assert (stats.delivered, stats.timers_fired) == (1, 0)
    assert "timers are left pending" in caplog.text
    [row] = await jobs.timers_for("acme", "q1")
    assert (row["status"], row["attempts"]) == ("pending", 0)


# -- several workers ------------------------------------------------------------------


@pytest.fixture
async def two_pools(postgres_url: str) -> AsyncIterator[tuple[Database, Database]]:
    """Two connection pools on one PostgreSQL database, as two worker processes have."""
    first, second = await open_database(postgres_url), await open_database(postgres_url)
    await first.execute(f"TRUNCATE {', '.join(TENANT_TABLES)}")
    yield first, second
    await first.close()
    await second.close()


async def test_two_workers_racing_deliver_every_message_exactly_once(
    two_pools: tuple[Database, Database],
) -> None:
    db, second_db = two_pools
    tenants = ["acme", "globex"]
    for tenant in tenants:
        await add_tenant(db, tenant)
    with HttpReceiver() as receiver:
        for i in range(200):
            tenant = tenants[i % 2]
            payload = {"url": receiver.url, "body": {"n": i}}
            await db.enqueue(tenant, "webhook", payload, f"{tenant}-{i}", NOW)
        runtimes = [await make_runtime(db), await make_runtime(second_db)]
        workers = [
            Worker(rt, worker_id=f"w{i}", batch=7, env=TEST_ENV, mailer=ListMailer())
            for i, rt in enumerate(runtimes)
        ]
        delivered = {w.worker_id: 0 for w in workers}
        for w in workers:
            w.run_once = _counting(w, delivered)  # type: ignore[method-assign]
        stop = asyncio.Event()

        async def until_done() -> None:
            while True:
                pending = await db._fetch_as(
                    None, "SELECT COUNT(*) AS n FROM outbox WHERE delivered_at IS NULL"
                )
                if pending[0]["n"] == 0:
                    stop.set()
                    return
                await asyncio.sleep(0.05)

        await asyncio.wait_for(
            asyncio.gather(until_done(), *(w.run(stop, poll=0.01) for w in workers)), 60
        )
        for w in workers:
            await w.aclose()
    keys = receiver.keys()
    assert len(keys) == 200 and len(set(keys)) == 200  # no message was sent twice
    assert sum(delivered.values()) == 200
    assert all(delivered.values()), delivered  # both took part


def _counting(worker: Worker, delivered: dict[str, int]) -> Any:
    real = worker.run_once

    async def run_once() -> WorkerStats:
        stats = await real()
        delivered[worker.worker_id] += stats.delivered
        return stats

    return run_once
