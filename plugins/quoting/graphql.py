"""GraphQL actions and reports of the quoting plugin (strawberry).

Every field names ``entity="quote"``: only roles granted ``run`` on quotes
may call it. Resolvers act through ``info.context.service`` as the caller
(``info.context.call``), so roles, record scope, field access, workflow
guards and approvals all apply.
"""

from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import strawberry

from core.context import CallContext, Record
from core.errors import Problem, ValidationFailed
from core.graphql.context import call_context
from core.graphql.static import Money
from core.hookspecs import GraphQLContribution
from core.metadata import TenantModel
from core.query import And, Condition, Filter, OrderBy
from plugins.quoting.access import all_records
from plugins.quoting.documents import quote_html
from plugins.quoting.settings import settings_of
from plugins.quoting.versions import revise

__all__ = ["actions", "reports"]

_HISTORY_MAX = 500


@strawberry.type(description="A quote after an action: its state and revision.")
class QuoteActionResult:
    id: strawberry.ID
    number: str | None
    status: str | None
    revision: int
    version: int
    pending_approval: bool = strawberry.field(
        description="True when the transition waits for an approval instead of completing."
    )


@strawberry.type(description="One quote found by quoteHistory.")
class QuoteHistoryEntry:
    id: strawberry.ID
    number: str | None
    title: str | None
    account_id: strawberry.ID | None
    status: str | None
    total: Money | None
    revision: int
    created_at: datetime


@strawberry.type(description="A quote rendered with the tenant's template, and its downloads.")
class QuoteDocument:
    locale: str
    html: str
    pdf_url: str
    xlsx_url: str


@strawberry.type(description="One line of a frozen quote version.")
class QuoteVersionLine:
    product_id: strawberry.ID | None
    description: str | None
    quantity: Decimal | None
    unit_price: Money | None
    discount: Decimal | None
    tax_rate: Decimal | None
    amount: Money | None


def _money(value: dict[str, Any] | None) -> Money | None:
    if not value:
        return None
    return Money(amount=Decimal(str(value["amount"])), currency=str(value["currency"]))


def _result(ctx: CallContext, record: Record, target: str | None) -> QuoteActionResult:
    wf = ctx.model.processes.workflow_of("quote") if ctx.model.processes else None
    status = record.data.get(wf.field if wf else "status")
    return QuoteActionResult(
        id=strawberry.ID(record.id),
        number=record.data.get("number"),
        status=None if status is None else str(status),
        revision=int(record.data.get("revision") or 1),
        version=record.version,
        pending_approval=target is not None and status != target,
    )


async def _run(info: strawberry.Info, action: str, id: str, comment: str | None) -> Any:
    ctx = call_context(info)
    name = settings_of(ctx.model).transitions[action]
    wf = ctx.model.processes.workflow_of("quote") if ctx.model.processes else None
    t = wf.transitions.get(name) if wf else None
    if t is None:
        raise ValidationFailed(
            f"the quote workflow has no transition '{name}' for '{action}'",
            [Problem("TRANSITION_UNKNOWN", f"set settings.quoting.transitions.{action}", "id")],
        )
    record = await info.context.service.transition(ctx, "quote", id, name, comment)
    return _result(ctx, record, t.to)


@strawberry.field(description="Send the quote to the customer (the tenant's send transition).")
async def send_quote(
    info: strawberry.Info, id: strawberry.ID, comment: str | None = None
) -> QuoteActionResult:
    return await _run(info, "send", id, comment)  # type: ignore[no-any-return]


@strawberry.field(
    description="The customer accepted the quote; plugins that handle orders hear of it."
)
async def accept_quote(
    info: strawberry.Info, id: strawberry.ID, comment: str | None = None
) -> QuoteActionResult:
    return await _run(info, "accept", id, comment)  # type: ignore[no-any-return]


@strawberry.field(description="The customer turned the quote down.")
async def reject_quote(
    info: strawberry.Info, id: strawberry.ID, comment: str | None = None
) -> QuoteActionResult:
    return await _run(info, "reject", id, comment)  # type: ignore[no-any-return]


@strawberry.field(
    description="Freeze the current revision as a quote version and open the next one."
)
async def revise_quote(
    info: strawberry.Info, id: strawberry.ID, comment: str | None = None
) -> QuoteActionResult:
    ctx = call_context(info)
    return _result(ctx, await revise(ctx, id, comment), None)


def _day_start(model: TenantModel, day: date) -> datetime:
    return datetime.combine(day, time(0), ZoneInfo(model.timezone))


@strawberry.field(
    description="Quotes by customer, by product (a line names it) and by creation date "
    "(tenant-local days, both ends included), newest first."
)
async def quote_history(
    info: strawberry.Info,
    account_id: strawberry.ID | None = None,
    product_id: strawberry.ID | None = None,
    created_from: date | None = None,
    created_to: date | None = None,
    first: int = 100,
) -> list[QuoteHistoryEntry]:
    ctx = call_context(info)
    if not 0 < first <= _HISTORY_MAX:
        raise ValidationFailed(
            f"first must be 1..{_HISTORY_MAX}",
            [Problem("OUT_OF_RANGE", f"1..{_HISTORY_MAX}", "first")],
        )
    parts: list[Filter] = []
    if account_id:
        parts.append(Condition("account", "eq", str(account_id)))
    if created_from:
        parts.append(Condition("created_at", "gte", _day_start(ctx.model, created_from)))
    if created_to:
        end = _day_start(ctx.model, created_to + timedelta(days=1))
        parts.append(Condition("created_at", "lt", end))
    if product_id:
        lines = all_records(ctx, "quote_line", Condition("product", "eq", str(product_id)))
        ids = sorted({ln.data["quote"] async for ln in lines if ln.data.get("quote")})
        if not ids:
            return []
        parts.append(Condition("id", "in", ids))
    flt = None if not parts else parts[0] if len(parts) == 1 else And(tuple(parts))
    quotes, _ = await info.context.service.list(
        ctx, "quote", flt, [OrderBy("created_at", True)], first, None
    )
    return [
        QuoteHistoryEntry(
            id=strawberry.ID(q.id),
            number=q.data.get("number"),
            title=q.data.get("title"),
            account_id=q.data.get("account"),
            status=None if q.data.get("status") is None else str(q.data["status"]),
            total=_money(q.data.get("total")),
            revision=int(q.data.get("revision") or 1),
            created_at=q.created_at,
        )
        for q in quotes
    ]


@strawberry.field(
    description="The quote rendered with the tenant's template (HTML), and its downloads."
)
async def quote_document(
    info: strawberry.Info, id: strawberry.ID, locale: str | None = None
) -> QuoteDocument:
    ctx = call_context(info)
    html = await quote_html(ctx, id, locale)
    base = f"/t/{ctx.tenant}/x/quoting/quotes/{id}"
    suffix = f"?locale={locale}" if locale else ""
    return QuoteDocument(
        locale=locale or ctx.locale,
        html=html,
        pdf_url=f"{base}/quote.pdf{suffix}",
        xlsx_url=f"{base}/quote.xlsx",
    )


@strawberry.field(description="The lines of a frozen quote version.")
async def quote_version_lines(info: strawberry.Info, id: strawberry.ID) -> list[QuoteVersionLine]:
    ctx = call_context(info)
    version = await info.context.service.get(ctx, "quote_version", id)
    out: list[QuoteVersionLine] = []
    for line in json.loads(version.data.get("lines") or "[]"):
        out.append(
            QuoteVersionLine(
                product_id=line.get("product"),
                description=line.get("description"),
                quantity=None if line.get("quantity") is None else Decimal(line["quantity"]),
                unit_price=_money(line.get("unit_price")),
                discount=None if line.get("discount") is None else Decimal(line["discount"]),
                tax_rate=None if line.get("tax_rate") is None else Decimal(line["tax_rate"]),
                amount=_money(line.get("amount")),
            )
        )
    return out


def actions(model: TenantModel) -> list[GraphQLContribution]:
    return [
        # Send, accept and reject are the tenant's workflow transitions, which the
        # screens already offer on the quote's page: only revising is a record action.
        GraphQLContribution(
            "reviseQuote",
            revise_quote,
            entity="quote",
            record_action=True,
            label={
                "en": "New revision",
                "zh-CN": "新建修订版",
                "es-ES": "Nueva revisión",
                "tl-PH": "Bagong rebisyon",
            },
        ),
        GraphQLContribution("sendQuote", send_quote, entity="quote"),
        GraphQLContribution("acceptQuote", accept_quote, entity="quote"),
        GraphQLContribution("rejectQuote", reject_quote, entity="quote"),
    ]


def reports(model: TenantModel) -> list[GraphQLContribution]:
    return [
        GraphQLContribution("quoteHistory", quote_history, entity="quote"),
        GraphQLContribution("quoteDocument", quote_document, entity="quote"),
        GraphQLContribution("quoteVersionLines", quote_version_lines, entity="quote"),
    ]
