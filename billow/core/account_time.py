"""Account-local time: the one rule that turns instants into an account's dates and back.

Kill Bill's rule (billing-semantics.md 4.10; `AccountDateTimeUtils.getFixedOffsetTimeZone`,
`ClockUtil.toLocalDate` / `toUTCDateTime`, `TimeAwareContext`): an account's dates are read in
a **fixed UTC offset**, the offset its time zone had at the account's reference instant (the
zone's DST offset if DST was in force then, else its standard offset). Later DST changes are
ignored, so an account's days never shift twice a year:

- instant → local date: the calendar date of the instant in that fixed offset;
- local date → instant: that date at the reference instant's local time of day (seconds kept,
  sub-seconds dropped) in that fixed offset.

Every service converts through `AccountTime`; nothing else in Billow turns an instant into an
account's date or back.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_OFFSET = re.compile(r"^([+-])([01]\d|2[0-3]):([0-5]\d)$")
_UTC_NAMES = frozenset({"UTC", "Z", "Etc/UTC", "GMT", "Etc/GMT", "UCT", "Universal", "Zulu"})
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def is_time_zone(name: str) -> bool:
    """A zone Kill Bill accepts: an IANA id (`Europe/Paris`) or a fixed offset (`+05:00`)."""
    if _OFFSET.match(name) or name in _UTC_NAMES:
        return True
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, IsADirectoryError, OSError):
        return False
    return True


def _as_utc(instant: datetime) -> datetime:
    return instant.replace(tzinfo=UTC) if instant.tzinfo is None else instant.astimezone(UTC)


def zone_date(instant: datetime, time_zone: str) -> date:
    """The calendar date of `instant` under the zone's own rules, DST included: what Kill Bill's test clock
    shows as `localDate` for a `timeZone`. Never an account's date: those go through `AccountTime`."""
    m = _OFFSET.match(time_zone)
    if time_zone in _UTC_NAMES:
        tz: timezone | ZoneInfo = UTC
    elif m is not None:
        sign = 1 if m.group(1) == "+" else -1
        tz = timezone(sign * timedelta(hours=int(m.group(2)), minutes=int(m.group(3))))
    else:
        tz = ZoneInfo(time_zone)
    return _as_utc(instant).astimezone(tz).date()


@lru_cache(maxsize=8192)
def fixed_offset(time_zone: str, reference_time: datetime) -> timezone:
    """The account's fixed offset: the zone's UTC offset at the reference instant, forever.

    A `+HH:MM` zone is that offset (Joda's fixed-offset zones)."""
    if time_zone in _UTC_NAMES:
        return UTC
    m = _OFFSET.match(time_zone)
    if m is not None:
        sign = 1 if m.group(1) == "+" else -1
        offset = sign * timedelta(hours=int(m.group(2)), minutes=int(m.group(3)))
    else:
        offset = _as_utc(reference_time).astimezone(ZoneInfo(time_zone)).utcoffset() or timedelta(0)
    return UTC if not offset else timezone(offset)


@dataclass(frozen=True, slots=True)
class AccountTime:
    """An account's clock face: its time zone read at its reference instant (see the module docstring)."""

    time_zone: str = "UTC"
    reference_time: datetime = _EPOCH
    offset: timezone = field(init=False, compare=False, repr=False)
    _time_of_day: time = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        ref = _as_utc(self.reference_time)
        object.__setattr__(self, "reference_time", ref)
        tz = fixed_offset(self.time_zone, ref)
        object.__setattr__(self, "offset", tz)
        object.__setattr__(self, "_time_of_day", ref.astimezone(tz).time().replace(microsecond=0, tzinfo=None))

    @property
    def time_of_day(self) -> time:
        """The reference instant's local time of day (what a local date is turned into an instant at)."""
        return self._time_of_day

    def local_date(self, instant: datetime) -> date:
        """The account's calendar date of `instant` (Kill Bill's `toLocalDate`)."""
        return _as_utc(instant).astimezone(self.offset).date()

    def instant(self, local: date) -> datetime:
        """`local` at the reference time of day, as a UTC instant (Kill Bill's `toUTCDateTime`)."""
        return datetime.combine(local, self._time_of_day, tzinfo=self.offset).astimezone(UTC)

    def local_datetime(self, instant: datetime) -> datetime:
        """`instant` on the account's clock face (for display)."""
        return _as_utc(instant).astimezone(self.offset)

    def today(self, now: datetime) -> date:
        return self.local_date(now)

    # -- usage periods (Kill Bill's `UsageClockUtil`): local midnights, in the fixed offset or the zone's rules --
    def zone_local_date(self, instant: datetime, *, zone_rules: bool = False) -> date:
        """The date of `instant` in the fixed offset (`org.killbill.invoice.usage.tz.mode=FIXED`, Kill Bill's
        default) or under the zone's own rules, DST included (`VARIABLE`)."""
        return zone_date(instant, self.time_zone) if zone_rules else self.local_date(instant)

    def start_of_day(self, local: date, *, zone_rules: bool = False) -> datetime:
        """Local midnight of `local` as a UTC instant (`UsageClockUtil.toDateTimeAtStartOfDay`): in the fixed offset,
        or with the offset the zone has at that midnight (`VARIABLE`)."""
        if not zone_rules or self.time_zone in _UTC_NAMES or _OFFSET.match(self.time_zone):
            tz: timezone | ZoneInfo = self.offset if not zone_rules else fixed_offset(self.time_zone, _EPOCH)
        else:
            tz = ZoneInfo(self.time_zone)
        return datetime.combine(local, time.min, tzinfo=tz).astimezone(UTC)

    def end_of_day(self, local: date, *, zone_rules: bool = False) -> datetime:
        """The last millisecond of `local` (`UsageClockUtil.toDateTimeAtEndOfDay`: next midnight − 1 ms)."""
        return self.start_of_day(local, zone_rules=zone_rules) + timedelta(days=1, milliseconds=-1)

    def requested(self, value: datetime | date | None, now: datetime) -> datetime:
        """The instant of a date a caller asked for: a datetime as given (in UTC); today's date is now; any other
        date at the reference time of day; nothing is now (Kill Bill's `EntitlementDateHelper` and
        `TimeAwareContext.toUTCDateTime`)."""
        if value is None:
            return now
        if isinstance(value, datetime):
            return _as_utc(value)
        if value == self.local_date(now):
            return now
        return self.instant(value)


UTC_ACCOUNT_TIME = AccountTime()


@lru_cache(maxsize=8192)
def account_time(time_zone: str, reference_time: datetime) -> AccountTime:
    """The (shared, immutable) `AccountTime` of a zone and reference instant."""
    return AccountTime(time_zone, reference_time)
