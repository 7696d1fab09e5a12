"""Invoicing reports over HTTP, on both engines: receivables aging and cash flow.

Figures are checked against independent oracles (hypothesis), and the
caller's roles, record scope, field access and tenant apply.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.security import hash_password, issue_token
from core.store import Database
from plugins.invoicing.entities import ENTITIES
from tests.api_helpers import error_codes, make_runtime
from tests.plugins.sales.conftest import SalesApi

DOC = Path(__file__).resolve().parents[2] / "docs" / "plugins" / "invoicing.md"

AGING = """query($d: Date) { receivablesAging(date: $d) {
  bucket label count amount { amount currency } } }"""
CASH = """query($f: Date, $t: Date) { cashFlow(from: $f, to: $t) {
  month cashIn { amount currency } cashOut { amount currency } } }"""
BUCKETS = ["CURRENT", "DAYS_1_30", "DAYS_31_60", "DAYS_61_90", "OVER_90"]
CENT = Decimal("0.01")


def invoicing_config(tenant: str = "cobros", **extra: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "tenant": tenant,
        "name": {"en": "Cobros"},
        "locales": ["en", "es-ES", "zh-CN", "tl-PH"],
        "default_locale": "en",
        "currency": "EUR",
        "timezone": "Europe/Madrid",
        "country": "ES",
        "plugins": ["sales", "invoicing"],
    }
    doc.update(extra)
    return doc


class InvoicingApi(SalesApi):
    async def person(
        self, tenant: str, email: str, roles: list[str] | None = None, locale: str = "en"
    ) -> str:
        """Add a user with a locale; return a bearer token."""
        user_id = await self.runtime.db.add_user(
            tenant, email, email.split("@")[0], hash_password("password123"), roles or [], locale
        )
        return await issue_token(self.runtime.db, tenant, user_id)

    async def invoice(
        self,
        tenant: str,
        token: str,
        total: str | None,
        status: str,
        due: date | None,
        issued: date | None = None,
        currency: str = "EUR",
    ) -> str:
        values: dict[str, Any] = {"status": status}
        if total is not None:
            values["total"] = {"amount": total, "currency": currency}
        if due is not None:
            values["dueDate"] = due.isoformat()
        if issued is not None:
            values["issueDate"] = issued.isoformat()
        return str((await self.create(tenant, token, "Invoice", values))["id"])

    async def payment(
        self,
        tenant: str,
        token: str,
        amount: str,
        paid_on: date | None,
        *,
        invoice: str | None = None,
        direction: str | None = None,
        currency: str = "EUR",
    ) -> None:
        values: dict[str, Any] = {"amount": {"amount": amount, "currency": currency}}
        if paid_on is not None:
            values["paidOn"] = paid_on.isoformat()
        if invoice is not None:
            values["invoiceId"] = invoice
        if direction is not None:
            values["direction"] = direction
        await self.create(tenant, token, "Payment", values)

    async def aging(self, tenant: str, token: str, day: date | None = None) -> list[Any]:
        variables = {"d": day.isoformat()} if day else {}
        rows: list[Any] = (await self.ok(tenant, token, AGING, variables))["receivablesAging"]
        return rows

    async def cash(
        self, tenant: str, token: str, start: date | None = None, end: date | None = None
    ) -> list[Any]:
        variables = {"f": start and start.isoformat(), "t": end and end.isoformat()}
        rows: list[Any] = (await self.ok(tenant, token, CASH, variables))["cashFlow"]
        return rows


@pytest.fixture
async def api(db: Database) -> AsyncIterator[InvoicingApi]:
    runtime = await make_runtime(db)
    client = InvoicingApi(runtime)
    yield client
    await client.close()


def _eur(amount: Decimal) -> dict[str, str]:
    return {"amount": str(amount.quantize(CENT)), "currency": "EUR"}


def _bucket(days_past_due: int) -> str:
    if days_past_due <= 0:
        return "CURRENT"
    if days_past_due <= 30:
        return "DAYS_1_30"
    if days_past_due <= 60:
        return "DAYS_31_60"
    if days_past_due <= 90:
        return "DAYS_61_90"
    return "OVER_90"


# -- receivables aging -----------------------------------------------------------------


async def test_aging_buckets_every_open_invoice_by_days_past_due(api: InvoicingApi) -> None:
    token = await api.tenant(invoicing_config())
    t = "cobros"
    day = date(2026, 6, 30)
    due = {n: day - timedelta(days=n) for n in (-5, 0, 1, 30, 31, 60, 61, 90, 91, 400)}
    ids = {n: await api.invoice(t, token, "100.00", "issued", d) for n, d in due.items()}
    # Partially paid 45 days ago: 300 less 120 received, plus a 20 refund, less a later payment.
    part = await api.invoice(t, token, "300.00", "partially_paid", day - timedelta(days=45))
    await api.payment(t, token, "120.00", day - timedelta(days=10), invoice=part)
    await api.payment(t, token, "20.00", day - timedelta(days=5), invoice=part, direction="out")
    await api.payment(t, token, "50.00", day + timedelta(days=1), invoice=part)
    await api.payment(t, token, "0.01", day, invoice=ids[0])  # on the day: counted
    # Not open, issued after the day, or in another currency: left out.
    for status in ("draft", "paid", "cancelled"):
        await api.invoice(t, token, "999.00", status, day - timedelta(days=10))
    await api.invoice(t, token, "999.00", "issued", day + timedelta(days=30), day + timedelta(1))
    await api.invoice(t, token, "999.00", "issued", day - timedelta(days=10), currency="USD")
    # No due date: due when issued (40 days ago); neither date: current; no total: zero.
    await api.invoice(t, token, "7.00", "issued", None, issued=day - timedelta(days=40))
    await api.invoice(t, token, "8.00", "issued", None)
    await api.invoice(t, token, None, "issued", day - timedelta(days=200))

    rows = await api.aging(t, token, day)
    assert rows == [
        {"bucket": "CURRENT", "label": "Current", "count": 3, "amount": _eur(Decimal("207.99"))},
        {"bucket": "DAYS_1_30", "label": "1–30 days", "count": 2, "amount": _eur(Decimal(200))},
        {
            "bucket": "DAYS_31_60",
            "label": "31–60 days",
            "count": 4,
            "amount": _eur(Decimal("407.00")),
        },
        {"bucket": "DAYS_61_90", "label": "61–90 days", "count": 2, "amount": _eur(Decimal(200))},
        {"bucket": "OVER_90", "label": "Over 90 days", "count": 3, "amount": _eur(Decimal(200))},
    ]


async def test_aging_defaults_to_today_in_the_tenant_time_zone(api: InvoicingApi) -> None:
    token = await api.tenant(invoicing_config())
    # 23:30 UTC on 31 March is already 1 April in Madrid: an invoice due on 31 March is late.
    api.runtime.clock = lambda: datetime(2026, 3, 31, 23, 30, tzinfo=UTC)
    await api.invoice("cobros", token, "10.00", "issued", date(2026, 3, 31))
    rows = await api.aging("cobros", token)
    assert [(r["bucket"], r["count"]) for r in rows] == [
        ("CURRENT", 0),
        ("DAYS_1_30", 1),
        ("DAYS_31_60", 0),
        ("DAYS_61_90", 0),
        ("OVER_90", 0),
    ]


@pytest.mark.parametrize(
    ("locale", "labels"),
    [
        ("es-ES", ["No vencido", "1–30 días", "31–60 días", "61–90 días", "Más de 90 días"]),
        ("zh-CN", ["未到期", "逾期 1–30 天", "逾期 31–60 天", "逾期 61–90 天", "逾期超过 90 天"]),
        ("tl-PH", ["Hindi pa takdang petsa", "1–30 araw", "31–60 araw", "61–90 araw"]),
    ],
)
async def test_bucket_labels_follow_the_callers_locale(
    api: InvoicingApi, locale: str, labels: list[str]
) -> None:
    await api.tenant(invoicing_config())
    token = await api.person("cobros", f"{locale}@cobros.es", ["admin"], locale)
    rows = await api.aging("cobros", token, date(2026, 1, 1))
    assert [r["label"] for r in rows][: len(labels)] == labels
    assert [r["amount"] for r in rows] == [{"amount": "0.00", "currency": "EUR"}] * 5


_STATUSES = ["draft", "issued", "partially_paid", "paid", "cancelled"]
_DAY = date(2026, 6, 15)


@settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    invoices=st.lists(
        st.tuples(
            st.sampled_from(_STATUSES),
            st.integers(-40, 200),  # days past due at the report date
            st.decimals("0", "99999.99", places=2),
            st.lists(
                st.tuples(
                    st.decimals("0.01", "50000.00", places=2),
                    st.sampled_from([None, "in", "out"]),
                    st.integers(-60, 5),  # paid this many days after the report date
                ),
                max_size=2,
            ),
        ),
        max_size=5,
    )
)
async def test_aging_buckets_sum_to_the_outstanding_of_all_open_invoices(
    api: InvoicingApi, invoices: list[tuple[str, int, Decimal, list[tuple[Decimal, Any, int]]]]
) -> None:
    tenant = f"a{uuid.uuid4().hex[:12]}"
    token = await api.tenant(invoicing_config(tenant))
    counts = dict.fromkeys(BUCKETS, 0)
    amounts = dict.fromkeys(BUCKETS, Decimal(0))
    outstanding_total = Decimal(0)
    for status, late, total, payments in invoices:
        due = _DAY - timedelta(days=late)
        issued = due - timedelta(days=30)  # after the report date when late < -30
        invoice = await api.invoice(tenant, token, str(total), status, due, issued)
        owed = total
        for amount, direction, after in payments:
            paid_on = _DAY + timedelta(days=after)
            await api.payment(
                tenant, token, str(amount), paid_on, invoice=invoice, direction=direction
            )
            if paid_on <= _DAY:
                owed += amount if direction == "out" else -amount
        if status in ("issued", "partially_paid") and issued <= _DAY:
            counts[_bucket(late)] += 1
            amounts[_bucket(late)] += owed
            outstanding_total += owed
    rows = await api.aging(tenant, token, _DAY)
    assert [r["bucket"] for r in rows] == BUCKETS
    assert {r["bucket"]: (r["count"], r["amount"]) for r in rows} == {
        b: (counts[b], _eur(amounts[b])) for b in BUCKETS
    }
    assert sum(Decimal(r["amount"]["amount"]) for r in rows) == outstanding_total


# -- cash flow ------------------------------------------------------------------------------


def _month(index: int) -> str:
    return f"{2025 + index // 12}-{index % 12 + 1:02d}"


@settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    payments=st.lists(
        st.tuples(
            st.integers(0, 23),  # month index from January 2025
            st.integers(1, 28),
            st.decimals("0.01", "99999.99", places=2),
            st.sampled_from([None, "in", "out"]),
            st.sampled_from(["EUR", "EUR", "EUR", "USD"]),
        ),
        max_size=8,
    ),
    bounds=st.tuples(
        st.integers(0, 23), st.integers(1, 28), st.integers(0, 23), st.integers(1, 28)
    ).filter(lambda b: (b[0], b[1]) <= (b[2], b[3])),
)
async def test_cash_in_per_month_sums_to_the_payments_in_range(
    api: InvoicingApi,
    payments: list[tuple[int, int, Decimal, Any, str]],
    bounds: tuple[int, int, int, int],
) -> None:
    tenant = f"c{uuid.uuid4().hex[:12]}"
    token = await api.tenant(invoicing_config(tenant))
    start = date(2025 + bounds[0] // 12, bounds[0] % 12 + 1, bounds[1])
    end = date(2025 + bounds[2] // 12, bounds[2] % 12 + 1, bounds[3])
    cash_in: dict[str, Decimal] = {}
    cash_out: dict[str, Decimal] = {}
    for month, day, amount, direction, currency in payments:
        paid_on = date(2025 + month // 12, month % 12 + 1, day)
        await api.payment(
            tenant, token, str(amount), paid_on, direction=direction, currency=currency
        )
        if currency == "EUR" and start <= paid_on <= end:
            into = cash_out if direction == "out" else cash_in
            into[_month(month)] = into.get(_month(month), Decimal(0)) + amount
    rows = await api.cash(tenant, token, start, end)
    months = [_month(i) for i in range(bounds[0], bounds[2] + 1)]
    assert [r["month"] for r in rows] == months
    assert [(r["cashIn"], r["cashOut"]) for r in rows] == [
        (_eur(cash_in.get(m, Decimal(0))), _eur(cash_out.get(m, Decimal(0)))) for m in months
    ]
    assert sum(Decimal(r["cashIn"]["amount"]) for r in rows) == sum(cash_in.values())


async def test_cash_flow_defaults_to_twelve_months_and_dates_undated_payments_locally(
    api: InvoicingApi,
) -> None:
    token = await api.tenant(invoicing_config())
    # 23:30 UTC on 31 January is 1 February in Madrid: an undated payment counts in February.
    api.runtime.clock = lambda: datetime(2026, 1, 31, 23, 30, tzinfo=UTC)
    await api.payment("cobros", token, "40.00", None)
    await api.payment("cobros", token, "15.50", date(2026, 2, 28), direction="out")
    await api.payment("cobros", token, "1.00", date(2025, 2, 28))  # a month too early
    await api.payment("cobros", token, "2.00", date(2026, 3, 1))  # after this month
    rows = await api.cash("cobros", token)
    assert [r["month"] for r in rows] == [
        *(f"2025-{m:02d}" for m in range(3, 13)),
        "2026-01",
        "2026-02",
    ]
    assert rows[-1] == {
        "month": "2026-02",
        "cashIn": {"amount": "40.00", "currency": "EUR"},
        "cashOut": {"amount": "15.50", "currency": "EUR"},
    }
    assert all(r["cashIn"]["amount"] == "0.00" for r in rows[:-1])
    only_to = await api.cash("cobros", token, None, date(2025, 6, 10))
    assert (only_to[0]["month"], only_to[-1]["month"], len(only_to)) == ("2024-07", "2025-06", 12)


async def test_cash_flow_refuses_reversed_and_too_long_ranges(api: InvoicingApi) -> None:
    token = await api.tenant(invoicing_config())
    reversed_ = await api.gql("cobros", token, CASH, {"f": "2026-03-02", "t": "2026-03-01"})
    assert error_codes(reversed_) == ["BAD_REQUEST"]
    assert reversed_["errors"][0]["extensions"]["errors"] == [
        {"field": "from", "code": "RANGE_REVERSED", "message": "must not be after 'to'"}
    ]
    assert reversed_["data"] is None
    too_long = await api.gql("cobros", token, CASH, {"f": "2023-01-31", "t": "2026-01-01"})
    assert error_codes(too_long) == ["BAD_REQUEST"]
    [problem] = too_long["errors"][0]["extensions"]["errors"]
    assert (problem["field"], problem["code"]) == ("to", "RANGE_TOO_LONG")
    assert "37 months" in too_long["errors"][0]["message"]
    longest = await api.cash("cobros", token, date(2023, 2, 1), date(2026, 1, 31))
    assert len(longest) == 36


# -- access ---------------------------------------------------------------------------------

_ROLES = {
    "clerk": {
        "label": {"en": "Clerk"},
        "permissions": {
            "entities": {"invoice": ["create", "read", "run"], "payment": ["create", "read"]},
            "record_scope": "own",
        },
    },
    "no_payments": {
        "label": {"en": "No payments"},
        "permissions": {"entities": {"invoice": ["read", "run"]}},
    },
    "masked": {
        "label": {"en": "Masked"},
        "permissions": {
            "entities": {"invoice": ["read", "run"], "payment": ["read"]},
            "fields": {"payment": {"amount": "hidden"}, "invoice": {"total": "hidden"}},
        },
    },
    "viewer": {
        "label": {"en": "Viewer"},
        "permissions": {"entities": {"invoice": ["read"], "payment": ["read"]}},
    },
}


async def test_reports_follow_roles_scope_and_field_access(api: InvoicingApi) -> None:
    admin = await api.tenant(invoicing_config(roles=_ROLES))
    t = "cobros"
    clerk = await api.person(t, "clerk@cobros.es", ["clerk"])
    day = date(2026, 5, 20)
    mine = await api.invoice(t, clerk, "100.00", "issued", day - timedelta(days=3))
    await api.payment(t, clerk, "30.00", day - timedelta(days=1), invoice=mine)
    theirs = await api.invoice(t, admin, "900.00", "issued", day - timedelta(days=3))
    await api.payment(t, admin, "500.00", day - timedelta(days=1), invoice=theirs)

    everyone = await api.aging(t, admin, day)
    assert (everyone[1]["count"], everyone[1]["amount"]["amount"]) == (2, "470.00")
    own = await api.aging(t, clerk, day)
    assert (own[1]["count"], own[1]["amount"]["amount"]) == (1, "70.00")
    own_cash = await api.cash(t, clerk, date(2026, 5, 1), date(2026, 5, 31))
    assert own_cash == [
        {"month": "2026-05", "cashIn": _eur(Decimal(30)), "cashOut": _eur(Decimal(0))}
    ]

    viewer = await api.person(t, "viewer@cobros.es", ["viewer"])
    no_payments = await api.person(t, "np@cobros.es", ["no_payments"])
    masked = await api.person(t, "masked@cobros.es", ["masked"])
    for query, variables in ((AGING, {"d": "2026-05-20"}), (CASH, {})):
        refused = await api.gql(t, viewer, query, variables)
        assert error_codes(refused) == ["FORBIDDEN"]
        assert "'run' on 'invoice'" in refused["errors"][0]["message"]
        without = await api.gql(t, no_payments, query, variables)
        assert error_codes(without) == ["FORBIDDEN"]
        assert "'read' on 'payment'" in without["errors"][0]["message"]
        hidden = await api.gql(t, masked, query, variables)
        assert error_codes(hidden) == ["FORBIDDEN"]
    hidden = await api.gql(t, masked, AGING, {})
    assert [e["field"] for e in hidden["errors"][0]["extensions"]["errors"]] == ["Invoice.total"]
    hidden = await api.gql(t, masked, CASH, {})
    assert [e["field"] for e in hidden["errors"][0]["extensions"]["errors"]] == ["Payment.amount"]


async def test_a_tenant_sees_only_its_own_invoices_and_payments(api: InvoicingApi) -> None:
    day = date(2026, 4, 10)
    tokens = {}
    for tenant, amount in (("norte", "111.00"), ("sur", "222.00")):
        tokens[tenant] = await api.tenant(invoicing_config(tenant), f"owner@{tenant}.es")
        invoice = await api.invoice(tenant, tokens[tenant], amount, "issued", day)
        await api.payment(tenant, tokens[tenant], "1.00", day, invoice=invoice)
    for tenant, outstanding in (("norte", "110.00"), ("sur", "221.00")):
        rows = await api.aging(tenant, tokens[tenant], day)
        assert (rows[0]["count"], rows[0]["amount"]["amount"]) == (1, outstanding)
        cash = await api.cash(tenant, tokens[tenant], day, day)
        assert cash[0]["cashIn"]["amount"] == "1.00"
    crossed = await api.gql("sur", tokens["norte"], AGING, {})
    assert error_codes(crossed) == ["FORBIDDEN"]


async def test_a_payment_is_received_unless_it_says_out(api: InvoicingApi) -> None:
    token = await api.tenant(invoicing_config())
    data = await api.ok(
        "cobros",
        token,
        'mutation { createPayment(input: {amount: {amount: "5"}}) { direction amount { amount currency } } }',
    )
    assert data["createPayment"] == {
        "direction": "in",
        "amount": {"amount": "5", "currency": "EUR"},
    }


# -- documentation --------------------------------------------------------------------------

TEXT = DOC.read_text("utf-8") if DOC.is_file() else ""
RUN = re.compile(r"<!-- run: (\S+) -->\n```graphql\n(.*?)\n```", re.DOTALL)
RESULT = re.compile(r"<!-- result: (\S+) -->\n```json\n(.*?)\n```", re.DOTALL)


def _section(entity: str) -> str:
    start = TEXT.index(f"### {entity} (")
    end = TEXT.find("\n### ", start + 1)
    return TEXT[start : end if end != -1 else len(TEXT)]


@pytest.mark.parametrize("entity", sorted(ENTITIES))
def test_every_field_is_documented(entity: str) -> None:
    section = _section(entity)
    assert [k for k in ENTITIES[entity]["fields"] if f"| `{k}` |" not in section] == []


async def test_the_documented_examples_return_what_the_page_shows(api: InvoicingApi) -> None:
    t = "docs"
    token = await api.tenant(invoicing_config(t))
    api.runtime.clock = lambda: datetime(2026, 3, 31, 10, tzinfo=UTC)
    a = await api.invoice(t, token, "1200.00", "issued", date(2026, 4, 15), date(2026, 3, 16))
    b = await api.invoice(t, token, "800.00", "partially_paid", date(2026, 3, 1), date(2026, 2, 1))
    c = await api.invoice(t, token, "450.00", "issued", date(2025, 12, 10), date(2025, 11, 10))
    await api.invoice(t, token, "300.00", "paid", date(2026, 2, 20), date(2026, 1, 21))
    await api.payment(t, token, "500.00", date(2026, 2, 25), invoice=b)
    await api.payment(t, token, "300.00", date(2026, 2, 18))
    await api.payment(t, token, "50.00", date(2026, 3, 20), invoice=c, direction="out")
    assert a
    examples = RUN.findall(TEXT)
    results = dict(RESULT.findall(TEXT))
    assert [k for k, _ in examples] == ["aging", "cashflow"]
    assert sorted(results) == ["aging", "cashflow"]
    for key, query in examples:
        assert await api.ok(t, token, query) == json.loads(results[key]), key
