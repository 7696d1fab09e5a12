"""Business calendar: business days, DST-safe day arithmetic, local days, bounds."""

from __future__ import annotations

import time as clock
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import holidays
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from core.metadata import build_tenant_model
from core.workflow import calendar as calendar_module
from core.workflow.calendar import (
    MAX_DAYS,
    MAX_ELAPSED,
    BusinessCalendar,
    calendar_for,
    validate_country,
)

SHANGHAI = BusinessCalendar("Asia/Shanghai", "CN")
MADRID = BusinessCalendar("Europe/Madrid", "ES")
MANILA = BusinessCalendar("Asia/Manila", "PH")
NEW_YORK = BusinessCalendar("America/New_York", "US")
RIYADH = BusinessCalendar("Asia/Riyadh", "SA", weekend=frozenset({4, 5}))
PLAIN = BusinessCalendar("UTC", None)
CALENDARS = st.sampled_from([SHANGHAI, MADRID, MANILA, NEW_YORK, RIYADH, PLAIN])

# Zones with DST in both hemispheres, a 30-minute shift, a skipped day and a
# midnight transition.
DST_ZONES = st.sampled_from(
    [
        "America/New_York",
        "Europe/Madrid",
        "Australia/Lord_Howe",
        "America/Santiago",
        "Pacific/Apia",
        "Asia/Manila",
    ]
)


def moments(zones: st.SearchStrategy[str] = DST_ZONES) -> st.SearchStrategy[datetime]:
    """Aware datetimes 1995–2045 expressed in assorted zones (never imaginary)."""
    return st.datetimes(
        min_value=datetime(1995, 1, 1),
        max_value=datetime(2045, 12, 31),
        timezones=zones.map(ZoneInfo),
        allow_imaginary=False,
    )


def local(moment: datetime, cal: BusinessCalendar) -> datetime:
    return moment.astimezone(cal.zone())


def at_local(cal: BusinessCalendar, *args: int) -> datetime:
    return datetime(*args, tzinfo=cal.zone())  # type: ignore[misc]


def same_instant(a: datetime, b: datetime) -> bool:
    # Python never calls an ambiguous local time equal to a time in another zone.
    return a.astimezone(UTC) == b.astimezone(UTC)


def wall_exists(day: date, wall: time, zone: ZoneInfo) -> bool:
    naive = datetime.combine(day, wall.replace(tzinfo=None, fold=0))
    return naive.replace(tzinfo=zone).astimezone(UTC).astimezone(zone).replace(tzinfo=None) == naive


def business_days_between(cal: BusinessCalendar, low: date, high: date) -> int:
    """Business days in the half-open range (low, high], by the per-day rule."""
    return sum(
        cal.is_business_day(low + timedelta(days=i)) for i in range(1, (high - low).days + 1)
    )


# --------------------------------------------------------------------------- known days


def test_china_national_day_golden_week_is_skipped() -> None:
    result = SHANGHAI.add(at_local(SHANGHAI, 2026, 9, 30, 10), 1, "business_days")
    assert local(result, SHANGHAI) == at_local(SHANGHAI, 2026, 10, 8, 10)
    assert result.tzinfo is UTC
    for day in range(1, 8):
        assert not SHANGHAI.is_business_day(date(2026, 10, day))
    assert SHANGHAI.holiday_name(date(2026, 10, 1)) == "National Day"
    assert SHANGHAI.is_holiday(date(2026, 10, 7))  # a day off moved from Saturday 10 Oct
    back = SHANGHAI.add(at_local(SHANGHAI, 2026, 10, 8, 10), -1, "business_days")
    assert local(back, SHANGHAI) == at_local(SHANGHAI, 2026, 9, 30, 10)


def test_china_make_up_working_days_on_weekends_are_business_days() -> None:
    # The package publishes them as ``weekend_workdays``: Sun 20 Sep, Sat 10 Oct 2026.
    for day in (date(2026, 9, 20), date(2026, 10, 10), date(2026, 2, 14), date(2026, 2, 28)):
        assert day.weekday() >= 5
        assert SHANGHAI.is_business_day(day)
        assert not SHANGHAI.is_holiday(day)
    assert not SHANGHAI.is_business_day(date(2026, 9, 27))  # an ordinary Sunday
    saturday = SHANGHAI.add(at_local(SHANGHAI, 2026, 10, 9, 18), 1, "business_days")
    assert local(saturday, SHANGHAI) == at_local(SHANGHAI, 2026, 10, 10, 18)
    sunday = SHANGHAI.add(at_local(SHANGHAI, 2026, 9, 19, 9), 0, "business_days")
    assert local(sunday, SHANGHAI).date() == date(2026, 9, 20)


@pytest.mark.parametrize("cal", [SHANGHAI, MADRID, MANILA, NEW_YORK])
def test_business_days_agree_with_the_package_working_days(cal: BusinessCalendar) -> None:
    assert cal.country is not None
    oracle = holidays.country_holidays(cal.country, years=range(2018, 2031), language="en_US")
    day = date(2018, 1, 1)
    while day.year < 2031:
        assert cal.is_business_day(day) == oracle.is_working_day(day), day
        assert cal.holiday_name(day) == oracle.get(day), day
        day += timedelta(days=1)


def test_madrid_christmas_eve_plus_one_business_day_skips_christmas() -> None:
    result = MADRID.add(at_local(MADRID, 2026, 12, 24, 16, 30), 1, "business_days")
    assert local(result, MADRID) == at_local(MADRID, 2026, 12, 28, 16, 30)
    assert MADRID.holiday_name(date(2026, 12, 25)) == "Christmas Day"
    same = MADRID.add(at_local(MADRID, 2026, 12, 28, 8), 0, "business_days")
    assert local(same, MADRID) == at_local(MADRID, 2026, 12, 28, 8)
    moved = MADRID.add(at_local(MADRID, 2026, 12, 25, 8), 0, "business_days")
    assert local(moved, MADRID) == at_local(MADRID, 2026, 12, 28, 8)


def test_manila_rizal_day_and_new_year() -> None:
    assert MANILA.holiday_name(date(2026, 12, 30)) == "Rizal Day"
    result = MANILA.add(at_local(MANILA, 2026, 12, 29, 14), 1, "business_days")
    # Rizal Day, New Year's Eve, New Year's Day, then the weekend.
    assert local(result, MANILA) == at_local(MANILA, 2027, 1, 4, 14)


def test_manila_holy_week() -> None:
    assert MANILA.holiday_name(date(2026, 4, 2)) == "Maundy Thursday"
    assert MANILA.holiday_name(date(2026, 4, 3)) == "Good Friday"
    result = MANILA.add(at_local(MANILA, 2026, 4, 1, 14), 1, "business_days")
    assert local(result, MANILA) == at_local(MANILA, 2026, 4, 6, 14)
    back = MANILA.add(at_local(MANILA, 2026, 4, 6, 9), -2, "business_days")
    assert local(back, MANILA) == at_local(MANILA, 2026, 3, 31, 9)


def test_business_days_cross_year_boundaries_both_ways() -> None:
    start = at_local(PLAIN, 2026, 12, 31, 12)  # Thursday
    assert PLAIN.add(start, 2, "business_days") == at_local(PLAIN, 2027, 1, 4, 12)
    assert PLAIN.add(at_local(PLAIN, 2027, 1, 4, 12), -2, "business_days") == start
    # 2027 has 261 weekdays and ends on a Friday; leap 2028 has 260.
    assert PLAIN.add(start, 261, "business_days").date() == date(2027, 12, 31)
    assert PLAIN.add(start, 261 + 260, "business_days").date() == date(2028, 12, 29)


def test_holiday_names_do_not_follow_the_server_locale(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LANG", "es_ES.UTF-8")
    monkeypatch.setenv("LANGUAGE", "zh_CN")
    calendar_module._country_year.cache_clear()
    assert MADRID.holiday_name(date(2026, 12, 25)) == "Christmas Day"
    assert SHANGHAI.holiday_name(date(2026, 10, 1)) == "National Day"
    calendar_module._country_year.cache_clear()


def test_country_weekend_from_the_package() -> None:
    # Friday/Saturday weekend: Thursday + 1 business day is Sunday.
    result = RIYADH.add(at_local(RIYADH, 2026, 3, 5, 9), 1, "business_days")
    assert local(result, RIYADH) == at_local(RIYADH, 2026, 3, 8, 9)


# --------------------------------------------------------------------------- properties


@settings(deadline=None, max_examples=150)
@given(cal=CALENDARS, start=moments(), amount=st.integers(min_value=1, max_value=300))
@example(cal=SHANGHAI, start=datetime(2026, 9, 30, 2, tzinfo=UTC), amount=1)
def test_forward_business_days_count_exactly(
    cal: BusinessCalendar, start: datetime, amount: int
) -> None:
    result = cal.add(start, amount, "business_days")
    start_day, result_day = local(start, cal).date(), local(result, cal).date()
    assert result.tzinfo is UTC
    assert result_day > start_day
    assert cal.is_business_day(result_day)
    assert business_days_between(cal, start_day, result_day) == amount


@settings(deadline=None, max_examples=150)
@given(cal=CALENDARS, start=moments(), amount=st.integers(min_value=1, max_value=300))
def test_backward_business_days_count_exactly(
    cal: BusinessCalendar, start: datetime, amount: int
) -> None:
    result = cal.add(start, -amount, "business_days")
    start_day, result_day = local(start, cal).date(), local(result, cal).date()
    assert result_day < start_day
    assert cal.is_business_day(result_day)
    # Business days in [result, start): the result itself and those after it.
    assert (
        business_days_between(cal, result_day - timedelta(days=1), start_day - timedelta(days=1))
        == amount
    )


@settings(deadline=None)
@given(cal=CALENDARS, start=moments())
def test_zero_business_days_is_this_day_or_the_next_business_day(
    cal: BusinessCalendar, start: datetime
) -> None:
    result = cal.add(start, 0, "business_days")
    start_day, result_day = local(start, cal).date(), local(result, cal).date()
    assert cal.is_business_day(result_day)
    assert result_day >= start_day
    assert business_days_between(cal, start_day - timedelta(days=1), result_day) == 1
    if cal.is_business_day(start_day):
        assert same_instant(result, start)


@settings(deadline=None)
@given(
    cal=CALENDARS,
    start=moments(),
    amount=st.integers(min_value=-400, max_value=400),
    unit=st.sampled_from(["days", "business_days"]),
)
@example(cal=NEW_YORK, start=datetime(2026, 3, 7, 7, 30, tzinfo=UTC), amount=1, unit="days")
def test_day_units_keep_the_local_time_of_day(
    cal: BusinessCalendar, start: datetime, amount: int, unit: Any
) -> None:
    wall = local(start, cal).time()
    result = local(cal.add(start, amount, unit), cal)
    if wall_exists(result.date(), wall, cal.zone()):
        assert result.time() == wall.replace(fold=0)
    else:  # a spring-forward gap: the instant the clocks jump
        assert result.time() > wall
        earlier = (result.astimezone(UTC) - timedelta(seconds=1)).astimezone(cal.zone())
        assert earlier.utcoffset() != result.utcoffset()


@settings(deadline=None)
@given(start=moments(), amount=st.integers(min_value=-MAX_DAYS, max_value=MAX_DAYS), zone=DST_ZONES)
@example(start=datetime(2026, 3, 7, 7, 30, tzinfo=UTC), amount=1, zone="America/New_York")
@example(start=datetime(2026, 10, 31, 5, 30, tzinfo=UTC), amount=1, zone="America/New_York")
def test_days_then_back_returns_to_the_same_wall_clock(
    start: datetime, amount: int, zone: str
) -> None:
    cal = BusinessCalendar(zone, None)
    there = cal.add(start, amount, "days")
    back = cal.add(there, -amount, "days")
    before, after = local(start, cal), local(back, cal)
    target = before.date() + timedelta(days=amount)
    if wall_exists(target, before.time(), cal.zone()):
        assert local(there, cal).replace(tzinfo=None) == datetime.combine(target, before.time())
        assert after.replace(tzinfo=None, fold=0) == before.replace(tzinfo=None, fold=0)
        if before.fold == 0:  # an ambiguous start's second occurrence comes back as the first
            assert same_instant(back, start)


@given(
    start=moments(),
    amount=st.integers(min_value=-MAX_ELAPSED, max_value=MAX_ELAPSED),
    unit=st.sampled_from(["minutes", "hours"]),
    zone=DST_ZONES,
)
def test_minutes_and_hours_are_exact_elapsed_time(
    start: datetime, amount: int, unit: str, zone: str
) -> None:
    cal = BusinessCalendar(zone, None)
    result = cal.add(start, amount, unit)  # type: ignore[arg-type]
    assert result.tzinfo is UTC
    assert result - start == timedelta(**{unit: amount})


@settings(deadline=None)
@given(
    cal=CALENDARS,
    start=moments(),
    amount=st.integers(min_value=-100, max_value=100),
    unit=st.sampled_from(["minutes", "hours", "days", "business_days"]),
    at=st.times(),
)
@example(
    cal=NEW_YORK, start=datetime(2026, 3, 7, 12, tzinfo=UTC), amount=1, unit="days", at=time(2, 30)
)
@example(
    cal=MADRID, start=datetime(2026, 3, 28, 23, tzinfo=UTC), amount=5, unit="hours", at=time(2, 0)
)
def test_at_replaces_the_local_time_after_the_day_arithmetic(
    cal: BusinessCalendar, start: datetime, amount: int, unit: Any, at: time
) -> None:
    plain = local(cal.add(start, amount, unit), cal)
    timed = local(cal.add(start, amount, unit, at=at), cal)
    if wall_exists(plain.date(), at, cal.zone()):
        assert timed.date() == plain.date()
        assert timed.time() == at
    else:
        assert timed.replace(tzinfo=None) > datetime.combine(plain.date(), at)


# --------------------------------------------------------------------------- DST fixtures


def test_hours_across_dst_in_new_york_and_madrid() -> None:
    ny = NEW_YORK.zone()
    before_spring = datetime(2026, 3, 8, 0, 30, tzinfo=ny)
    assert local(NEW_YORK.add(before_spring, 3, "hours"), NEW_YORK) == datetime(
        2026, 3, 8, 4, 30, tzinfo=ny
    )
    madrid = MADRID.zone()
    before_autumn = datetime(2026, 10, 25, 1, 0, tzinfo=madrid)  # CEST
    three_later = local(MADRID.add(before_autumn, 3, "hours"), MADRID)
    assert three_later.replace(tzinfo=None) == datetime(2026, 10, 25, 3, 0)
    # A calendar day across the same change is 25 hours, and keeps the wall clock.
    next_day = MADRID.add(before_autumn, 1, "days")
    assert local(next_day, MADRID).replace(tzinfo=None) == datetime(2026, 10, 26, 1, 0)
    assert next_day - before_autumn == timedelta(hours=25)


def test_nonexistent_local_time_moves_to_the_first_valid_instant() -> None:
    ny = NEW_YORK.zone()
    result = NEW_YORK.add(datetime(2026, 3, 7, 2, 30, tzinfo=ny), 1, "days")
    assert result == datetime(2026, 3, 8, 7, 0, tzinfo=UTC)  # 03:00 EDT
    reminder = NEW_YORK.add(datetime(2026, 3, 6, 12, tzinfo=ny), 2, "days", at=time(2, 15))
    assert local(reminder, NEW_YORK) == datetime(2026, 3, 8, 3, 0, tzinfo=ny)


def test_ambiguous_local_time_takes_the_first_occurrence() -> None:
    ny = NEW_YORK.zone()
    result = NEW_YORK.add(datetime(2026, 10, 31, 1, 30, tzinfo=ny), 1, "days")
    assert result == datetime(2026, 11, 1, 5, 30, tzinfo=UTC)  # 01:30 EDT, not EST
    second = datetime(2026, 11, 1, 1, 30, fold=1, tzinfo=ny)  # 06:30Z
    assert NEW_YORK.add(second, 0, "days") == result


def test_a_skipped_calendar_day_lands_on_the_next_valid_instant() -> None:
    # Samoa skipped 30 December 2011 when it moved across the date line.
    apia = BusinessCalendar("Pacific/Apia", None)
    result = apia.add(datetime(2011, 12, 29, 12, tzinfo=apia.zone()), 1, "days")
    assert result == datetime(2011, 12, 30, 10, 0, tzinfo=UTC)
    assert local(result, apia).replace(tzinfo=None) == datetime(2011, 12, 31, 0, 0)


# --------------------------------------------------------------------------- local days


def test_manila_local_day_runs_ahead_of_utc() -> None:
    now = datetime(2026, 3, 1, 17, 30, tzinfo=UTC)
    start, end = MANILA.local_day_bounds(now, "today")
    assert local(start, MANILA) == at_local(MANILA, 2026, 3, 2, 0)
    assert (start, end) == (
        datetime(2026, 3, 1, 16, tzinfo=UTC),
        datetime(2026, 3, 2, 16, tzinfo=UTC),
    )
    assert MANILA.local_day_bounds(now, "tomorrow") == (end, datetime(2026, 3, 3, 16, tzinfo=UTC))
    assert MANILA.start_of_local_day(now) == start


def test_local_days_are_23_or_25_hours_across_dst() -> None:
    spring = NEW_YORK.local_day_bounds(datetime(2026, 3, 8, 12, tzinfo=UTC), "today")
    autumn = NEW_YORK.local_day_bounds(datetime(2026, 10, 31, 12, tzinfo=UTC), "tomorrow")
    assert spring[1] - spring[0] == timedelta(hours=23)
    assert autumn[1] - autumn[0] == timedelta(hours=25)


def test_a_day_without_midnight_starts_when_the_clocks_jump() -> None:
    santiago = BusinessCalendar("America/Santiago", "CL")
    start, end = santiago.local_day_bounds(datetime(2026, 9, 6, 12, tzinfo=UTC), "today")
    assert start == datetime(2026, 9, 6, 4, tzinfo=UTC)  # 01:00 -03, after 00:00 -04 is skipped
    assert local(start, santiago).replace(tzinfo=None) == datetime(2026, 9, 6, 1, 0)
    assert end - start == timedelta(hours=23)


@given(cal=CALENDARS, now=moments())
def test_local_day_bounds_contain_now_and_tile(cal: BusinessCalendar, now: datetime) -> None:
    start, end = cal.local_day_bounds(now, "today")
    following, after = cal.local_day_bounds(now, "tomorrow")
    assert start <= now < end == following < after
    assert start.tzinfo is UTC and end.tzinfo is UTC
    assert local(start, cal).date() == local(now, cal).date()
    assert timedelta(hours=20) <= end - start <= timedelta(hours=28)


# --------------------------------------------------------------------------- errors and bounds


@pytest.mark.parametrize("code", ["XX", "es", "CHN", "E", "", "Spain"])
def test_unknown_country_is_a_clear_value_error(code: str) -> None:
    message = validate_country(code)
    assert message is not None and repr(code) in message
    with pytest.raises(ValueError, match="country"):
        BusinessCalendar("Europe/Madrid", code)


def test_known_countries_validate() -> None:
    for code in ("ES", "CN", "PH", "US", "SA", "CL"):
        assert validate_country(code) is None
    assert validate_country(None) is not None


def test_unknown_zone_and_bad_weekend_are_refused() -> None:
    with pytest.raises(ValueError, match="time zone"):
        BusinessCalendar("Mars/Olympus", None)
    with pytest.raises(ValueError, match="whole week"):
        BusinessCalendar("UTC", None, weekend=frozenset(range(7)))
    with pytest.raises(ValueError, match="weekday"):
        BusinessCalendar("UTC", None, weekend=frozenset({7}))


def test_naive_datetimes_are_refused() -> None:
    naive = datetime(2026, 3, 1, 9)
    with pytest.raises(ValueError, match="timezone-aware"):
        MADRID.add(naive, 1, "days")
    with pytest.raises(ValueError, match="timezone-aware"):
        MADRID.local_day_bounds(naive, "today")
    with pytest.raises(ValueError, match="timezone-aware"):
        MADRID.start_of_local_day(naive)


@pytest.mark.parametrize(
    ("amount", "unit"),
    [
        (MAX_DAYS + 1, "days"),
        (-MAX_DAYS - 1, "business_days"),
        (MAX_ELAPSED + 1, "minutes"),
        (-MAX_ELAPSED - 1, "hours"),
        (True, "days"),
        (1.5, "hours"),
        (1, "weeks"),
    ],
)
def test_amounts_and_units_are_bounded(amount: Any, unit: Any) -> None:
    with pytest.raises(ValueError):
        PLAIN.add(datetime(2026, 1, 1, tzinfo=UTC), amount, unit)


def test_limits_themselves_are_allowed() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    assert PLAIN.add(start, MAX_DAYS, "business_days") > start
    assert PLAIN.add(start, -MAX_ELAPSED, "minutes") == start - timedelta(minutes=MAX_ELAPSED)


def test_other_bad_inputs() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    with pytest.raises(ValueError, match="at must be"):
        PLAIN.add(start, 1, "days", at=time(9, tzinfo=UTC))
    with pytest.raises(ValueError, match="which"):
        PLAIN.local_day_bounds(start, "yesterday")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="local date"):
        MADRID.is_business_day(start)
    with pytest.raises(ValueError, match="supported date range"):
        PLAIN.add(datetime(9999, 12, 1, tzinfo=UTC), 300, "business_days")
    with pytest.raises(ValueError, match="supported date range"):
        PLAIN.add(datetime(1, 1, 10, tzinfo=UTC), -300, "business_days")
    with pytest.raises(ValueError, match="supported date range"):
        PLAIN.add(datetime(9999, 12, 1, tzinfo=UTC), 300, "days")


# --------------------------------------------------------------------------- tenants and speed


def _model(timezone: str, country: str | None, tenant: str = "acme") -> Any:
    config: dict[str, Any] = {
        "tenant": tenant,
        "locales": ["en"],
        "currency": "EUR",
        "timezone": timezone,
        "entities": {},
    }
    if country is not None:
        config["country"] = country
    return build_tenant_model(config, {})


def test_calendar_for_is_shared_per_zone_and_country() -> None:
    first = calendar_for(_model("Asia/Shanghai", "CN", "one"))
    assert first is calendar_for(_model("Asia/Shanghai", "CN", "two"))
    assert first == SHANGHAI
    assert calendar_for(_model("Asia/Riyadh", "SA")).weekend == frozenset({4, 5})  # Fri, Sat
    plain = calendar_for(_model("Europe/Madrid", None))
    assert plain.country is None and plain.weekend == frozenset({5, 6})
    assert (
        not plain.is_holiday(date(2026, 12, 25)) and plain.holiday_name(date(2026, 12, 25)) is None
    )


def test_a_ten_year_business_day_step_is_fast_even_with_cold_caches() -> None:
    holidays.country_holidays("CN", years=2000)  # the package's one-off import cost
    start = at_local(SHANGHAI, 2026, 1, 5, 9)
    timings = []
    for _ in range(3):
        calendar_module._business_ordinals.cache_clear()
        calendar_module._country_year.cache_clear()
        began = clock.perf_counter()
        SHANGHAI.add(start, MAX_DAYS, "business_days")
        timings.append(clock.perf_counter() - began)
    assert min(timings) < 0.050
    began = clock.perf_counter()
    for hour in range(1000):
        SHANGHAI.add(start + timedelta(hours=hour), 20, "business_days")
    assert clock.perf_counter() - began < 0.5
