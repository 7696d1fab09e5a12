"""The invoicing plugin's GraphQL: ``receivablesAging`` and ``cashFlow``.

Resolvers read only through ``info.context.service`` as
``info.context.call``: the caller's roles, record scope and field access
apply to every figure they return. Both need ``run`` on ``invoice``.
"""

from __future__ import annotations

import enum
from datetime import date
from decimal import Decimal
from typing import Annotated

import strawberry

from core.graphql.context import call_context
from core.graphql.static import Money
from core.hookspecs import GraphQLContribution
from core.metadata import TenantModel
from plugins.invoicing.reports import (
    BUCKET_LABELS,
    MAX_MONTHS,
    cash_flow,
    local_date,
    receivables_aging,
    report_range,
)

__all__ = ["reports"]


@strawberry.enum(name="ReceivablesBucket", description="Days past the due date.")
class ReceivablesBucket(enum.Enum):
    CURRENT = "current"
    DAYS_1_30 = "days_1_30"
    DAYS_31_60 = "days_31_60"
    DAYS_61_90 = "days_61_90"
    OVER_90 = "over_90"


@strawberry.type(
    name="ReceivablesAgingRow", description="Open invoices whose days past due fall in a bucket."
)
class ReceivablesAgingRow:
    bucket: ReceivablesBucket
    label: str = strawberry.field(description="The bucket's name in your language.")
    count: int
    amount: Money = strawberry.field(
        description="Outstanding: totals less the payments received, in the tenant's currency."
    )


@strawberry.type(name="CashFlowMonth", description="Money received and paid out in one month.")
class CashFlowMonth:
    month: str = strawberry.field(description="The calendar month: YYYY-MM.")
    cash_in: Money = strawberry.field(description="Payments received, in the tenant's currency.")
    cash_out: Money = strawberry.field(description="Payments out (refunds), same currency.")


def _money(amount: Decimal, currency: str) -> Money:
    return Money(amount=amount, currency=currency)


@strawberry.field(
    description="Open invoices (issued or partially paid) that you may read, by days past due "
    "at 'date' (today in the tenant's time zone by default): all five buckets, in order."
)
async def receivables_aging_field(
    info: strawberry.Info, date_: Annotated[date | None, strawberry.argument(name="date")] = None
) -> list[ReceivablesAgingRow]:
    ctx = call_context(info)
    rows = await receivables_aging(ctx, date_ or local_date(ctx))
    currency = ctx.model.currency
    return [
        ReceivablesAgingRow(
            bucket=ReceivablesBucket(r.bucket),
            label=ctx.model.label(BUCKET_LABELS[r.bucket], ctx.locale),
            count=r.count,
            amount=_money(r.amount, currency),
        )
        for r in rows
    ]


@strawberry.field(
    description="Payments you may read, received and paid out per calendar month from 'from' "
    "to 'to' (both included; by default the twelve months ending with this one). At most "
    f"{MAX_MONTHS} months; every month has a row."
)
async def cash_flow_field(
    info: strawberry.Info,
    from_: Annotated[date | None, strawberry.argument(name="from")] = None,
    to: date | None = None,
) -> list[CashFlowMonth]:
    ctx = call_context(info)
    start, end = report_range(ctx, from_, to)
    rows = await cash_flow(ctx, start, end)
    currency = ctx.model.currency
    return [
        CashFlowMonth(
            month=r.month,
            cash_in=_money(r.cash_in, currency),
            cash_out=_money(r.cash_out, currency),
        )
        for r in rows
    ]


def reports(model: TenantModel) -> list[GraphQLContribution]:
    if not {"invoice", "payment"} <= set(model.entities):
        return []
    return [
        GraphQLContribution("receivablesAging", receivables_aging_field, entity="invoice"),
        GraphQLContribution("cashFlow", cash_flow_field, entity="invoice"),
    ]
