"""Business calendar and timer arithmetic in a tenant's time zone.

Timers and reminders (D6) are scheduled "N minutes / hours / days / business
days after" a moment, and "today", "tomorrow" and "overdue" mean the tenant's
local day (D10). These pure functions give those phrases one meaning:

* Every datetime going in must be timezone-aware (a naive one is a
  ``ValueError``: its zone would be a guess); every datetime coming out is in
  UTC. Dates are read in the tenant's IANA zone.
* ``minutes`` / ``hours`` are exact elapsed time, computed in UTC: a daylight
  saving change does not stretch "3 hours" into two or four.
* ``days`` are calendar days in the tenant zone, keeping the local wall-clock
  time (09:00 stays 09:00 across a DST change).
* ``business_days`` step day by day in the tenant zone, skipping the weekend
  and the country's public holidays, keeping the local time of day. ``0``
  means "this day if it is a business day, else the next one"; a negative
  amount goes backwards ("3 business days before the contract ends").
* ``at`` replaces the result's local time of day after the day arithmetic
  (reminders at 09:00 local time); with ``minutes`` / ``hours`` the elapsed
  time is added first and ``at`` is applied to the local day it lands on.
* A local time that does not exist (the spring-forward gap) moves forward to
  the first valid instant, the moment the clocks jump; an ambiguous one (the
  autumn overlap) takes its first occurrence (``fold=0``).
* Holidays come from the ``holidays`` package, one country and year at a time,
  cached, so a calendar expands lazily to any year it is asked about.
  Official make-up working days that fall on a weekend (China's 调休, e.g.
  Sunday 2026-09-20 and Saturday 2026-10-10 around National Day) are published
  by the package as ``weekend_workdays`` and count as business days here; a
  day that is both a make-up day and a holiday is a holiday. An unknown
  country code is a ``ValueError`` (``validate_country`` gives the message).
  Holiday names are in US English where the package has them, else in the
  country's language, whatever the server's locale.
* ``calendar_for`` takes the weekend from the country's entry in the package
  (Friday/Saturday in Saudi Arabia, Saturday/Sunday in most places); a
  calendar without a country has a Saturday/Sunday weekend. Historical
  weekend changes (Saudi Arabia before 2013) are not modelled.
* Bounds keep a bad configuration from spinning: ``|amount| <= 3650`` for
  ``days`` / ``business_days`` and ``<= 10**6`` for ``minutes`` / ``hours``.
  Business days are counted on per-year tables of business-day ordinals, so a
  3650-business-day step costs a few table look-ups, not 5,000 day checks.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import MAXYEAR, MINYEAR, UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING, Literal, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays

if TYPE_CHECKING:
    from core.metadata import TenantModel

__all__ = [
    "MAX_DAYS",
    "MAX_ELAPSED",
    "BusinessCalendar",
    "Unit",
    "calendar_for",
    "validate_country",
]

Unit = Literal["minutes", "hours", "days", "business_days"]
Which = Literal["today", "tomorrow"]

MAX_DAYS = 3650
"""Largest ``|amount|`` for ``days`` and ``business_days`` (ten years)."""
MAX_ELAPSED = 10**6
"""Largest ``|amount|`` for ``minutes`` and ``hours``."""

_UNITS: frozenset[str] = frozenset(get_args(Unit))
_SAT_SUN: frozenset[int] = frozenset({5, 6})


# --------------------------------------------------------------------------- countries


@lru_cache(maxsize=1)
def _supported_countries() -> frozenset[str]:
    # The package also lists alpha-3 aliases (``CHN``); tenants speak alpha-2.
    return frozenset(code for code in holidays.list_supported_countries() if len(code) == 2)


def validate_country(code: object) -> str | None:
    """Return why ``code`` is not a usable country for a business calendar, or None.

    Config validation reports the message at the tenant's ``/country``; the
    calendar raises it as a ``ValueError``.
    """
    if not isinstance(code, str):
        return f"country must be an ISO 3166-1 alpha-2 code such as 'ES', not {code!r}"
    if len(code) != 2 or not code.isascii() or not code.isalpha() or not code.isupper():
        return f"country {code!r} is not an upper-case ISO 3166-1 alpha-2 code such as 'ES'"
    if code not in _supported_countries():
        return f"country {code!r} has no public-holiday calendar; use a supported ISO 3166-1 alpha-2 code"
    return None


def _country_weekend(country: str) -> frozenset[int]:
    return frozenset(holidays.country_holidays(country).weekend)


@lru_cache(maxsize=512)
def _names_language(country: str) -> str:
    # Without an explicit language the package translates names by the
    # process's LANG / LC_* variables: the same tenant would read "国庆节" on
    # one server and "National Day" on another.
    entity = holidays.country_holidays(country)
    return "en_US" if "en_US" in entity.supported_languages else str(entity.default_language)


@dataclass(frozen=True, slots=True)
class _Year:
    """One country's public holidays and weekend make-up working days in one year."""

    holidays: Mapping[date, str]
    workdays: frozenset[date]


@lru_cache(maxsize=4096)
def _country_year(country: str, year: int) -> _Year:
    # A fresh object per year: the package populates years on demand, and a
    # shared object would grow with every year any tenant ever asked about.
    found = holidays.country_holidays(country, years=year, language=_names_language(country))
    return _Year(
        holidays={day: name for day, name in found.items() if day.year == year},
        # Cross-year make-up days are known to every instance; keep this year's.
        workdays=frozenset(day for day in found.weekend_workdays if day.year == year),
    )


def _is_business_day(country: str | None, weekend: frozenset[int], day: date) -> bool:
    if country is None:
        return day.weekday() not in weekend
    table = _country_year(country, day.year)
    if day in table.holidays:
        return False
    return day.weekday() not in weekend or day in table.workdays


@lru_cache(maxsize=4096)
def _business_ordinals(country: str | None, weekend: frozenset[int], year: int) -> tuple[int, ...]:
    """Sorted ordinals of the business days in ``year``: stepping becomes indexing."""
    first = date(year, 1, 1).toordinal()
    last = date(year, 12, 31).toordinal()
    return tuple(
        n for n in range(first, last + 1) if _is_business_day(country, weekend, date.fromordinal(n))
    )


def _shift_business_days(
    country: str | None, weekend: frozenset[int], start: date, amount: int
) -> date:
    """The business day ``amount`` business days from ``start`` (0: ``start`` or the next)."""
    year = start.year
    days = _business_ordinals(country, weekend, year)
    ordinal = start.toordinal()
    if amount >= 0:
        # Index of the first business day on/after (amount 0) or after start.
        index = (bisect_left if amount == 0 else bisect_right)(days, ordinal) + max(amount - 1, 0)
        while index >= len(days):
            index -= len(days)
            year += 1
            days = _business_ordinals(country, weekend, _checked_year(year))
    else:
        index = bisect_left(days, ordinal) + amount  # last business day before start is -1
        while index < 0:
            year -= 1
            days = _business_ordinals(country, weekend, _checked_year(year))
            index += len(days)
    return date.fromordinal(days[index])


def _checked_year(year: int) -> int:
    if not MINYEAR <= year <= MAXYEAR:
        raise OverflowError(f"year {year} is out of range")
    return year


# --------------------------------------------------------------------------- local time


def _require_aware(moment: datetime, name: str) -> None:
    if not isinstance(moment, datetime):
        raise ValueError(f"{name} must be a timezone-aware datetime, not {type(moment).__name__}")
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware; got naive {moment.isoformat()}")


def _local_instant(day: date, wall: time, zone: ZoneInfo) -> datetime:
    """The UTC instant of local ``day`` at ``wall``: gaps move forward, overlaps take fold=0."""
    naive = datetime.combine(day, wall.replace(tzinfo=None, fold=0))
    first = naive.replace(tzinfo=zone)  # fold=0: the earlier of two ambiguous instants
    instant = first.astimezone(UTC)
    if instant.astimezone(zone).replace(tzinfo=None) == naive:
        return instant
    return _gap_end(naive, zone)


def _gap_end(naive: datetime, zone: ZoneInfo) -> datetime:
    """The instant the clocks jump past the non-existent local time ``naive``.

    In a gap, fold=0 reads ``naive`` with the offset before the jump and fold=1
    with the offset after it; the transition lies between the two readings.
    zoneinfo does not expose its transitions, so search the whole seconds.
    """
    before = naive.replace(tzinfo=zone, fold=0).utcoffset()
    after = naive.replace(tzinfo=zone, fold=1).utcoffset()
    assert before is not None and after is not None
    low = math.floor((naive - after).replace(tzinfo=UTC).timestamp())  # still the old offset
    high = math.ceil((naive - before).replace(tzinfo=UTC).timestamp())  # already the new one
    while high - low > 1:
        middle = (low + high) // 2
        if datetime.fromtimestamp(middle, UTC).astimezone(zone).utcoffset() == before:
            low = middle
        else:
            high = middle
    return datetime.fromtimestamp(high, UTC)


def _check_amount(amount: int, unit: str) -> None:
    if unit not in _UNITS:
        raise ValueError(f"unknown unit {unit!r}; expected one of {sorted(_UNITS)}")
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise ValueError(f"amount must be an integer, not {amount!r}")
    bound = MAX_DAYS if unit in ("days", "business_days") else MAX_ELAPSED
    if abs(amount) > bound:
        raise ValueError(f"amount {amount} {unit} is out of range (at most {bound} either way)")


# --------------------------------------------------------------------------- the calendar


@dataclass(frozen=True, slots=True)
class BusinessCalendar:
    """A tenant's time zone, public holidays and weekend; see the module docstring."""

    timezone: str
    country: str | None
    weekend: frozenset[int] = _SAT_SUN

    def __post_init__(self) -> None:
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError, TypeError) as exc:
            raise ValueError(f"unknown time zone {self.timezone!r}; use an IANA name") from exc
        if self.country is not None and (problem := validate_country(self.country)):
            raise ValueError(problem)
        if not isinstance(self.weekend, frozenset) or not self.weekend <= frozenset(range(7)):
            raise ValueError(
                f"weekend must be a frozenset of weekday numbers 0-6, not {self.weekend!r}"
            )
        if len(self.weekend) == 7:
            raise ValueError("weekend cannot cover the whole week: no day would be a business day")

    def zone(self) -> ZoneInfo:
        """The tenant's zone (``ZoneInfo`` caches instances per name)."""
        return ZoneInfo(self.timezone)

    def is_holiday(self, day: date) -> bool:
        """Whether ``day`` is a public holiday (observed days included) in the country."""
        return self.holiday_name(day) is not None

    def holiday_name(self, day: date) -> str | None:
        """The holiday's name from the ``holidays`` package, or None.

        In US English where the package has it, else in the country's own
        language; never in the language of the server's locale.
        """
        _require_date(day)
        if self.country is None:
            return None
        return _country_year(self.country, day.year).holidays.get(day)

    def is_business_day(self, day: date) -> bool:
        """Not a holiday, and either not on the weekend or an official make-up working day."""
        _require_date(day)
        return _is_business_day(self.country, self.weekend, day)

    def add(self, start: datetime, amount: int, unit: Unit, *, at: time | None = None) -> datetime:
        """``start`` moved by ``amount`` ``unit``, in UTC; ``at`` sets the local time of day."""
        _require_aware(start, "start")
        _check_amount(amount, unit)
        if at is not None and (not isinstance(at, time) or at.tzinfo is not None):
            raise ValueError(f"at must be a local time of day without a zone, not {at!r}")
        zone = self.zone()
        try:
            if unit in ("minutes", "hours"):
                elapsed = (
                    timedelta(minutes=amount) if unit == "minutes" else timedelta(hours=amount)
                )
                moment = start.astimezone(UTC) + elapsed
                if at is None:
                    return moment
                return _local_instant(moment.astimezone(zone).date(), at, zone)
            local = start.astimezone(zone)
            if unit == "days":
                day = local.date() + timedelta(days=amount)
            else:
                day = _shift_business_days(self.country, self.weekend, local.date(), amount)
            return _local_instant(day, at if at is not None else local.time(), zone)
        except OverflowError as exc:
            # Before year 1 or after 9999.
            raise ValueError(
                f"{start.isoformat()} + {amount} {unit} is outside the supported date range"
            ) from exc

    def local_day_bounds(self, now: datetime, which: Which) -> tuple[datetime, datetime]:
        """``[start, end)`` in UTC of the tenant's local today or tomorrow.

        A day is not always 24 hours: it is 23 or 25 across a DST change, and
        where the clocks jump at midnight the day starts at the first valid
        instant after it.
        """
        _require_aware(now, "now")
        if which not in ("today", "tomorrow"):
            raise ValueError(f"which must be 'today' or 'tomorrow', not {which!r}")
        zone = self.zone()
        day = now.astimezone(zone).date() + timedelta(days=1 if which == "tomorrow" else 0)
        return (
            _local_instant(day, time(0), zone),
            _local_instant(day + timedelta(days=1), time(0), zone),
        )

    def start_of_local_day(self, now: datetime) -> datetime:
        """When the tenant's local day containing ``now`` began, in UTC ("overdue" is before it)."""
        return self.local_day_bounds(now, "today")[0]


def _require_date(day: date) -> None:
    # A datetime is a date too, but it would never equal a holiday's key: make
    # the caller say which local day it means.
    if isinstance(day, datetime) or not isinstance(day, date):
        raise ValueError(f"expected a local date, not {day!r}")


@lru_cache(maxsize=256)
def _calendar(timezone: str, country: str | None) -> BusinessCalendar:
    weekend = (
        _SAT_SUN if country is None or validate_country(country) else _country_weekend(country)
    )
    return BusinessCalendar(timezone=timezone, country=country, weekend=weekend)


def calendar_for(model: TenantModel) -> BusinessCalendar:
    """The business calendar of a tenant, shared by tenants with the same zone and country."""
    return _calendar(model.timezone, model.country)
