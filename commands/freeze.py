"""Freeze windows: is an environment frozen at a moment, why, and until when (pure).

Two kinds, both evaluated on the wall clock of the window's ``timezone`` (default UTC), so a daylight-saving
change moves the window in UTC the way people expect:

- ``cron``: the window is the set of minutes the expression matches. A minute field of exactly ``0`` means
  whole hours, so ``0 12-23 * * FRI`` freezes Fridays 12:00 to 23:59 local time; any other minute field is
  taken literally (``*/1 9 * * *`` is 09:00-09:59, ``0-29 9 * * *`` is 09:00-09:29).
- ``from``/``to``: whole days, from 00:00 on ``from`` up to the end of ``to`` (inclusive) in that timezone.

:func:`active_freeze` also finds when the window ends: the first minute (or, for whole-hour crons, the first
hour) that no longer matches, looked for up to 31 days (minutes: one day) ahead; past that the end is reported
as unknown. :func:`began_at` looks as far back for when it began.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from croniter import croniter

from commands.access_config import FreezeWindow

HOURS_AHEAD = 31 * 24
MINUTES_AHEAD = 24 * 60


@dataclass(frozen=True)
class FreezeHit:
    reason: str
    ends_at: datetime | None  # UTC; None when the end is further than we look
    timezone: str

    def until(self) -> str:
        """``until Sat 2026-03-28 00:00 Europe/Berlin``."""
        if self.ends_at is None:
            return "with no end in sight"
        local = self.ends_at.astimezone(ZoneInfo(self.timezone))
        return f"until {local:%a %Y-%m-%d %H:%M} {self.timezone}"


def _expression(window: FreezeWindow) -> tuple[str, bool]:
    assert window.cron is not None
    fields = window.cron.split()
    if fields[0] == "0":
        return " ".join(["*", *fields[1:]]), True
    return window.cron, fields[0] == "*"


def _wall(moment: datetime, zone: ZoneInfo) -> datetime:
    return moment.astimezone(zone).replace(tzinfo=None, second=0, microsecond=0)


def covers(window: FreezeWindow, now: datetime) -> bool:
    """Whether ``window`` holds at ``now`` (an aware datetime)."""
    zone = ZoneInfo(window.timezone)
    if window.cron is None:
        start, end = _date_range(window, zone)
        return start <= now < end
    expr, _ = _expression(window)
    return bool(croniter.match(expr, _wall(now, zone)))


def _date_range(window: FreezeWindow, zone: ZoneInfo) -> tuple[datetime, datetime]:
    assert window.from_ is not None and window.to is not None
    start = datetime.combine(window.from_, time(0), zone).astimezone(UTC)
    end = datetime.combine(window.to + timedelta(days=1), time(0), zone).astimezone(UTC)
    return start, end


def _scan(window: FreezeWindow, zone: ZoneInfo, now: datetime) -> tuple[str, timedelta, int, datetime]:
    """How a cron window is walked from ``now``: its expression, the step (an hour or a minute), how many steps the
    look-ahead (or look-back) covers, and the step ``now`` is in (UTC)."""
    expr, hourly = _expression(window)
    if hourly:
        local = now.astimezone(zone).replace(minute=0, second=0, microsecond=0)
        return expr, timedelta(hours=1), HOURS_AHEAD, local.astimezone(UTC)
    return expr, timedelta(minutes=1), MINUTES_AHEAD, now.astimezone(UTC).replace(second=0, microsecond=0)


def ends_at(window: FreezeWindow, now: datetime) -> datetime | None:
    """The first moment after ``now`` that ``window`` no longer covers (UTC), if within the look-ahead."""
    zone = ZoneInfo(window.timezone)
    if window.cron is None:
        return _date_range(window, zone)[1]
    expr, step, count, first = _scan(window, zone, now)
    for k in range(1, count + 1):
        moment = first + k * step
        if not croniter.match(expr, _wall(moment, zone)):
            return moment
    return None


def began_at(window: FreezeWindow, now: datetime) -> datetime | None:
    """When the stretch of ``window`` that covers ``now`` began (UTC), if within the look-back; ``now`` must be
    covered."""
    zone = ZoneInfo(window.timezone)
    if window.cron is None:
        return _date_range(window, zone)[0]
    expr, step, count, first = _scan(window, zone, now)
    for k in range(1, count + 1):
        if not croniter.match(expr, _wall(first - k * step, zone)):
            return first - (k - 1) * step
    return None


def active_freeze(windows: Iterable[FreezeWindow], environment: str, now: datetime) -> FreezeHit | None:
    """The first freeze window covering ``environment`` at ``now``, or ``None``."""
    for window in windows:
        if environment not in window.environments and "*" not in window.environments:
            continue
        if covers(window, now):
            return FreezeHit(window.reason, ends_at(window, now), window.timezone)
    return None
