"""Sales reports: weighted forecast, rep and department performance, quota and commission.

Every record is read through the service with the caller's context, so a
report covers only what the caller may read (record scope, hidden fields).
Money is summed exactly in ``Decimal`` and rounded once per figure to the
currency's minor unit (half up); amounts in another currency than the
tenant's are reported in their own rows (forecast) or left out (others).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from babel.numbers import get_currency_precision

from core.context import CallContext
from core.query import And, Condition, Filter
from plugins.sales.settings import pipelines, sales_settings

__all__ = [
    "CommissionRow",
    "ForecastRow",
    "PerformanceRow",
    "commission",
    "forecast",
    "performance",
    "period_bounds",
    "period_key",
    "weighted",
]

_HUNDRED = Decimal(100)


def period_key(day: date, period: str) -> str:
    """``2025-03`` for a month, ``2025-Q1`` for a quarter."""
    if period == "quarter":
        return f"{day.year}-Q{(day.month - 1) // 3 + 1}"
    return f"{day.year}-{day.month:02d}"


def period_bounds(day: date, period: str) -> tuple[date, date]:
    """First and last day of the month or quarter holding ``day``."""
    first_month = day.month if period == "month" else 3 * ((day.month - 1) // 3) + 1
    start = date(day.year, first_month, 1)
    months = 1 if period == "month" else 3
    year, month = divmod(first_month - 1 + months, 12)
    return start, date(day.year + year, month + 1, 1) - timedelta(days=1)


def rounded(amount: Decimal, currency: str) -> Decimal:
    return amount.quantize(Decimal(1).scaleb(-get_currency_precision(currency)), ROUND_HALF_UP)


def weighted(amount: Decimal, probability: Decimal | None) -> Decimal:
    """An opportunity's expected value, exact (no rounding)."""
    return amount * (probability or Decimal(0)) / _HUNDRED


def _between(field_key: str, start: date | None, end: date | None) -> list[Filter]:
    out: list[Filter] = []
    if start is not None:
        out.append(Condition(field_key, "gte", start))
    if end is not None:
        out.append(Condition(field_key, "lte", end))
    return out


def _and(items: list[Filter]) -> Filter | None:
    return None if not items else items[0] if len(items) == 1 else And(tuple(items))


# -- forecast ---------------------------------------------------------------------


@dataclass(slots=True)
class ForecastRow:
    period: str
    owner: str | None
    currency: str
    count: int = 0
    amount: Decimal = Decimal(0)
    weighted: Decimal = Decimal(0)


async def forecast(
    ctx: CallContext, period: str, start: date | None, end: date | None, owner: str | None
) -> list[ForecastRow]:
    """Opportunities by close-date period, owner and currency: their amount and
    weighted amount (amount × probability), rounded once per row."""
    flt = _between("close_date", start, end)
    if owner:
        flt.append(Condition("owner", "eq", owner))
    rows: dict[tuple[str, str | None, str], ForecastRow] = {}
    async for opp in ctx.extra["service"].iterate(ctx, "opportunity", _and(flt)):
        money = opp.data.get("amount")
        close = opp.data.get("close_date")
        if not money or close is None:
            continue
        key = (period_key(close, period), opp.data.get("owner"), money["currency"])
        row = rows.setdefault(key, ForecastRow(*key))
        row.count += 1
        row.amount += money["amount"]
        row.weighted += weighted(money["amount"], opp.data.get("probability"))
    out = sorted(rows.values(), key=lambda r: (r.period, r.owner or "", r.currency))
    for row in out:
        row.amount = rounded(row.amount, row.currency)
        row.weighted = rounded(row.weighted, row.currency)
    return out


# -- performance ------------------------------------------------------------------


@dataclass(slots=True)
class PerformanceRow:
    key: str  # a user id, or a department key
    activities: dict[str, int] = field(default_factory=dict)
    new_customers: set[str] = field(default_factory=set)
    existing_customers: set[str] = field(default_factory=set)
    won_count: int = 0
    lost_count: int = 0
    won_amount: Decimal = Decimal(0)
    days_to_close: list[int] = field(default_factory=list)

    @property
    def win_rate(self) -> Decimal | None:
        closed = self.won_count + self.lost_count
        return (
            None
            if not closed
            else (Decimal(self.won_count) * _HUNDRED / closed).quantize(
                Decimal("0.1"), ROUND_HALF_UP
            )
        )

    @property
    def average_days_to_close(self) -> Decimal | None:
        if not self.days_to_close:
            return None
        mean = Decimal(sum(self.days_to_close)) / len(self.days_to_close)
        return mean.quantize(Decimal("0.1"), ROUND_HALF_UP)


def _local(moment: datetime, tz: ZoneInfo) -> date:
    return moment.astimezone(tz).date()


def outcomes(ctx: CallContext) -> dict[str, str]:
    """Stage -> outcome (open, won, lost) over every pipeline of the tenant."""
    return {s.stage: s.outcome for stages in pipelines(ctx.model).values() for s in stages}


async def _departments(ctx: CallContext) -> dict[str, str]:
    """User id -> department key, from ``settings.sales.departments``."""
    spec: Mapping[str, Any] = sales_settings(ctx.model).get("departments") or {}
    emails = [e for d in spec.values() for e in d.get("members") or ()]
    users = await ctx.extra["service"].users_by_email(ctx, emails)
    out: dict[str, str] = {}
    for key, d in spec.items():
        for email in d.get("members") or ():
            user = users.get(str(email).strip().lower())
            if user is not None:
                out.setdefault(user["id"], key)
    return out


async def performance(
    ctx: CallContext, start: date, end: date, by_department: bool
) -> list[PerformanceRow]:
    """Activities by kind, customers contacted (new in the period or existing), won
    and lost opportunities, won amount, win rate and days to close, per rep or department."""
    tz = ZoneInfo(ctx.model.timezone)
    departments = await _departments(ctx) if by_department else {}

    def group(owner: str | None) -> str | None:
        if not by_department:
            return owner
        return departments.get(owner or "")

    rows: dict[str, PerformanceRow] = {}
    contacted: dict[str, set[str]] = defaultdict(set)
    async for act in ctx.extra["service"].iterate(ctx, "activity", Condition("done", "eq", True)):
        when = act.data.get("due_at") or act.created_at
        if not start <= _local(when, tz) <= end:
            continue
        key = group(act.data.get("owner"))
        if key is None:
            continue
        row = rows.setdefault(key, PerformanceRow(key))
        kind = str(act.data.get("kind"))
        row.activities[kind] = row.activities.get(kind, 0) + 1
        if act.data.get("account"):
            contacted[key].add(act.data["account"])
    accounts = await ctx.extra["service"].get_many(
        ctx, "account", sorted({a for ids in contacted.values() for a in ids})
    )
    for key, ids in contacted.items():
        for account_id in ids:
            account = accounts.get(account_id)
            if account is None:
                continue  # outside the caller's scope
            is_new = start <= _local(account.created_at, tz) <= end
            (rows[key].new_customers if is_new else rows[key].existing_customers).add(account_id)
    stage_outcomes = outcomes(ctx)
    currency = ctx.model.currency
    closed = _and(_between("closed_on", start, end))
    async for opp in ctx.extra["service"].iterate(ctx, "opportunity", closed):
        outcome = stage_outcomes.get(str(opp.data.get("stage")), "open")
        key = group(opp.data.get("owner"))
        if key is None or outcome == "open" or opp.data.get("closed_on") is None:
            continue
        row = rows.setdefault(key, PerformanceRow(key))
        if outcome == "lost":
            row.lost_count += 1
            continue
        row.won_count += 1
        money = opp.data.get("amount")
        if money and money["currency"] == currency:
            row.won_amount += money["amount"]
        row.days_to_close.append((opp.data["closed_on"] - _local(opp.created_at, tz)).days)
    for row in rows.values():
        row.won_amount = rounded(row.won_amount, currency)
    return sorted(rows.values(), key=lambda r: r.key)


# -- quota and commission ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CommissionRow:
    owner: str
    period: str
    won_amount: Decimal
    quota: Decimal | None
    attainment: Decimal | None  # percent of quota
    commission: Decimal


def commission_for(
    won: Decimal, quota: Decimal | None, rate: Decimal, accelerated: Decimal | None
) -> Decimal:
    """``rate`` % of the won amount; above the quota, ``accelerated`` % of the excess."""
    if quota is None or accelerated is None or won <= quota:
        return won * rate / _HUNDRED
    return quota * rate / _HUNDRED + (won - quota) * accelerated / _HUNDRED


async def commission(
    ctx: CallContext, day: date, owners: Iterable[str] = ()
) -> list[CommissionRow]:
    """Per rep, for the quota period holding ``day``: won amount, quota, attainment, commission."""
    settings = sales_settings(ctx.model)
    quotas: Mapping[str, Any] = settings.get("quotas") or {"period": "month"}
    rule: Mapping[str, Any] = settings.get("commission") or {"rate": "0"}
    period = str(quotas.get("period", "month"))
    start, end = period_bounds(day, period)
    rows = await performance(ctx, start, end, by_department=False)
    users = await ctx.extra["service"].users_by_email(ctx, list(quotas.get("users") or ()))
    per_user = {
        users[e.strip().lower()]["id"]: Decimal(str(v))
        for e, v in (quotas.get("users") or {}).items()
        if e.strip().lower() in users
    }
    default = Decimal(str(quotas["default"])) if quotas.get("default") else None
    rate = Decimal(str(rule["rate"]))
    accelerated = Decimal(str(rule["accelerated_rate"])) if rule.get("accelerated_rate") else None
    currency = ctx.model.currency
    won = {r.key: r.won_amount for r in rows if r.won_count}
    wanted = list(dict.fromkeys([*won, *per_user, *owners]))
    out: list[CommissionRow] = []
    for owner in wanted:
        amount = won.get(owner, Decimal(0))
        quota = per_user.get(owner, default)
        attainment = (
            (amount * _HUNDRED / quota).quantize(Decimal("0.1"), ROUND_HALF_UP) if quota else None
        )
        out.append(
            CommissionRow(
                owner=owner,
                period=period_key(start, period),
                won_amount=amount,
                quota=quota,
                attainment=attainment,
                commission=rounded(commission_for(amount, quota, rate, accelerated), currency),
            )
        )
    return sorted(out, key=lambda r: r.owner)
