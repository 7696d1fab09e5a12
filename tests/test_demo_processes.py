"""The demo tenants' processes, end to end through GraphQL, on both engines.

Shenzhen: a quote with more than 10 % discount waits for a sales manager's
approval; a quote over the customer's credit limit is refused. Madrid: the
credit guard on confirming an order; quotes expire by a field timer. Manila:
confirming a visit schedules the technician's reminder (the business day
before, Philippine holidays skipped); completing a cleaning starts a timer
that, fired by the worker with an injected clock, creates the next visit and
a task for the dispatcher. ``load_demo`` stages tasks and an approval.

The examples of docs/workflows.md (docs/examples/processes/) are checked here
too: each is a valid tenant config, shown verbatim in the reference.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.config import load_config_file, schema_problems, validate_config
from core.demo import DEMO_TEAMS, load_demo
from core.demo_data import generate_sample_data
from core.plugins import PluginHost
from core.security import hash_password, issue_token
from core.store import Database
from core.worker import Worker
from core.workflow.calendar import calendar_for
from tests.api_helpers import Api, error_codes, make_runtime

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = ROOT / "tenant_configs"
DOCS = ROOT / "docs"
EXAMPLES = sorted((DOCS / "examples" / "processes").glob("*.json"))
INCLUDE = re.compile(r"<!-- example: processes/(\S+) -->\n```json\n(.*?)\n```", re.DOTALL)


def _config(tenant: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((CONFIGS / f"{tenant}.json").read_text(encoding="utf-8"))
    return doc


class DemoApi(Api):
    """One demo tenant applied, with its admin and its demo team, each with a token."""

    tenant: str
    tokens: dict[str, str]
    ids: dict[str, str]

    async def as_(
        self, who: str, query: str, variables: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        return await self.gql(self.tenant, self.tokens[who], query, variables)

    async def ok(
        self, who: str, query: str, variables: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        body = await self.as_(who, query, variables)
        assert "errors" not in body, body
        data: dict[str, Any] = body["data"]
        return data


async def _tenant(db: Database, tenant: str) -> DemoApi:
    api = DemoApi(await make_runtime(db))
    await api.runtime.apply_config(_config(tenant))
    api.tenant, api.tokens, api.ids = tenant, {}, {}
    model = await api.runtime.model(tenant)
    people = [("demo", "Admin", ("admin",), None)] + [
        (m.local, m.name, m.roles, m.manager) for m in DEMO_TEAMS[tenant]
    ]
    password = hash_password("x" * 12)
    for local, name, roles, _ in people:
        uid = await db.add_user(
            tenant, f"{local}@{tenant}.example", name, password, list(roles), model.default_locale
        )
        api.ids[local], api.tokens[local] = uid, await issue_token(db, tenant, uid)
    for local, _, _, manager in people:
        if manager is not None:
            await db.set_manager(tenant, api.ids[local], api.ids[manager])
    return api


@pytest.fixture
async def shenzhen(db: Database) -> AsyncIterator[DemoApi]:
    api = await _tenant(db, "shenzhen-components")
    yield api
    await api.close()


@pytest.fixture
async def madrid(db: Database) -> AsyncIterator[DemoApi]:
    api = await _tenant(db, "madrid-componentes")
    yield api
    await api.close()


@pytest.fixture
async def manila(db: Database) -> AsyncIterator[DemoApi]:
    api = await _tenant(db, "manila-aircon")
    yield api
    await api.close()


async def _fire_due_timers(api: DemoApi, now: datetime) -> int:
    """Worker passes with the worker's clock at ``now`` until idle; the timers fired."""
    fired = 0
    async with Worker(api.runtime, clock=lambda: now, env={}, batch=500) as worker:
        for _ in range(10):  # the outbox is claimed in batches before timers in each pass
            stats = await worker.run_once()
            fired += stats.timers_fired
            if not stats.busy:
                break
    return fired


async def _timers(api: DemoApi, record_id: str) -> list[dict[str, Any]]:
    return list(await api.runtime.db.jobs.timers_for(api.tenant, record_id))


def _local(moment: str, zone: str) -> datetime:
    return datetime.fromisoformat(moment).astimezone(ZoneInfo(zone))


# -- Shenzhen: discount approval and credit check ----------------------------------

SZ_QUOTE = "id status discount total { amount } owner { email }"


async def _add_line(api: DemoApi, who: str, quote: str, total: str, discount: str) -> None:
    """One untaxed line priced so that, after the quote's discount, the total is ``total``.

    The quote's total is computed from its lines (``quoting.recalculate_total``).
    """
    price = (Decimal(total) * 100 / (100 - Decimal(discount))).quantize(Decimal("0.01"))
    await api.ok(
        who,
        "mutation($i: QuoteLineCreateInput!) { createQuoteLine(input: $i) { id } }",
        {
            "i": {
                "quoteId": quote,
                "description": "主控板",
                "quantity": "1",
                "unitPrice": {"amount": str(price)},
                "taxRate": "0",  # the tenant's VAT would be added on top otherwise
            }
        },
    )
    data = await api.ok(who, "query($q: ID!) { quote(id: $q) { total { amount } } }", {"q": quote})
    assert abs(Decimal(data["quote"]["total"]["amount"]) - Decimal(total)) <= Decimal("0.01")


async def _sz_quote(api: DemoApi, credit_limit: str | None, total: str, discount: str) -> str:
    credit = f', creditLimit: {{amount: "{credit_limit}"}}' if credit_limit else ""
    data = await api.ok(  # credit limits are set by managers; reps only read them
        "manager",
        f'mutation {{ createAccount(input: {{name: "华强电子"{credit}}}) {{ id }} }}',
    )
    account = data["createAccount"]["id"]
    data = await api.ok(
        "sales",
        "mutation($i: QuoteCreateInput!) { createQuote(input: $i) { " + SZ_QUOTE + " } }",
        {
            "i": {
                "title": "STM32 主控板报价",
                "accountId": account,
                "discount": discount,
                "validUntil": "2027-01-31",
            }
        },
    )
    quote = data["createQuote"]
    await _add_line(api, "sales", quote["id"], total, discount)
    assert (
        quote["status"] == "draft"
        and quote["owner"]["email"] == "sales@shenzhen-components.example"
    )
    return str(quote["id"])


async def _sz_transition(
    api: DemoApi, who: str, id: str, name: str, comment: str | None = None
) -> dict[str, Any]:
    return await api.as_(
        who,
        "mutation($id: ID!, $t: String!, $c: String) { transitionQuote(id: $id, transition: $t, comment: $c) { "
        + SZ_QUOTE
        + " } }",
        {"id": id, "t": name, "c": comment},
    )


async def test_shenzhen_discount_over_ten_percent_needs_a_sales_manager(shenzhen: DemoApi) -> None:
    api = shenzhen
    quote = await _sz_quote(api, "100000", "12000.00", "15")
    body = await _sz_transition(api, "sales", quote, "send", "请经理审批")
    assert "errors" not in body, body
    assert body["data"]["transitionQuote"]["status"] == "pending_approval"
    # Waiting: read-only, no other transition, nothing for the rep (the requester) to approve.
    body = await api.as_(
        "sales",
        'mutation($id: ID!) { updateQuote(id: $id, input: {title: "x"}) { id } }',
        {"id": quote},
    )
    assert body["errors"][0]["extensions"]["errors"][0]["code"] == "READ_ONLY_IN_STATE"
    assert (await api.ok("sales", "{ approvalInbox { id } }"))["approvalInbox"] == []
    inbox = (
        await api.ok(
            "manager",
            "{ approvalInbox { id recordId transition steps { key } requestedBy { email } } }",
        )
    )["approvalInbox"]
    assert [(a["recordId"], a["transition"], a["requestedBy"]["email"]) for a in inbox] == [
        (quote, "send", "sales@shenzhen-components.example")
    ]
    assert inbox[0]["steps"][0]["key"] == "sales_manager"
    body = await api.as_(
        "sales", "mutation($id: ID!) { approve(id: $id) { status } }", {"id": inbox[0]["id"]}
    )
    assert error_codes(body) == ["FORBIDDEN"]
    sent_at = datetime.now(UTC)
    data = await api.ok(
        "manager",
        'mutation($id: ID!) { approve(id: $id, comment: "同意") { status } }',
        {"id": inbox[0]["id"]},
    )
    assert data["approve"]["status"] == "approved"
    data = await api.ok("sales", "query($id: ID!) { quote(id: $id) { status } }", {"id": quote})
    assert data["quote"]["status"] == "sent"
    # Sent: the "no answer in 3 business days" clock runs until the customer answers.
    [timer] = await _timers(api, quote)
    assert (timer["timer_key"], timer["status"]) == ("quote_unanswered", "pending")
    # Three Chinese business days after the approval sent it (make-up working days count).
    cal = calendar_for(await api.runtime.model(api.tenant))
    assert timer["due_at"] == cal.add(sent_at, 3, "business_days", at=time(10, 0))
    body = await _sz_transition(api, "sales", quote, "accept")
    assert body["data"]["transitionQuote"]["status"] == "accepted"
    assert [t["status"] for t in await _timers(api, quote)] == ["cancelled"]
    tasks = (await api.ok("sales", "{ myTasks(due: UPCOMING) { subject relatedId dueAt } }"))[
        "myTasks"
    ]
    tasks += (await api.ok("sales", "{ myTasks(due: TOMORROW) { subject relatedId dueAt } }"))[
        "myTasks"
    ]
    delivery = [t for t in tasks if t["subject"] == "安排交货：STM32 主控板报价"]
    assert [t["relatedId"] for t in delivery] == [quote]
    assert _local(delivery[0]["dueAt"], "Asia/Shanghai").time() == time(9, 0)


async def test_shenzhen_rejection_returns_the_quote_to_draft(shenzhen: DemoApi) -> None:
    api = shenzhen
    quote = await _sz_quote(api, None, "5000", "20")
    await _sz_transition(api, "sales", quote, "send")
    [approval] = (await api.ok("manager", "{ approvalInbox { id } }"))["approvalInbox"]
    data = await api.ok(
        "manager",
        'mutation($id: ID!) { reject(id: $id, comment: "折扣太高") { status } }',
        {"id": approval["id"]},
    )
    assert data["reject"]["status"] == "rejected"
    assert (await api.ok("sales", "query($id: ID!) { quote(id: $id) { status } }", {"id": quote}))[
        "quote"
    ]["status"] == "draft"


async def test_shenzhen_small_discount_is_sent_without_approval(shenzhen: DemoApi) -> None:
    quote = await _sz_quote(shenzhen, "100000", "8000", "10")
    body = await _sz_transition(shenzhen, "sales", quote, "send")
    assert body["data"]["transitionQuote"]["status"] == "sent"
    assert (await shenzhen.ok("manager", "{ approvalInbox { id } }"))["approvalInbox"] == []


async def test_shenzhen_quote_over_the_credit_limit_is_refused(shenzhen: DemoApi) -> None:
    api = shenzhen
    quote = await _sz_quote(api, "50000", "80000.00", "15")
    body = await _sz_transition(api, "sales", quote, "send")
    assert error_codes(body) == ["VALIDATION_FAILED"]
    problem = body["errors"][0]["extensions"]["errors"][0]
    # The rep reads Chinese: the guard's message is in the caller's locale.
    assert problem == {
        "field": "transition",
        "code": "TRANSITION_GUARD",
        "message": "报价总额超过客户的信用额度",
    }
    data = await api.ok("sales", "query($id: ID!) { quote(id: $id) { status } }", {"id": quote})
    assert data["quote"]["status"] == "draft"
    assert (await api.ok("manager", "{ approvalInbox { id } }"))["approvalInbox"] == []
    options = await api.ok(
        "sales",
        'query($id: ID!) { meta { transitions(entity: "quote", id: $id) '
        "{ key allowed reason reasonCode needsApproval } } }",
        {"id": quote},
    )
    [send] = options["meta"]["transitions"]
    assert (send["key"], send["allowed"], send["needsApproval"]) == ("send", False, True)
    assert (send["reasonCode"], send["reason"]) == (
        "TRANSITION_GUARD",
        "报价总额超过客户的信用额度",
    )


async def test_shenzhen_discount_cap_rule(shenzhen: DemoApi) -> None:
    body = await shenzhen.as_(
        "sales", 'mutation { createQuote(input: {title: "x", discount: "35"}) { id } }'
    )
    assert body["errors"][0]["extensions"]["errors"][0] == {
        "field": "discount",
        "code": "RULE_FAILED",
        "message": "折扣不能超过 30 %",
    }


# -- Madrid: pipeline with a credit guard, expiry by timer --------------------------

MD_QUOTE = "id status"


async def _md_quote(
    api: DemoApi, account: dict[str, Any], total: str, valid_until: str = "2027-03-31"
) -> str:
    data = await api.ok(  # credit limits are set by the sales manager; reps only read them
        "jefe",
        "mutation($i: AccountCreateInput!) { createAccount(input: $i) { id } }",
        {"i": {"name": "Talleres Henares S.L.", **account}},
    )
    data = await api.ok(
        "comercial",
        "mutation($i: QuoteCreateInput!) { createQuote(input: $i) { id status } }",
        {
            "i": {
                "title": "Sensores para línea 3",
                "accountId": data["createAccount"]["id"],
                "validUntil": valid_until,
            }
        },
    )
    assert data["createQuote"]["status"] == "borrador"
    await _add_line(api, "comercial", data["createQuote"]["id"], total, "0")
    return str(data["createQuote"]["id"])


async def _md_transition(api: DemoApi, who: str, id: str, name: str) -> dict[str, Any]:
    return await api.as_(
        who,
        "mutation($id: ID!, $t: String!) { transitionQuote(id: $id, transition: $t) { id status } }",
        {"id": id, "t": name},
    )


async def test_madrid_credit_guard_on_confirming_the_order(madrid: DemoApi) -> None:
    api = madrid
    over = await _md_quote(
        api, {"creditLimit": {"amount": "10000"}, "formaPago": "transferencia"}, "15000"
    )
    assert (await _md_transition(api, "comercial", over, "enviar"))["data"]["transitionQuote"][
        "status"
    ] == "enviado"
    assert (await _md_transition(api, "comercial", over, "negociar"))["data"]["transitionQuote"][
        "status"
    ] == "negociacion"
    body = await _md_transition(api, "comercial", over, "confirmar")
    problem = body["errors"][0]["extensions"]["errors"][0]
    assert problem["code"] == "TRANSITION_GUARD"
    assert problem["message"].startswith("El pedido supera el límite de crédito del cliente")
    # Paid by card, an account without a limit may order; the transition's actions run.
    card = await _md_quote(api, {"formaPago": "tarjeta"}, "15000")
    await _md_transition(api, "comercial", card, "enviar")
    body = await _md_transition(api, "comercial", card, "confirmar")
    assert body["data"]["transitionQuote"]["status"] == "pedido"
    tasks = await api.ok(
        "comercial",
        '{ tasks(filter: {relatedId: {eq: "'
        + card
        + '"}}) { edges { node { subject owner { email } } } } }',
    )
    assert [e["node"] for e in tasks["tasks"]["edges"]] == [
        {
            "subject": "Preparar el pedido: Sensores para línea 3",
            "owner": {"email": "comercial@madrid-componentes.example"},
        }
    ]
    # The sales manager is told (an email in the outbox, sent by the worker).
    async with api.runtime.db.tenant_scope(api.tenant):
        rows = await api.runtime.db.fetch(
            "SELECT payload FROM outbox WHERE tenant_id = {} AND topic = 'notify.email'", api.tenant
        )
    payloads = [
        json.loads(r["payload"]) if isinstance(r["payload"], str) else r["payload"] for r in rows
    ]
    assert any(
        p["to"] == ["jefe@madrid-componentes.example"] and p["record_id"] == card for p in payloads
    )
    # A rep cannot expire a quote by hand.
    body = await _md_transition(api, "comercial", over, "caducar")
    assert body["errors"][0]["extensions"]["errors"][0]["code"] == "TRANSITION_FORBIDDEN"


async def test_madrid_discount_rule_reads_the_customer(madrid: DemoApi) -> None:
    api = madrid
    data = await api.ok(
        "comercial",
        'mutation { createAccount(input: {name: "Radiofrecuencia Sur", descuentoHabitual: "10"}) { id } }',
    )
    account = data["createAccount"]["id"]
    query = "mutation($i: QuoteCreateInput!) { createQuote(input: $i) { id } }"
    body = await api.as_(
        "comercial", query, {"i": {"title": "x", "accountId": account, "discount": "16"}}
    )
    problem = body["errors"][0]["extensions"]["errors"][0]
    assert (problem["field"], problem["code"]) == ("discount", "RULE_FAILED")
    assert "5 puntos" in problem["message"]
    await api.ok("comercial", query, {"i": {"title": "x", "accountId": account, "discount": "15"}})


async def test_madrid_sent_quote_expires_the_day_after_its_validity(madrid: DemoApi) -> None:
    api = madrid
    quote = await _md_quote(api, {"formaPago": "tarjeta"}, "900", valid_until="2027-03-31")
    await _md_transition(api, "comercial", quote, "enviar")
    [timer] = [t for t in await _timers(api, quote) if t["status"] == "pending"]
    due = timer["due_at"].astimezone(ZoneInfo("Europe/Madrid"))
    assert (due.date(), due.time()) == (date(2027, 4, 1), time(8, 0))
    assert await _fire_due_timers(api, timer["due_at"] - timedelta(minutes=1)) == 0
    assert await _fire_due_timers(api, timer["due_at"] + timedelta(minutes=1)) == 1
    data = await api.ok("comercial", "query($id: ID!) { quote(id: $id) { status } }", {"id": quote})
    assert data["quote"]["status"] == "caducado"


# -- Manila: reminders and the next cleaning visit ----------------------------------

VISIT = "id status reference scheduledDate technician { email } dispatcher { email } previousVisit { id } unit { id } site { id }"


async def _mn_site_and_unit(api: DemoApi) -> tuple[str, str]:
    data = await api.ok(
        "dispatcher", 'mutation { createAccount(input: {name: "Reyes Bakery"}) { id } }'
    )
    data = await api.ok(
        "dispatcher",
        "mutation($i: SiteCreateInput!) { createSite(input: $i) { id } }",
        {
            "i": {
                "name": "Reyes Bakery — Poblacion",
                "accountId": data["createAccount"]["id"],
                "address": {"street": "123 JP Rizal St", "city": "Makati", "country": "PH"},
                "barangay": "Poblacion",
                "city": "makati",
            }
        },
    )
    site = data["createSite"]["id"]
    data = await api.ok(
        "dispatcher",
        "mutation($i: UnitCreateInput!) { createUnit(input: $i) { id } }",
        {"i": {"tag": "Kitchen", "siteId": site, "unitType": "split"}},
    )
    return site, data["createUnit"]["id"]


async def _mn_transition(
    api: DemoApi, who: str, id: str, name: str, comment: str | None = None, **values: Any
) -> dict[str, Any]:
    return await api.as_(
        who,
        "mutation($id: ID!, $t: String!, $c: String, $i: MaintenanceVisitUpdateInput) { "
        f"transitionMaintenanceVisit(id: $id, transition: $t, comment: $c, input: $i) {{ {VISIT} }} }}",
        {"id": id, "t": name, "c": comment, "i": values or None},
    )


async def test_manila_reminder_is_the_business_day_before_skipping_holidays(
    manila: DemoApi,
) -> None:
    api = manila
    site, unit = await _mn_site_and_unit(api)
    data = await api.ok(
        "dispatcher",
        "mutation($i: MaintenanceVisitCreateInput!) { createMaintenanceVisit(input: $i) { "
        + VISIT
        + " } }",
        {
            "i": {
                "siteId": site,
                "unitId": unit,
                "visitType": "cleaning",
                "scheduledDate": "2026-12-28",
            }
        },
    )
    visit = data["createMaintenanceVisit"]
    assert visit["status"] == "to_confirm"
    # Monday 28 December: the business day before is Wednesday the 23rd (the 24th and
    # 25th are Philippine holidays, the 26th and 27th a weekend), at 08:00 in Manila.
    [timer] = [t for t in await _timers(api, visit["id"]) if t["status"] == "pending"]
    assert timer["timer_key"] == "visit_reminder"
    assert timer["due_at"] == datetime(2026, 12, 23, 0, 0, tzinfo=UTC)
    # Moving the date moves the reminder.
    await api.ok(
        "dispatcher",
        'mutation($id: ID!) { updateMaintenanceVisit(id: $id, input: {scheduledDate: "2027-01-05"}) { id } }',
        {"id": visit["id"]},
    )
    pending = [t for t in await _timers(api, visit["id"]) if t["status"] == "pending"]
    assert [t["due_at"] for t in pending] == [datetime(2027, 1, 4, 0, 0, tzinfo=UTC)]


async def test_manila_confirming_needs_the_dispatcher_and_a_job_order(manila: DemoApi) -> None:
    api = manila
    site, unit = await _mn_site_and_unit(api)
    data = await api.ok(
        "dispatcher",
        "mutation($i: MaintenanceVisitCreateInput!) { createMaintenanceVisit(input: $i) { id } }",
        {
            "i": {
                "siteId": site,
                "unitId": unit,
                "visitType": "cleaning",
                "scheduledDate": "2027-02-03",
            }
        },
    )
    visit = data["createMaintenanceVisit"]["id"]
    body = await _mn_transition(api, "technician", visit, "confirm")
    assert body["errors"][0]["extensions"]["errors"][0]["code"] == "TRANSITION_FORBIDDEN"
    body = await _mn_transition(api, "dispatcher", visit, "confirm")
    missing = {e["field"] for e in body["errors"][0]["extensions"]["errors"]}
    assert missing == {"reference", "technician", "laborFee"}
    body = await _mn_transition(
        api,
        "dispatcher",
        visit,
        "confirm",
        reference="JO-000123",
        technicianId=api.ids["technician"],
        laborFee={"amount": "1500"},
    )
    done = body["data"]["transitionMaintenanceVisit"]
    assert done["status"] == "scheduled"
    # The confirm transition records who confirmed it (set_fields with user.id).
    assert done["dispatcher"] == {"email": "dispatcher@manila-aircon.example"}


async def test_manila_completed_cleaning_schedules_the_next_visit(manila: DemoApi) -> None:
    api = manila
    site, unit = await _mn_site_and_unit(api)
    data = await api.ok(
        "dispatcher",
        "mutation($i: MaintenanceVisitCreateInput!) { createMaintenanceVisit(input: $i) { id } }",
        {
            "i": {
                "siteId": site,
                "unitId": unit,
                "visitType": "cleaning",
                "scheduledDate": "2027-01-12",
            }
        },
    )
    visit = data["createMaintenanceVisit"]["id"]
    await _mn_transition(
        api,
        "dispatcher",
        visit,
        "confirm",
        reference="JO-000777",
        technicianId=api.ids["technician"],
        laborFee={"amount": "1800"},
    )
    for step in ("depart", "start"):
        body = await _mn_transition(api, "technician", visit, step)
        assert "errors" not in body, body
    # Not signed yet: the guard refuses, in the technician's language.
    body = await _mn_transition(api, "technician", visit, "complete", findings="Filters cleaned")
    problem = body["errors"][0]["extensions"]["errors"][0]
    assert (problem["code"], problem["message"]) == (
        "TRANSITION_GUARD",
        "The customer has not signed the service report yet",
    )
    body = await _mn_transition(
        api, "technician", visit, "complete", findings="Filters cleaned", customerSigned=True
    )
    assert body["data"]["transitionMaintenanceVisit"]["status"] == "done"
    timers = await _timers(api, visit)
    # The visit is over: its reminder is dropped; the next cleaning is on the clock.
    assert [t["status"] for t in timers if t["timer_key"] == "visit_reminder"] == ["cancelled"]
    [timer] = [t for t in timers if t["timer_key"] == "next_cleaning"]
    assert timer["status"] == "pending"
    due = timer["due_at"].astimezone(ZoneInfo("Asia/Manila"))
    assert due.time() == time(9, 0)
    # The worker, its clock just past the due time, fires it: the next visit is created...
    assert await _fire_due_timers(api, timer["due_at"] + timedelta(seconds=30)) >= 1
    query = (
        "query($id: ID!) { maintenanceVisits(filter: {previousVisit: {eq: $id}}) { edges { node { "
        + VISIT
        + " } } } }"
    )
    [edge] = (await api.ok("dispatcher", query, {"id": visit}))["maintenanceVisits"]["edges"]
    nxt = edge["node"]
    assert nxt["status"] == "to_confirm"
    assert nxt["scheduledDate"] == "2027-04-12"  # 90 days after the visit
    assert (nxt["site"]["id"], nxt["unit"]["id"], nxt["previousVisit"]["id"]) == (site, unit, visit)
    # ... and the dispatcher who confirmed the visit has a task to confirm the next one.
    tasks = await api.ok(
        "dispatcher",
        "query($id: String!) { tasks(filter: {relatedId: {eq: $id}}) { edges { node { subject owner { email } dueAt source } } } }",
        {"id": visit},
    )
    [task] = [e["node"] for e in tasks["tasks"]["edges"]]
    assert task["subject"] == "Confirm the next cleaning after JO-000777 with the customer"
    assert task["owner"]["email"] == "dispatcher@manila-aircon.example"
    assert _local(task["dueAt"], "Asia/Manila").time() == time(17, 0)
    assert task["source"] == "automation:create_next_cleaning"
    # Fired once: a second pass finds nothing more to do for this timer.
    assert [
        t["status"] for t in await _timers(api, visit) if t["timer_key"] == "next_cleaning"
    ] == ["fired"]


async def test_manila_technician_is_reminded_of_a_scheduled_visit(manila: DemoApi) -> None:
    api = manila
    site, unit = await _mn_site_and_unit(api)
    model = await api.runtime.model(api.tenant)
    cal = calendar_for(model)
    day = datetime.now(UTC).astimezone(cal.zone()).date() + timedelta(days=10)
    data = await api.ok(
        "dispatcher",
        "mutation($i: MaintenanceVisitCreateInput!) { createMaintenanceVisit(input: $i) { id } }",
        {
            "i": {
                "siteId": site,
                "unitId": unit,
                "visitType": "repair",
                "scheduledDate": day.isoformat(),
            }
        },
    )
    visit = data["createMaintenanceVisit"]["id"]
    await _mn_transition(
        api,
        "dispatcher",
        visit,
        "confirm",
        reference="JO-000888",
        technicianId=api.ids["technician"],
        laborFee={"amount": "900"},
    )
    [timer] = [t for t in await _timers(api, visit) if t["status"] == "pending"]
    start = datetime.combine(day, time(0), tzinfo=cal.zone())
    assert timer["due_at"] == cal.add(start, -1, "business_days", at=time(8, 0))
    assert await _fire_due_timers(api, timer["due_at"] + timedelta(seconds=1)) == 1
    tasks = await api.ok(
        "technician",
        '{ tasks(filter: {relatedId: {eq: "'
        + visit
        + '"}}) { edges { node { subject owner { email } } } } }',
    )
    assert [e["node"] for e in tasks["tasks"]["edges"]] == [
        {
            "subject": f"Visit on {day.isoformat()}: JO-000888",
            "owner": {"email": "technician@manila-aircon.example"},
        }
    ]


# -- load_demo stages the processes ------------------------------------------------

SMALL = {"*": 8, "account": 20, "quote": 40, "maintenance_visit": 20, "task": 6}


async def test_load_demo_stages_users_tasks_and_an_approval(db: Database) -> None:
    api = Api(await make_runtime(db))
    try:
        logins = await load_demo(api.runtime, CONFIGS, counts=SMALL)
        by_tenant = {login.tenant: login for login in logins}
        assert sorted(by_tenant) == sorted(DEMO_TEAMS)
        for tenant, login in by_tenant.items():
            team = {m.email: m for m in login.team}
            assert sorted(team) == sorted(f"{m.local}@{tenant}.example" for m in DEMO_TEAMS[tenant])
            for member in DEMO_TEAMS[tenant]:
                user = await db.get_user(tenant, f"{member.local}@{tenant}.example")
                assert user is not None and tuple(user["roles"]) == member.roles
                if member.manager is not None:
                    manager = await db.get_user(tenant, f"{member.manager}@{tenant}.example")
                    assert manager is not None and user["manager_id"] == manager["id"]
            for token in [login.token, *(m.token for m in login.team)]:
                for due in ("OVERDUE", "TODAY", "TOMORROW"):
                    body = await api.gql(tenant, token, f"{{ myTasks(due: {due}) {{ id }} }}")
                    assert "errors" not in body, body
                    assert body["data"]["myTasks"], (tenant, due)
        sz = by_tenant["shenzhen-components"]
        manager = next(m for m in sz.team if "sales_manager" in m.roles)
        body = await api.gql(
            sz.tenant, manager.token, "{ approvalInbox { recordId requestedBy { email } } }"
        )
        [approval] = body["data"]["approvalInbox"]
        assert approval["requestedBy"]["email"] == "sales@shenzhen-components.example"
        body = await api.gql(
            sz.tenant,
            manager.token,
            "query($id: ID!) { quote(id: $id) { status discount } }",
            {"id": approval["recordId"]},
        )
        assert body["data"]["quote"]["status"] == "pending_approval"
        # A second run keeps the data and issues tokens only.
        again = await load_demo(api.runtime, CONFIGS, counts=SMALL)
        assert [len(login.team) for login in again] == [len(login.team) for login in logins]
        body = await api.gql(sz.tenant, manager.token, "{ approvalInbox { id } }")
        assert len(body["data"]["approvalInbox"]) == 1
    finally:
        await api.close()


# -- sample data follows the workflows -------------------------------------------------


@settings(max_examples=8, deadline=None)
@given(seed=st.integers(min_value=0, max_value=2**32))
def test_samples_rest_in_reachable_states_with_what_they_need(seed: int) -> None:
    host = PluginHost.from_entry_points()
    for path in sorted(CONFIGS.glob("*.json")):
        doc, _ = load_config_file(path)
        model, problems = validate_config(doc, host.contributions())
        assert model is not None, problems
        samples = generate_sample_data(model, seed=seed, counts={"*": 10, "task": 0})
        refs = {s.ref: s for s in samples}
        for wf in model.processes.workflows.values():
            pending = {t.approval.pending_state for t in wf.transitions.values() if t.approval}
            for s in (s for s in samples if s.entity == wf.entity):
                state = s.values[wf.field]
                assert state in wf.states and state not in pending
                if state == wf.initial:
                    continue
                # Some transition into the state has its required fields on the record.
                into = [t for t in wf.transitions.values() if t.to == state]
                assert any(
                    all(
                        s.values.get(k) is not None
                        or model.entities[wf.entity].fields[k].value_type == "user"
                        for k in t.required_fields
                    )
                    for t in into
                ), (s.ref, state)
        for quote in (
            s for s in samples if s.entity == "quote" and path.stem == "shenzhen-components"
        ):
            if quote.values["status"] in ("sent", "accepted", "rejected"):
                account = refs[quote.values["account"]].values
                if account.get("credit_limit"):
                    assert quote.values["total"]["amount"] <= account["credit_limit"]["amount"]


def test_samples_follow_any_workflow_and_satisfy_rules() -> None:
    """The generator is generic: states by reachable transitions, rules redrawn until true."""
    from core.metadata import build_tenant_model

    options = ["open", "waiting", "approved", "closed", "archived"]
    doc = {
        "tenant": "gen",
        "name": {"en": "Gen"},
        "locales": ["en"],
        "currency": "EUR",
        "timezone": "UTC",
        "entities": {
            "ticket": {
                "label": {"en": "Ticket"},
                "plural": "tickets",
                "fields": {
                    "title": {"type": "text", "required": True},
                    "priority": {"type": "integer", "min": 0, "max": 10, "required": True},
                    "resolution": {"type": "text"},
                    "stamp": {"type": "text", "read_only": True},
                    "status": {"type": "enum", "options": [{"value": o} for o in options]},
                },
                "rules": [
                    {"key": "low", "expression": "record.priority <= 5", "message": {"en": "x"}}
                ],
            }
        },
        "workflows": {
            "flow": {
                "entity": "ticket",
                "field": "status",
                "states": {o: {"initial": o == "open"} for o in options},
                "transitions": {
                    "approve": {
                        "from": ["open"],
                        "to": "approved",
                        "approval": {
                            "pending_state": "waiting",
                            "steps": [{"key": "a", "approvers": {"roles": ["admin"]}}],
                        },
                    },
                    "close": {
                        "from": ["approved"],
                        "to": "closed",
                        "required_fields": ["resolution"],
                    },
                    "archive": {
                        "from": ["approved"],
                        "to": "archived",
                        "required_fields": ["stamp"],
                    },
                },
            }
        },
    }
    model = build_tenant_model(doc, {})
    samples = generate_sample_data(model, counts={"*": 60, "task": 0})
    assert len(samples) == 60
    states = {s.values["status"] for s in samples}
    assert states <= {"open", "approved", "closed"}  # never pending, never past a read-only need
    assert {"open", "approved", "closed"} <= states
    assert all(s.values["priority"] <= 5 for s in samples)
    assert all(s.values.get("resolution") for s in samples if s.values["status"] == "closed")


# -- the reference's walk-through (docs/workflows.md, order-desk.json) -----------------


async def test_the_reference_walkthrough_runs_as_documented(db: Database) -> None:
    api = Api(await make_runtime(db))
    try:
        doc = json.loads((DOCS / "examples" / "processes" / "order-desk.json").read_text())
        await api.runtime.apply_config(doc)
        tenant, tokens, ids = doc["tenant"], {}, {}
        password = hash_password("x" * 12)
        for name, roles, locale in (
            ("admin", ["admin"], "en"),
            ("ana", ["rep"], "en"),
            ("bruno", ["manager"], "es-ES"),
            ("fin1", ["finance"], "en"),
            ("fin2", ["finance"], "en"),
        ):
            uid = await db.add_user(
                tenant, f"{name}@{tenant}.example", name, password, roles, locale
            )
            ids[name], tokens[name] = uid, await issue_token(db, tenant, uid)

        async def gql(who: str, query: str, **variables: Any) -> dict[str, Any]:
            return await api.gql(tenant, tokens[who], query, variables)

        body = await gql(
            "admin",
            'mutation { createCustomer(input: {name: "Acme", creditLimit: {amount: "20000"}}) { id } }',
        )
        customer = body["data"]["createCustomer"]["id"]
        body = await gql(
            "ana", 'mutation { createOrder(input: {title: "Pumps", discount: "15"}) { id status } }'
        )
        order = body["data"]["createOrder"]["id"]
        confirm = (
            "mutation($id: ID!, $c: ID!, $t: Decimal!) { transitionOrder(id: $id, transition: "
            '"confirm", comment: "price", input: {customerId: $c, total: {amount: $t}}) { status } }'
        )
        body = await gql("ana", confirm, id=order, c=customer, t="25000")
        assert "errors" in body, body
        assert body["errors"][0]["extensions"]["errors"][0]["code"] == "TRANSITION_GUARD"
        # Ana has no manager yet: the first step has nobody to approve it.
        body = await gql("ana", confirm, id=order, c=customer, t="12000")
        assert body["errors"][0]["extensions"]["errors"][0]["code"] == "APPROVERS_NONE"
        await db.set_manager(tenant, ids["ana"], ids["bruno"])
        body = await gql("ana", confirm, id=order, c=customer, t="12000")
        assert body["data"]["transitionOrder"]["status"] == "pending"
        inbox = (await gql("bruno", "{ approvalInbox { id transitionLabel steps { label } } }"))[
            "data"
        ]
        [approval] = inbox["approvalInbox"]
        assert approval["transitionLabel"] == "Confirmar"  # in the approver's locale
        assert [s["label"] for s in approval["steps"]] == ["Responsable del comercial", "Finanzas"]
        approve = "mutation($id: ID!) { approve(id: $id) { status step } }"
        assert (await gql("ana", approve, id=approval["id"]))["errors"][0]["extensions"]["errors"][
            0
        ]["code"] == "NOT_APPROVER"
        assert (await gql("bruno", approve, id=approval["id"]))["data"]["approve"] == {
            "status": "pending",
            "step": 1,
        }
        assert (await gql("fin1", approve, id=approval["id"]))["data"]["approve"][
            "status"
        ] == "pending"
        assert (await gql("fin2", approve, id=approval["id"]))["data"]["approve"][
            "status"
        ] == "approved"
        body = await gql("fin2", approve, id=approval["id"])
        assert body["errors"][0]["extensions"]["errors"][0]["code"] == "APPROVAL_CLOSED"
        body = await gql("ana", "query($id: ID!) { order(id: $id) { status priority } }", id=order)
        assert body["data"]["order"] == {"status": "confirmed", "priority": "high"}
        tasks = (await gql("ana", "{ myTasks(due: OPEN) { subject source relatedId } }"))["data"]
        assert tasks["myTasks"] == [
            {
                "subject": "Plan the shipment of Pumps",
                "source": "transition:confirm",
                "relatedId": order,
            }
        ]
        ship = (
            'mutation($id: ID!) { transitionOrder(id: $id, transition: "ship", '
            'input: {shipDate: "2031-01-15", carrierRef: "SEUR-0042"}) { status } }'
        )
        body = await gql("ana", ship, id=order)
        assert body["errors"][0]["extensions"]["errors"][0]["code"] == "TRANSITION_FORBIDDEN"
        assert (await gql("admin", ship, id=order))["data"]["transitionOrder"][
            "status"
        ] == "shipped"
        body = await gql("admin", "{ shipments { edges { node { reference order { id } } } } }")
        assert [e["node"] for e in body["data"]["shipments"]["edges"]] == [
            {"reference": "SEUR-0042", "order": {"id": order}}
        ]
    finally:
        await api.close()


# -- the documentation's examples ---------------------------------------------------------


def test_every_process_example_is_shown_verbatim_in_the_reference() -> None:
    shown = dict(INCLUDE.findall((DOCS / "workflows.md").read_text(encoding="utf-8")))
    assert sorted(shown) == [p.name for p in EXAMPLES]
    for path in EXAMPLES:
        assert shown[path.name] == path.read_text(encoding="utf-8").rstrip("\n"), path.name


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_process_example_is_a_valid_tenant_config(path: Path) -> None:
    doc, problems = load_config_file(path)
    assert problems == [] and doc is not None
    assert schema_problems(doc, path.name) == []
    contributions = PluginHost.from_entry_points().contributions()
    model, problems = validate_config(doc, contributions, file=path.name)
    assert [p.located() for p in problems] == []
    assert model is not None
    assert model.processes.workflows or model.processes.automations


def test_howtos_show_the_demo_configs_as_they_are() -> None:
    """Each how-to quotes its tenant's process sections; the quotes must stay true."""
    howtos = sorted((DOCS / "howto").glob("*.md"))
    assert len(howtos) == len(DEMO_TEAMS)
    for howto in howtos:
        text = howto.read_text(encoding="utf-8")
        quoted = re.findall(r"<!-- config: (\S+) (\S+) -->\n```json\n(.*?)\n```", text, re.DOTALL)
        assert quoted, f"{howto.name} quotes no config"
        for tenant, section, block in quoted:
            node: Any = _config(tenant)
            for part in section.split("/"):
                node = node[part]
            shown = json.loads("{" + block + "}")
            assert shown == {section.split("/")[-1]: node}, f"{howto.name}: {section} is stale"
