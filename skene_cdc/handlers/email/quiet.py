"""Quiet hours: no growth email between `start` and `end` of the user's local day.

All arithmetic is on the user's wall clock through zoneinfo, never on UTC offsets taken once: a
night that contains a DST change is an hour shorter or longer, and the email still waits for
08:00 on the user's clock. An `end` that falls into a spring-forward gap (02:30 on a day the
clock jumps from 02:00 to 03:00) ends at the jump.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


def is_quiet(wall: time, start: time, end: time) -> bool:
    if start < end:
        return start <= wall < end
    return wall >= start or wall < end  # the window spans midnight


def release(now: datetime, zone: ZoneInfo, start: time, end: time) -> datetime | None:
    """None when `now` is outside the quiet window on the user's clock; otherwise the first
    instant (UTC) at which their clock shows `end` or later."""
    local = now.astimezone(zone)
    wall = local.time().replace(tzinfo=None)
    if not is_quiet(wall, start, end):
        return None
    day = local.date()
    if start > end and wall >= start:
        day += timedelta(days=1)  # late evening: the window ends tomorrow morning
    return first_instant(day, end, zone)


def first_instant(day: date, wall: time, zone: ZoneInfo) -> datetime:
    """The first UTC instant whose wall clock in `zone` on `day` reads `wall` or later."""
    naive = datetime.combine(day, wall)
    first = naive.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if first.astimezone(zone).replace(tzinfo=None) == naive:
        return first  # the time exists (fold=0 is its first occurrence when it repeats)
    # A gap: the clock jumps over `wall`. The jump lies between the two readings of the naive
    # time (before the change's offset and after it); narrow it down to the second.
    lo = naive.replace(tzinfo=zone, fold=1).astimezone(UTC)
    hi = first
    while hi - lo > timedelta(seconds=1):
        mid = lo + (hi - lo) / 2
        if mid.astimezone(zone).replace(tzinfo=None) >= naive:
            hi = mid
        else:
            lo = mid
    return hi.replace(microsecond=0) + (timedelta(seconds=1) if hi.microsecond else timedelta())


def zone_or(name: object, default: ZoneInfo) -> ZoneInfo:
    """The user's zone from their column, or the default when it is empty or not a zone."""
    if isinstance(name, str) and name.strip():
        try:
            return ZoneInfo(name.strip())
        except (ZoneInfoNotFoundError, ValueError):
            return default
    return default
