"""Time as the chat side sees it: a clock is a function returning epoch seconds, like ``time.time`` (pure helpers).

Records from the engine and store carry epoch floats; policy needs aware datetimes for freeze windows. The
service takes the clock as a parameter so tests move time by hand.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], float]


def utc(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, UTC)


def when(timestamp: float) -> str:
    """``2026-03-27 14:05 UTC``: how a moment is written in replies and reasons."""
    return f"{utc(timestamp):%Y-%m-%d %H:%M} UTC"
