"""Freeze windows beginning and ending, told to the environments' sinks (``freeze.started``, ``freeze.ended``).

Freeze windows are config: nothing happens when one begins or ends, so the bot looks (:meth:`FreezeWatch.check`,
on its timer) at every environment of every app, compares its windows at the database's time with the freezes
told started and not ended (:class:`~deploy.store.ports.FreezeLog`), and records each transition
(:func:`commands.freeze_events.transitions`). The record is keyed by (app, environment, event, window start) and
writes the outbox rows in its transaction, so with several replicas looking each transition is told once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import structlog

from commands.access_config import AppPolicy
from commands.clock import Clock, utc
from commands.freeze_events import FreezeTransition, transitions
from deploy.notify.event_documents import rfc3339
from deploy.notify.freeze_marks import LONG_AGO
from deploy.store.ports import FreezeLog

log = structlog.get_logger("shipbot.freezes")


def _fields(t: FreezeTransition) -> dict[str, Any]:
    """The event's fields beside app, environment and reason: when the freeze began and, once started, its end."""
    return {
        "window_start": rfc3339(t.window_start) if t.window_start != LONG_AGO else None,
        "ends_at": rfc3339(t.ends_at) if t.ends_at is not None else None,
    }


class FreezeWatch:
    """``policies``: each app's environments and access policy (its windows); ``clock``: the database's time."""

    def __init__(self, policies: Mapping[str, AppPolicy], marks: FreezeLog, clock: Clock) -> None:
        self._policies = dict(policies)
        self._marks = marks
        self._clock = clock

    async def check(self) -> list[tuple[str, FreezeTransition]]:
        """Tell every freeze that began or ended since the last look (here or on another replica); what this call
        told, as (app, transition)."""
        now = utc(self._clock())
        told: list[tuple[str, FreezeTransition]] = []
        for app, policy in self._policies.items():
            windows = tuple(policy.access.freeze) if policy.access is not None else ()
            for environment in policy.environments:
                recorded = await self._marks.open(app, environment)
                if not windows and not recorded:
                    continue
                found = await asyncio.to_thread(transitions, recorded, now, windows, environment)  # croniter: CPU
                for t in found:
                    if await self._marks.record(app, environment, t.event, t.window_start, t.reason, _fields(t)):
                        log.info("freeze_told", app=app, environment=environment, freeze_event=t.event)
                        told.append((app, t))
        return told
