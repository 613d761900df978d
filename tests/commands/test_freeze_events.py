"""When a freeze is told started and ended (pure): what was told before, the moment and the windows in, the events out.
A freeze is one unbroken stretch of the environment's windows, named by when it began; only the current one is
told started, and an end only follows a start."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from commands.access_config import FreezeWindow
from commands.freeze_events import FreezeTransition, frozen_since, transitions
from deploy.notify.freeze_marks import LONG_AGO

FRIDAY = FreezeWindow(environments=["production"], reason="Friday afternoon", cron="0 12-23 * * FRI",
                      timezone="Europe/Berlin")  # fmt: skip
LUNCH = FreezeWindow(environments=["*"], reason="lunch", cron="0-29 12 * * *")  # 12:00-12:29 UTC, every day
AFTER_LUNCH = FreezeWindow(environments=["production"], reason="digesting", cron="30-59 12 * * *")
CHRISTMAS = FreezeWindow(environments=["production"], reason="Christmas", to=date(2026, 12, 26),
                         **{"from": date(2026, 12, 24)})  # fmt: skip
ALWAYS = FreezeWindow(environments=["production"], reason="read-only", cron="* * * * *")


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def ts(text: str) -> float:
    return at(text).timestamp()


FRI_START = ts("2026-12-11 11:00")  # 12:00 in Berlin
FRI_END = ts("2026-12-11 23:00")

CASES = [
    # (what happens, told before, now, windows, environment, expected (event, window start, reason, ends at))
    ("no window, nothing told: nothing", [], "2026-12-11 12:00", [], "production", []),
    ("before the window", [], "2026-12-11 10:59", [FRIDAY], "production", []),
    ("the window began: started, with its end", [], "2026-12-11 11:00", [FRIDAY], "production",
     [("freeze.started", FRI_START, "Friday afternoon", FRI_END)]),
    ("first seen long after it began, still on: started once", [], "2026-12-11 20:17", [FRIDAY], "production",
     [("freeze.started", FRI_START, "Friday afternoon", FRI_END)]),
    ("told, still on: nothing", [(FRI_START, "Friday afternoon")], "2026-12-11 22:59", [FRIDAY], "production", []),
    ("told, now over: ended", [(FRI_START, "Friday afternoon")], "2026-12-11 23:00", [FRIDAY], "production",
     [("freeze.ended", FRI_START, "Friday afternoon", None)]),
    ("over, never told: nothing (no end without a start)", [], "2026-12-12 09:00", [FRIDAY], "production", []),
    ("another environment: not its window", [], "2026-12-11 15:00", [FRIDAY], "staging", []),
    ("a window for every environment", [], "2026-12-11 12:10", [LUNCH], "staging",
     [("freeze.started", ts("2026-12-11 12:00"), "lunch", ts("2026-12-11 12:30"))]),
    ("windows that touch are one freeze, begun with the first", [], "2026-12-11 12:45", [LUNCH, AFTER_LUNCH],
     "production", [("freeze.started", ts("2026-12-11 12:00"), "digesting", ts("2026-12-11 13:00"))]),
    ("told in the first window, the second one follows: nothing", [(ts("2026-12-11 12:00"), "lunch")],
     "2026-12-11 12:45", [LUNCH, AFTER_LUNCH], "production", []),
    ("a missed end and a new freeze: ended, then started", [(ts("2026-12-10 12:00"), "lunch")], "2026-12-11 12:05",
     [LUNCH], "production",
     [("freeze.ended", ts("2026-12-10 12:00"), "lunch", None),
      ("freeze.started", ts("2026-12-11 12:00"), "lunch", ts("2026-12-11 12:30"))]),
    ("dates: from midnight of the first day to the end of the last", [], "2026-12-26 23:59", [CHRISTMAS],
     "production", [("freeze.started", ts("2026-12-24 00:00"), "Christmas", ts("2026-12-27 00:00"))]),
    ("a window removed from the config: its freeze ends", [(ts("2026-12-24 00:00"), "Christmas")],
     "2026-12-25 10:00", [], "production", [("freeze.ended", ts("2026-12-24 00:00"), "Christmas", None)]),
    ("begun before the look-back: named long ago, told once", [], "2026-12-11 12:00", [ALWAYS], "production",
     [("freeze.started", LONG_AGO, "read-only", None)]),
    ("begun before the look-back and told: nothing", [(LONG_AGO, "read-only")], "2026-12-12 12:00", [ALWAYS],
     "production", []),
]  # fmt: skip


@pytest.mark.parametrize(
    ("told", "now", "windows", "environment", "expected"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_freeze_transitions(
    told: list[tuple[float, str]],
    now: str,
    windows: list[FreezeWindow],
    environment: str,
    expected: list[tuple[str, float, str, float | None]],
) -> None:
    assert [FreezeTransition(e, environment, start, reason, end) for e, start, reason, end in expected] == transitions(
        told, at(now), windows, environment
    )


def test_every_replica_names_a_freeze_by_the_same_start_whenever_it_looks() -> None:
    starts = {frozen_since([FRIDAY], "production", at(f"2026-12-11 {hh}:{mm}")) for hh in ("11", "17", "22")
              for mm in ("00", "31", "59")}  # fmt: skip
    assert {FRI_START} == starts
