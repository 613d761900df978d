"""When a freeze begins and ends, as events for the sinks (pure): the windows now, against what was told already.

An environment is frozen while any of its windows covers the moment (:mod:`commands.freeze`); a *freeze* is one
unbroken stretch of that, windows that touch or overlap counting as one, named by when it began
(:func:`frozen_since`: the same on every replica, whenever it looks). :func:`transitions` compares it with the
freezes told started and not yet ended (``told``, from the store) and says what to tell:

- a freeze now, not told: ``freeze.started`` (only the current one: a freeze that began and ended while nobody
  looked is not told, and one that began long ago is told once, when first seen);
- a freeze told that is no longer the current one: ``freeze.ended`` (never without its ``freeze.started``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from commands.access_config import FreezeWindow
from commands.freeze import active_freeze, began_at, covers
from deploy.notify.freeze_marks import ENDED, LONG_AGO, STARTED

CHAINED = 64  # windows followed back, one touching the next, before the freeze counts as begun long ago


@dataclass(frozen=True)
class FreezeTransition:
    event: str  # freeze.started | freeze.ended
    environment: str
    window_start: float  # epoch seconds the freeze began; LONG_AGO further back than the windows are looked at
    reason: str
    ends_at: float | None = None  # freeze.started: when it ends, if within the look-ahead


def _of(windows: Iterable[FreezeWindow], environment: str) -> list[FreezeWindow]:
    return [w for w in windows if environment in w.environments or "*" in w.environments]


def frozen_since(windows: Iterable[FreezeWindow], environment: str, now: datetime) -> float | None:
    """When the freeze of ``environment`` covering ``now`` began (epoch seconds, :data:`LONG_AGO` past the
    look-back), or None when it is not frozen."""
    mine = _of(windows, environment)
    moment = now
    for _ in range(CHAINED):
        starts = [began_at(w, moment) for w in mine if covers(w, moment)]
        if not starts:
            return None
        if any(s is None for s in starts):
            return LONG_AGO
        start = min(s for s in starts if s is not None)
        before = start - timedelta(minutes=1)
        if not any(covers(w, before) for w in mine):
            return start.timestamp()
        moment = before
    return LONG_AGO


def transitions(
    told: Sequence[tuple[float, str]], now: datetime, windows: Sequence[FreezeWindow], environment: str
) -> list[FreezeTransition]:
    """What to tell of ``environment``'s freezes at ``now``: ``told`` holds (window start, reason) of each freeze
    told started and not ended."""
    start = frozen_since(windows, environment, now)
    out = [FreezeTransition(ENDED, environment, at, reason) for at, reason in told if at != start]
    if start is not None and start not in {at for at, _ in told}:
        hit = active_freeze(windows, environment, now)
        assert hit is not None
        ends = hit.ends_at.timestamp() if hit.ends_at is not None else None
        out.append(FreezeTransition(STARTED, environment, start, hit.reason, ends))
    return out
