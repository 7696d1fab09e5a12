"""Random sequences of writes, transitions and approval decisions against a model.

A Hypothesis state machine drives ``fixtures/process.json`` over GraphQL:
orders are created, edited (allowed fields, fields a state locks, the status
itself), moved by valid and invalid transitions by every kind of user with
and without comments, and approvals are approved and rejected by the right
and the wrong users. A small model predicts every outcome (success, or the
error code and problem code); after every step the stored record, its audit
trail and its approvals are compared with the model:

- the status is always a state of the workflow and equals the model's;
- a refused operation changed nothing (version, data, audit count, approval);
- the audit trail only grows, and its status changes replay, entry by entry,
  along the workflow's transitions to the current status;
- a record has at most one pending approval, and an approved one reached
  its transition's target.

It owns its event loop (Hypothesis runs the steps synchronously) and its
database: a SQLite file, and once more on PostgreSQL when one is reachable.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from core.store import Database, open_database
from core.store.migrations import TENANT_TABLES
from tests.workflow.conftest import NOW, USERS
from tests.workflow.helpers import TenantApi, start_tenant

T = TypeVar("T")

TENANT = "proc"
STATES = frozenset({"draft", "pending", "confirmed", "shipped", "cancelled"})
FINAL = frozenset({"shipped", "cancelled"})
#: transition -> (states it leaves, None for any non-final one; target).
TRANSITIONS: dict[str, tuple[frozenset[str] | None, str]] = {
    "confirm": (frozenset({"draft"}), "confirmed"),
    "ship": (frozenset({"confirmed"}), "shipped"),
    "cancel": (None, "cancelled"),
}
LOCKED: dict[str, frozenset[str] | None] = {
    "pending": None,  # read_only "*"
    "confirmed": frozenset({"discount", "total", "customer"}),
}
CREDIT_LIMIT = Decimal("1000")
MANAGERS = frozenset({"boss", "boss2"})
FINANCE = frozenset({"fin1", "fin2"})
PEOPLE = sorted(USERS)
DISCOUNTS = ["5", "15", "60"]
TOTALS = ["500", "1500"]

Outcome = tuple[str, frozenset[str]] | None  # None: success; else (code, problem codes)


@dataclass
class ApprovalModel:
    id: str
    requester: str
    step: int = 0
    status: str = "pending"
    decisions: dict[tuple[int, str], str] = field(default_factory=dict)

    def waiting(self) -> set[str]:
        """Who may still decide the current step."""
        if self.status != "pending":
            return set()
        people = MANAGERS if self.step == 0 else FINANCE
        return {p for p in people if p != self.requester and (self.step, p) not in self.decisions}


@dataclass
class OrderModel:
    id: str
    owner: str | None
    title: str
    status: str = "draft"
    version: int = 1
    audit: int = 1
    notes: str | None = None
    discount: Decimal | None = None
    total: Decimal | None = None
    customer: str | None = None
    priority: str | None = None
    approvals: list[ApprovalModel] = field(default_factory=list)

    def pending(self) -> ApprovalModel | None:
        return next((a for a in self.approvals if a.status == "pending"), None)

    def locks(self, key: str) -> bool:
        if self.status not in LOCKED:
            return False
        locked = LOCKED[self.status]
        return locked is None or key in locked


@dataclass
class Env:
    """What the machine works on: one loop, one database, one tenant."""

    run: Callable[[Coroutine[Any, Any, Any]], Any]
    api: TenantApi
    limited: str  # a customer with a credit limit of 1000
    free: str  # a customer without a limit


def _leaves(state: str | None, name: str) -> bool:
    sources = TRANSITIONS[name][0]
    return state not in FINAL if sources is None else state in sources


def _outcome(body: dict[str, Any]) -> Outcome:
    errors = body.get("errors")
    if not errors:
        return None
    ext = errors[0].get("extensions") or {}
    return str(ext.get("code")), frozenset(e["code"] for e in ext.get("errors") or ())


def _as_python(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def machine_for(env: Env) -> type[RuleBasedStateMachine]:
    api = env.api
    db = api.runtime.db
    names = itertools.count()

    class ProcessMachine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.orders: list[OrderModel] = []
            self.touched: OrderModel | None = None
            self.audit_ids: dict[str, list[str]] = {}
            # The database outlives one example: count from where this one starts.
            self.tasks = env.run(self._count("task"))
            self.base = env.run(self._count("order"))

        # -- reading the store ------------------------------------------------

        async def _count(self, entity: str) -> int:
            rows = await db._fetch_as(
                TENANT,
                "SELECT count(*) AS n FROM record WHERE tenant_id = {} AND entity = {}",
                TENANT,
                entity,
            )
            return int(rows[0]["n"])

        async def _stored(self, o: OrderModel) -> tuple[Any, list[dict[str, Any]], list[Any]]:
            model = await api.runtime.model(TENANT)
            row = await db.get_record(TENANT, "order", o.id)
            assert row is not None
            rec = api.runtime.service._record(model.entities["order"], row)
            trail = await db.audit_for(TENANT, o.id)
            approvals = await db.approvals.for_record(TENANT, o.id)
            assignees = await db.approvals.assignees(TENANT, [a["id"] for a in approvals])
            return rec, trail, [approvals, assignees]

        # -- the model's predictions ----------------------------------------------

        def _sees(self, o: OrderModel, who: str) -> bool:
            return who not in ("rep", "rep2") or o.owner == who

        def _data_after(self, o: OrderModel, values: dict[str, Any]) -> dict[str, Any]:
            data = {"discount": o.discount, "total": o.total, "customer": o.customer}
            data.update(values)
            return data

        def _expect_transition(
            self, o: OrderModel, who: str, name: str, comment: str | None, values: dict[str, Any]
        ) -> tuple[Outcome, bool]:
            """(the outcome, whether it opens an approval)."""
            if name not in TRANSITIONS:
                return ("VALIDATION_FAILED", frozenset({"TRANSITION_UNKNOWN"})), False
            if not self._sees(o, who):
                return ("NOT_FOUND", frozenset({"NOT_FOUND"})), False
            if not _leaves(o.status, name):
                return ("VALIDATION_FAILED", frozenset({"TRANSITION_NOT_ALLOWED"})), False
            if who in FINANCE or (name == "ship" and who not in (*MANAGERS, "admin")):
                return ("FORBIDDEN", frozenset({"TRANSITION_FORBIDDEN"})), False
            if o.pending() is not None:
                return ("CONFLICT", frozenset({"APPROVAL_PENDING"})), False
            data = self._data_after(o, values)
            problems = {
                "READ_ONLY_IN_STATE" for k, v in values.items() if getattr(o, k) != v and o.locks(k)
            }
            if name == "confirm" and (data["customer"] is None or data["total"] is None):
                problems.add("REQUIRED")
            if name == "cancel" and not (comment or "").strip():
                problems.add("REQUIRED")
            if problems:
                return ("VALIDATION_FAILED", frozenset(problems)), False
            if (
                name == "confirm"
                and data["customer"] == env.limited
                and data["total"] > CREDIT_LIMIT
            ):
                return ("VALIDATION_FAILED", frozenset({"TRANSITION_GUARD"})), False
            if data["discount"] is not None and data["discount"] > 50:
                return ("VALIDATION_FAILED", frozenset({"RULE_FAILED"})), False
            approval = name == "confirm" and data["discount"] is not None and data["discount"] > 10
            return None, approval

        def _complete(self, o: OrderModel, name: str) -> None:
            """The model of a completed transition and its actions."""
            o.status = TRANSITIONS[name][1]
            o.version += 1
            o.audit += 1
            if name == "confirm":
                self.tasks += 1
                if o.priority != "high":
                    o.priority = "high"
                    o.version += 1
                    o.audit += 1

        # -- rules ------------------------------------------------------------------

        @rule(
            who=st.sampled_from(["rep", "rep", "admin", *PEOPLE]),
            discount=st.sampled_from([None, *DISCOUNTS]),
            customer=st.sampled_from([None, "limited", "free", "free"]),
            total=st.sampled_from([None, *TOTALS, "500"]),
        )
        def create(
            self, who: str, discount: str | None, customer: str | None, total: str | None
        ) -> None:
            title = f"Order {next(names)}"
            values: dict[str, Any] = {"title": title}
            if discount is not None:
                values["discount"] = discount
            if customer is not None:
                values["customerId"] = env.limited if customer == "limited" else env.free
            if total is not None:
                values["total"] = {"amount": total}
            body = env.run(
                api.as_(
                    who,
                    "mutation($i: OrderCreateInput!) { createOrder(input: $i) { id version status } }",
                    {"i": values},
                )
            )
            outcome = _outcome(body)
            if who in FINANCE:
                assert outcome is not None and outcome[0] == "FORBIDDEN", body
            elif discount == "60":
                assert outcome == ("VALIDATION_FAILED", frozenset({"RULE_FAILED"})), body
            else:
                assert outcome is None, body
                made = body["data"]["createOrder"]
                assert made["status"] == "draft" and made["version"] == 1
                o = OrderModel(
                    id=made["id"],
                    owner=who if who in ("rep", "rep2") else None,
                    title=title,
                    discount=_as_python(discount),
                    total=_as_python(total),
                    customer=values.get("customerId"),
                )
                self.orders.append(o)
                self.touched = o
                return
            self.touched = None

        @precondition(lambda self: self.orders)
        @rule(
            pick=st.integers(0, 10**6),
            who=st.sampled_from(["owner", *PEOPLE]),
            key=st.sampled_from(["notes", "discount", "total", "customer", "status"]),
            choice=st.integers(0, 10),
        )
        def edit(self, pick: int, who: str, key: str, choice: int) -> None:
            o = self.orders[pick % len(self.orders)]
            self.touched = o
            if who == "owner":
                who = o.owner or "admin"
            value: Any
            if key == "notes":
                value = f"note {next(names)}"
                given: Any = value
            elif key == "discount":
                options = [d for d in DISCOUNTS if _as_python(d) != o.discount]
                given = options[choice % len(options)]
                value = Decimal(given)
            elif key == "total":
                options = [t for t in TOTALS if _as_python(t) != o.total]
                given = {"amount": options[choice % len(options)]}
                value = Decimal(given["amount"])
            elif key == "customer":
                options = [c for c in (env.limited, env.free) if c != o.customer]
                given = value = options[choice % len(options)]
            else:
                options = sorted(STATES - {o.status})
                given = value = options[choice % len(options)]
            name = {"customer": "customerId"}.get(key, key)
            body = env.run(
                api.as_(
                    who,
                    "mutation($id: ID!, $i: OrderUpdateInput!) { updateOrder(id: $id, input: $i) { id version } }",
                    {"id": o.id, "i": {name: given}},
                )
            )
            outcome = _outcome(body)
            if who in FINANCE:
                assert outcome is not None and outcome[0] == "FORBIDDEN", body
            elif not self._sees(o, who):
                assert outcome == ("NOT_FOUND", frozenset({"NOT_FOUND"})), body
            elif key == "status":
                assert outcome == ("VALIDATION_FAILED", frozenset({"STATUS_BY_TRANSITION"})), body
            elif o.locks(key):
                assert outcome == ("VALIDATION_FAILED", frozenset({"READ_ONLY_IN_STATE"})), body
            elif key == "discount" and value > 50:
                assert outcome == ("VALIDATION_FAILED", frozenset({"RULE_FAILED"})), body
            else:
                assert outcome is None, body
                setattr(o, key, value)
                o.version += 1
                o.audit += 1
                assert body["data"]["updateOrder"]["version"] == o.version

        @precondition(lambda self: self.orders)
        @rule(
            pick=st.integers(0, 10**6),
            who=st.sampled_from(["owner", "owner", "admin", "boss", *PEOPLE]),
            name=st.sampled_from(
                ["confirm", "confirm", "confirm", "ship", "ship", "cancel", "reopen"]
            ),
            comment=st.sampled_from(["because", "because", None, "", "  "]),
            extra=st.sampled_from(
                [
                    {},
                    {"customer": "limited", "total": "500"},
                    {"customer": "free", "total": "500"},
                    {"customer": "limited", "total": "1500"},
                    {"customer": "free", "total": "1500"},
                    {"discount": "5"},
                    {"discount": "15"},
                    {"discount": "60"},
                ]
            ),
        )
        def transition(
            self, pick: int, who: str, name: str, comment: str | None, extra: dict[str, str]
        ) -> None:
            candidates = self.orders
            if name in TRANSITIONS and pick % 4:
                # Mostly a record the transition can leave, so that paths get long.
                candidates = [o for o in self.orders if _leaves(o.status, name)] or self.orders
            o = candidates[pick % len(candidates)]
            self.touched = o
            if who == "owner":
                who = o.owner or "admin"
            values: dict[str, Any] = {}
            given: dict[str, Any] = {}
            if "customer" in extra:
                values["customer"] = env.limited if extra["customer"] == "limited" else env.free
                given["customerId"] = values["customer"]
            if "total" in extra:
                values["total"] = Decimal(extra["total"])
                given["total"] = {"amount": extra["total"]}
            if "discount" in extra:
                values["discount"] = Decimal(extra["discount"])
                given["discount"] = extra["discount"]
            expected, opens_approval = self._expect_transition(o, who, name, comment, values)
            body = env.run(
                api.as_(
                    who,
                    "mutation($id: ID!, $t: String!, $c: String, $i: OrderUpdateInput) { "
                    "transitionOrder(id: $id, transition: $t, comment: $c, input: $i) "
                    "{ id version status } }",
                    {"id": o.id, "t": name, "c": comment, "i": given or None},
                )
            )
            assert _outcome(body) == expected, (body, o)
            if expected is not None:
                return
            for key, value in values.items():
                setattr(o, key, value)
            if opens_approval:
                o.status = "pending"
                o.version += 1
                o.audit += 2  # the move to the pending state, and the request
                found = env.run(db.approvals.pending_for_record(TENANT, o.id))
                assert found is not None
                o.approvals.append(ApprovalModel(id=found["id"], requester=who))
            else:
                self._complete(o, name)
            assert body["data"]["transitionOrder"]["status"] == o.status

        @precondition(lambda self: any(o.pending() for o in self.orders))
        @rule(
            pick=st.integers(0, 10**6),
            who=st.sampled_from(["waiting", "waiting", "waiting", *PEOPLE]),
            approve=st.sampled_from([True, True, False]),
            comment=st.sampled_from(["", "ok"]),
        )
        def decide(self, pick: int, who: str, approve: bool, comment: str) -> None:
            pairs = [(o, a) for o in self.orders for a in o.approvals]
            # Mostly open approvals; now and then any, closed ones included.
            open_pairs = [p for p in pairs if p[1].status == "pending"]
            pool = open_pairs if pick % 6 else pairs
            o, a = pool[pick % len(pool)]
            self.touched = o
            waiting = a.waiting()
            if who == "waiting":
                who = sorted(waiting)[pick % len(waiting)] if waiting else "boss"
            inbox = env.run(api.as_(who, "{ approvalInbox { id } }"))
            assert (a.id in {x["id"] for x in inbox["data"]["approvalInbox"]}) == (who in waiting)
            mutation = "approve" if approve else "reject"
            body = env.run(
                api.as_(
                    who,
                    f"mutation($id: ID!, $c: String!) {{ {mutation}(id: $id, comment: $c) {{ status step }} }}",
                    {"id": a.id, "c": comment},
                )
            )
            outcome = _outcome(body)
            if a.status != "pending":
                assert outcome == ("CONFLICT", frozenset({"APPROVAL_CLOSED"})), body
                return
            if who not in waiting:
                assert outcome == ("FORBIDDEN", frozenset({"NOT_APPROVER"})), body
                return
            if not approve and not comment:
                assert outcome == ("VALIDATION_FAILED", frozenset({"REQUIRED"})), body
                return
            assert outcome is None, body
            a.decisions[(a.step, who)] = "approved" if approve else "rejected"
            if not approve:
                a.status = "rejected"
                o.status = "draft"
                o.version += 1
                o.audit += 2  # the move back, and the rejection
            elif a.step == 0:
                a.step = 1
            elif not a.waiting():
                a.status = "approved"
                self._complete(o, "confirm")
                o.audit += 1  # the approval's own entry
            assert body["data"][mutation]["status"] == a.status

        # -- invariants ----------------------------------------------------------

        @invariant()
        def nothing_else_changed(self) -> None:
            assert env.run(self._count("order")) == self.base + len(self.orders)
            assert env.run(self._count("task")) == self.tasks

        @invariant()
        def touched_record_matches_the_model(self) -> None:
            o = self.touched
            if o is None:
                return
            rec, trail, (approvals, assignees) = env.run(self._stored(o))
            data = rec.data
            assert data["status"] in STATES
            assert (data["status"], rec.version, len(trail)) == (o.status, o.version, o.audit)
            total = data.get("total")
            assert (
                data.get("notes"),
                data.get("discount"),
                None if total is None else total["amount"],
                data.get("customer"),
                data.get("priority"),
            ) == (o.notes, o.discount, o.total, o.customer, o.priority)
            # The trail only grows.
            ids = [e["id"] for e in trail]
            before = self.audit_ids.get(o.id, [])
            assert ids[: len(before)] == before
            self.audit_ids[o.id] = ids
            self._replays(o, trail, approvals)
            # Approvals as the model has them; at most one pending.
            assert [a["id"] for a in approvals] == [a.id for a in o.approvals]
            assert sum(a["status"] == "pending" for a in approvals) <= 1
            for row, model in zip(approvals, o.approvals, strict=True):
                assert (row["status"], row["step"]) == (model.status, model.step)
                decided = {
                    (x["step"], next(n for n, i in api.ids.items() if i == x["user_id"])): x[
                        "decision"
                    ]
                    for x in assignees
                    if x["approval_id"] == row["id"] and x["decision"] is not None
                }
                assert decided == model.decisions

        def _replays(
            self, o: OrderModel, trail: list[dict[str, Any]], approvals: list[dict[str, Any]]
        ) -> None:
            """The trail's status changes follow the workflow to the current status."""
            by_id = {a["id"]: a for a in approvals}
            state: str | None = None
            waiting: dict[str, Any] | None = None  # the approval requested, until decided
            for entry in trail:
                action, diff = entry["action"], entry["diff"]
                change = diff.get("status")
                if action == "create":
                    assert change == [None, "draft"], entry
                    state = "draft"
                elif action.startswith("transition:"):
                    name = action.removeprefix("transition:")
                    to = TRANSITIONS[name][1]
                    assert change is not None and change[0] == state and change[1] == to, entry
                    direct = _leaves(state, name)
                    approved = waiting is not None and waiting["transition"] == name
                    assert direct or (approved and state == "pending"), entry
                    state = to
                elif action == "state":
                    # A move to the pending state, or back after a rejection.
                    assert change is not None and change[0] == state, entry
                    assert change[1] in ("pending", "draft"), entry
                    state = change[1]
                elif action == "approval_requested":
                    assert state == "pending", entry
                    waiting = by_id[diff["approval"]]
                elif action in ("approval_approved", "approval_rejected"):
                    assert waiting is not None and waiting["id"] == diff["approval"], entry
                    if action == "approval_approved":
                        assert state == waiting["to_state"], entry
                    else:
                        assert state == "draft", entry
                    waiting = None
                else:
                    assert action == "update" and change is None, entry
            assert state == o.status

    return ProcessMachine


def _run(
    url: str,
    max_examples: int,
    steps: int,
    prepare: Callable[[Database], Coroutine[Any, Any, None]],
) -> None:
    with asyncio.Runner() as runner:

        async def setup() -> tuple[Database, TenantApi]:
            db = await open_database(url)
            await db.migrate()
            await prepare(db)
            api = await start_tenant(db, clock=lambda: NOW)
            return db, api

        db, api = runner.run(setup())
        try:
            customers = []
            for limit in ('creditLimit: {amount: "1000"}', ""):
                body = runner.run(
                    api.as_(
                        "admin",
                        f'mutation {{ createCustomer(input: {{name: "C" {limit}}}) {{ id }} }}',
                    )
                )
                customers.append(body["data"]["createCustomer"]["id"])
            env = Env(run=runner.run, api=api, limited=customers[0], free=customers[1])
            run_state_machine_as_test(
                machine_for(env),
                settings=settings(
                    max_examples=max_examples,
                    stateful_step_count=steps,
                    deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
                ),
            )
        finally:
            runner.run(api.close())
            runner.run(db.close())


async def _nothing(db: Database) -> None:
    return None


async def _truncate(db: Database) -> None:
    await db.execute(f"TRUNCATE {', '.join(TENANT_TABLES)}")


def test_random_process_histories_sqlite(tmp_path: Path) -> None:
    _run(f"sqlite:///{tmp_path / 'machine.db'}", max_examples=30, steps=40, prepare=_nothing)


@pytest.mark.postgres
def test_random_process_histories_postgresql(postgres_url: str) -> None:
    _run(postgres_url, max_examples=15, steps=30, prepare=_truncate)
