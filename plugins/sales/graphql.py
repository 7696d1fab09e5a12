"""The sales plugin's GraphQL: ``findDuplicates``, ``convertLead`` and the reports.

Resolvers read and write only through ``info.context.service`` as
``info.context.call``: the caller's roles, record scope and field access
apply to everything they return.
"""

from __future__ import annotations

import enum
from datetime import date
from decimal import Decimal
from typing import Annotated, Any

import strawberry

from core.context import CallContext
from core.errors import Problem, ValidationFailed
from core.graphql.context import call_context
from core.hookspecs import GraphQLContribution
from core.metadata import TenantModel
from plugins.sales.conversion import convert_lead
from plugins.sales.duplicates import DUPLICATE_ENTITIES, find_candidates
from plugins.sales.pipeline import local_date
from plugins.sales.reports import commission, forecast, performance
from plugins.sales.settings import duplicate_settings, sales_settings

__all__ = ["actions", "reports"]


@strawberry.enum(name="DuplicateEntity", description="Entities the duplicate check covers.")
class DuplicateEntity(enum.Enum):
    ACCOUNT = "account"
    CONTACT = "contact"
    LEAD = "lead"


@strawberry.input(name="DuplicateValues", description="The values of a record to check.")
class DuplicateValues:
    name: str | None = None
    company: str | None = None
    phone: str | None = None
    mobile: str | None = None
    email: str | None = None
    website: str | None = None
    account: strawberry.ID | None = None


@strawberry.type(name="DuplicateCandidate", description="An existing record that may be the same.")
class DuplicateCandidate:
    id: strawberry.ID
    entity: str
    title: str
    score: float = strawberry.field(description="0-100; the tenant's threshold decides.")
    reasons: list[str] = strawberry.field(
        description="What matched: NAME_SAME, NAME_SAME_PINYIN, NAME_SIMILAR, PHONE, EMAIL, "
        "EMAIL_DOMAIN."
    )


@strawberry.field(
    description="Existing records (that you may read) which may duplicate these values, best "
    "first. With entity LEAD, matching accounts are listed too."
)
async def find_duplicates(
    info: strawberry.Info,
    entity: DuplicateEntity,
    values: DuplicateValues,
    min_score: float | None = None,
) -> list[DuplicateCandidate]:
    ctx = call_context(info)
    _mode, threshold, _free = duplicate_settings(ctx.model)
    probe: dict[str, Any] = {
        k: v for k, v in vars(values).items() if v is not None and v is not strawberry.UNSET
    }
    if not any(probe.get(k) for k in ("name", "company", "phone", "mobile", "email", "website")):
        raise ValidationFailed(
            "give at least a name, a phone or an email",
            [Problem("REQUIRED", "nothing to compare", "values")],
        )
    minimum = threshold if min_score is None else min_score
    found = await find_candidates(ctx, entity.value, probe, minimum=minimum)
    if entity is DuplicateEntity.LEAD:
        found += await find_candidates(ctx, "account", probe, probe_entity="lead", minimum=minimum)
        found.sort(key=lambda c: -c.score)
    return [
        DuplicateCandidate(
            id=strawberry.ID(c.record.id),
            entity=c.record.entity,
            title=str(c.record.data.get("name") or c.record.data.get("company") or ""),
            score=round(c.score, 1),
            reasons=list(c.reasons),
        )
        for c in found
    ]


@strawberry.type(name="LeadConversion", description="What converting a lead made or reused.")
class LeadConversion:
    lead_id: strawberry.ID
    account_id: strawberry.ID
    contact_id: strawberry.ID
    opportunity_id: strawberry.ID | None
    account_reused: bool = strawberry.field(
        description="An existing account was used instead of creating a duplicate."
    )
    contact_reused: bool
    matched_by: list[str] = strawberry.field(
        description="Why the account was reused: CHOSEN, MATCHED_ON_CREATE or match reasons."
    )


@strawberry.field(
    description="Convert a lead into an account, a contact and an opportunity, reusing a "
    "matching account; all or nothing."
)
async def convert_lead_field(
    info: strawberry.Info,
    id: strawberry.ID,
    account_id: strawberry.ID | None = None,
    create_opportunity: bool = True,
    opportunity_name: str | None = None,
    amount: Decimal | None = None,
    close_date: date | None = None,
) -> LeadConversion:
    ctx = call_context(info)
    done = await convert_lead(
        ctx,
        str(id),
        account_id=str(account_id) if account_id else None,
        create_opportunity=create_opportunity,
        opportunity_name=opportunity_name,
        amount=amount,
        close_date=close_date,
    )
    return LeadConversion(
        lead_id=strawberry.ID(done.lead.id),
        account_id=strawberry.ID(done.account.id),
        contact_id=strawberry.ID(done.contact.id),
        opportunity_id=strawberry.ID(done.opportunity.id) if done.opportunity else None,
        account_reused=done.account_reused,
        contact_reused=done.contact_reused,
        matched_by=list(done.matched_by),
    )


# -- reports -------------------------------------------------------------------------


@strawberry.enum(name="SalesPeriod", description="A forecast or quota period.")
class SalesPeriod(enum.Enum):
    MONTH = "month"
    QUARTER = "quarter"


@strawberry.enum(name="SalesGrouping", description="Rows per rep or per department.")
class SalesGrouping(enum.Enum):
    REP = "rep"
    DEPARTMENT = "department"


@strawberry.type(name="SalesUser", description="A user a report row belongs to.")
class SalesUser:
    id: strawberry.ID
    email: str
    name: str


@strawberry.type(name="ForecastRow", description="Opportunities closing in one period.")
class ForecastRowType:
    period: str = strawberry.field(description="2025-03 (month) or 2025-Q1 (quarter).")
    owner: SalesUser | None
    currency: str
    count: int
    amount: Decimal = strawberry.field(description="The sum of the amounts.")
    weighted_amount: Decimal = strawberry.field(
        description="The sum of amount × probability / 100, rounded once."
    )


@strawberry.type(name="ActivityCount")
class ActivityCount:
    kind: str
    count: int


@strawberry.type(name="PerformanceRow", description="What a rep or department did in a period.")
class PerformanceRowType:
    key: str = strawberry.field(description="The user id, or the department key.")
    label: str
    activities: list[ActivityCount]
    new_customers_contacted: int = strawberry.field(
        description="Accounts created in the period that a logged activity touched."
    )
    existing_customers_contacted: int
    won_count: int
    lost_count: int
    won_amount: Decimal = strawberry.field(description="In the tenant's currency.")
    win_rate: Decimal | None = strawberry.field(description="Won / (won + lost), percent.")
    average_days_to_close: Decimal | None = strawberry.field(
        description="From creation to closing, over won opportunities."
    )


@strawberry.type(name="CommissionRow", description="Quota attainment and commission of a rep.")
class CommissionRowType:
    owner: SalesUser | None
    period: str
    won_amount: Decimal
    quota: Decimal | None
    attainment: Decimal | None = strawberry.field(description="Percent of the quota.")
    commission: Decimal


async def _users(ctx: CallContext, ids: list[str | None]) -> dict[str, SalesUser]:
    found = await ctx.extra["service"].user_names(ctx, [i for i in ids if i])
    return {
        uid: SalesUser(id=strawberry.ID(uid), email=u["email"], name=u["name"])
        for uid, u in found.items()
    }


@strawberry.field(
    description="Weighted pipeline by close-date period and owner (opportunities you may read)."
)
async def sales_forecast(
    info: strawberry.Info,
    period: SalesPeriod | None = None,
    from_: Annotated[date | None, strawberry.argument(name="from")] = None,
    to: date | None = None,
    owner_id: strawberry.ID | None = None,
) -> list[ForecastRowType]:
    ctx = call_context(info)
    unit = (period or SalesPeriod.MONTH).value
    rows = await forecast(ctx, unit, from_, to, str(owner_id) if owner_id else None)
    users = await _users(ctx, [r.owner for r in rows])
    return [
        ForecastRowType(
            period=r.period,
            owner=users.get(r.owner or ""),
            currency=r.currency,
            count=r.count,
            amount=r.amount,
            weighted_amount=r.weighted,
        )
        for r in rows
    ]


@strawberry.field(
    description="Activities, customers contacted, won and lost business per rep or department."
)
async def sales_performance(
    info: strawberry.Info,
    from_: Annotated[date, strawberry.argument(name="from")],
    to: date,
    group_by: SalesGrouping | None = None,
) -> list[PerformanceRowType]:
    ctx = call_context(info)
    by_department = group_by is SalesGrouping.DEPARTMENT
    rows = await performance(ctx, from_, to, by_department)
    labels: dict[str, str] = {}
    if by_department:
        spec = sales_settings(ctx.model).get("departments") or {}
        labels = {
            k: ctx.model.label(d.get("label") or {"en": k}, ctx.locale) for k, d in spec.items()
        }
    else:
        users = await _users(ctx, [r.key for r in rows])
        labels = {k: u.name or u.email for k, u in users.items()}
    return [
        PerformanceRowType(
            key=r.key,
            label=labels.get(r.key, r.key),
            activities=[ActivityCount(kind=k, count=n) for k, n in sorted(r.activities.items())],
            new_customers_contacted=len(r.new_customers),
            existing_customers_contacted=len(r.existing_customers),
            won_count=r.won_count,
            lost_count=r.lost_count,
            won_amount=r.won_amount,
            win_rate=r.win_rate,
            average_days_to_close=r.average_days_to_close,
        )
        for r in rows
    ]


@strawberry.field(
    description="Quota attainment and commission per rep for the quota period holding 'date' "
    "(today in the tenant's time zone by default)."
)
async def sales_commission(
    info: strawberry.Info, date_: Annotated[date | None, strawberry.argument(name="date")] = None
) -> list[CommissionRowType]:
    ctx = call_context(info)
    rows = await commission(ctx, date_ or local_date(ctx))
    users = await _users(ctx, [r.owner for r in rows])
    return [
        CommissionRowType(
            owner=users.get(r.owner),
            period=r.period,
            won_amount=r.won_amount,
            quota=r.quota,
            attainment=r.attainment,
            commission=r.commission,
        )
        for r in rows
    ]


def actions(model: TenantModel) -> list[GraphQLContribution]:
    if "lead" not in model.entities:
        return []
    return [
        GraphQLContribution(
            "convertLead",
            convert_lead_field,
            entity="lead",
            record_action=True,
            label={
                "en": "Convert lead",
                "zh-CN": "转化线索",
                "es-ES": "Convertir cliente potencial",
                "tl-PH": "I-convert ang lead",
            },
        )
    ]


def reports(model: TenantModel) -> list[GraphQLContribution]:
    out: list[GraphQLContribution] = []
    if all(e in model.entities for e in DUPLICATE_ENTITIES):
        out.append(GraphQLContribution("findDuplicates", find_duplicates, entity="account"))
    if "opportunity" in model.entities:
        out += [
            GraphQLContribution("salesForecast", sales_forecast, entity="opportunity"),
            GraphQLContribution("salesPerformance", sales_performance, entity="opportunity"),
            GraphQLContribution("salesCommission", sales_commission, entity="opportunity"),
        ]
    return out
