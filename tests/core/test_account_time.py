"""Account time: Kill Bill's fixed UTC offset taken at the account's reference instant (billing-semantics.md 4.10).

Property tests over DST transitions in several zones: whatever the zone does later, an account's days are
24 hours long, a local date and its instant convert back and forth, and the offset is the one in force at
the reference instant.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from billow.core.account_time import AccountTime, fixed_offset, is_time_zone, zone_date

ZONES = ["America/Los_Angeles", "Europe/Paris", "Australia/Lord_Howe", "Asia/Kolkata", "America/St_Johns",
         "Pacific/Chatham", "UTC", "+05:00", "-03:30", "+00:00"]

# reference instants around DST changes: spring forward and fall back in both hemispheres
instants = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2040, 1, 1),
                        timezones=st.just(UTC))
local_dates = st.dates(min_value=date(2000, 1, 1), max_value=date(2040, 1, 1))
zones = st.sampled_from(ZONES)


def real_offset(zone: str, when: datetime) -> timedelta:
    if zone.startswith(("+", "-")):
        sign = 1 if zone[0] == "+" else -1
        return sign * timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6]))
    return when.astimezone(ZoneInfo(zone)).utcoffset() or timedelta(0)


@given(zones, instants, local_dates)
def test_a_local_date_and_its_instant_convert_back_and_forth(zone: str, ref: datetime, day: date) -> None:
    t = AccountTime(zone, ref)
    assert t.local_date(t.instant(day)) == day


@given(zones, instants, local_dates)
def test_account_days_are_24_hours_whatever_the_zone_does(zone: str, ref: datetime, day: date) -> None:
    t = AccountTime(zone, ref)
    assert t.instant(day + timedelta(days=1)) - t.instant(day) == timedelta(days=1)


@given(zones, instants, instants)
def test_the_offset_is_the_zones_offset_at_the_reference_instant_forever(zone: str, ref: datetime,
                                                                         when: datetime) -> None:
    t = AccountTime(zone, ref)
    expected = (when + real_offset(zone, ref)).date()
    assert t.local_date(when) == expected
    assert t.offset.utcoffset(None) == real_offset(zone, ref)


@given(zones, instants, instants, instants)
def test_local_dates_never_go_backwards(zone: str, ref: datetime, a: datetime, b: datetime) -> None:
    t = AccountTime(zone, ref)
    lo, hi = sorted((a, b))
    assert t.local_date(lo) <= t.local_date(hi)


@given(zones, instants, local_dates)
def test_instants_keep_the_reference_time_of_day_to_the_second(zone: str, ref: datetime, day: date) -> None:
    t = AccountTime(zone, ref.replace(microsecond=123456))
    local = t.instant(day).astimezone(t.offset)
    ref_local = ref.astimezone(t.offset)
    assert (local.hour, local.minute, local.second, local.microsecond) == (
        ref_local.hour, ref_local.minute, ref_local.second, 0)


@given(zones, instants, instants, local_dates)
def test_requested_dates(zone: str, ref: datetime, now: datetime, day: date) -> None:
    t = AccountTime(zone, ref)
    assert t.requested(None, now) == now
    assert t.requested(t.local_date(now), now) == now  # today: now
    if day != t.local_date(now):
        assert t.requested(day, now) == t.instant(day)
    explicit = datetime(2030, 5, 1, 1, 2, 3, tzinfo=timezone(timedelta(hours=9)))
    assert t.requested(explicit, now) == explicit.astimezone(UTC)


def test_dst_is_ignored_after_the_reference_instant() -> None:
    # Los Angeles in winter (PST, -8): in July (PDT in the zone) the account still reads -8
    winter = AccountTime("America/Los_Angeles", datetime(2015, 1, 1, 8, 0, tzinfo=UTC))
    assert winter.local_date(datetime(2015, 7, 1, 7, 30, tzinfo=UTC)) == date(2015, 6, 30)
    # created in summer (PDT, -7): Kill Bill's example, "cancel on 2015-12-01" is 07:01:01Z
    summer = AccountTime("America/Los_Angeles", datetime(2015, 8, 1, 7, 1, 1, tzinfo=UTC))
    assert summer.instant(date(2015, 12, 1)) == datetime(2015, 12, 1, 7, 1, 1, tzinfo=UTC)
    # Lord Howe shifts by 30 minutes: +11 in (southern) summer, +10:30 in winter
    lord_howe = AccountTime("Australia/Lord_Howe", datetime(2024, 1, 15, tzinfo=UTC))
    assert lord_howe.offset.utcoffset(None) == timedelta(hours=11)
    assert lord_howe.local_date(datetime(2024, 7, 1, 12, 45, tzinfo=UTC)) == date(2024, 7, 1)
    assert lord_howe.local_date(datetime(2024, 7, 1, 13, 0, tzinfo=UTC)) == date(2024, 7, 2)
    # Kolkata: +5:30, no DST
    kolkata = AccountTime("Asia/Kolkata", datetime(2024, 1, 1, tzinfo=UTC))
    assert kolkata.local_date(datetime(2024, 6, 30, 18, 29, tzinfo=UTC)) == date(2024, 6, 30)
    assert kolkata.local_date(datetime(2024, 6, 30, 18, 30, tzinfo=UTC)) == date(2024, 7, 1)


def test_fixed_offset_zones_are_their_offset() -> None:
    assert fixed_offset("+05:00", datetime(2024, 1, 1, tzinfo=UTC)).utcoffset(None) == timedelta(hours=5)
    assert fixed_offset("-03:30", datetime(2024, 1, 1, tzinfo=UTC)).utcoffset(None) == -timedelta(hours=3, minutes=30)
    assert AccountTime("+05:00").local_date(datetime(2024, 1, 1, 19, 0, tzinfo=UTC)) == date(2024, 1, 2)


def test_time_zone_names() -> None:
    for ok in ("UTC", "Europe/Paris", "+05:00", "-11:30", "Australia/Lord_Howe"):
        assert is_time_zone(ok)
    for bad in ("Mars/Olympus", "+25:00", "0500", "../etc/passwd", ""):
        assert not is_time_zone(bad)


def test_zone_dates_follow_the_zones_own_rules() -> None:
    # the test clock's localDate is not an account's date: DST applies
    assert zone_date(datetime(2024, 7, 1, 6, 30, tzinfo=UTC), "America/Los_Angeles") == date(2024, 6, 30)
    assert zone_date(datetime(2024, 7, 1, 7, 30, tzinfo=UTC), "America/Los_Angeles") == date(2024, 7, 1)
