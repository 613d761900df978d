"""Identifiers and times as the whole product writes them: one run-id generator, one release id, one time format.

- :func:`new_run_id`: ``r`` and six characters from an alphabet without look-alikes (no ``0/o``, ``1/l/i``), short
  enough to type in chat (``cancel r7k2m9``), random enough that two controllers never pick the same one by chance.
- :func:`new_release_id`: Capistrano's release folder name, UTC ``YYYYMMDDHHMMSS``; sorts by time as text.
- :func:`utc_minute` (``2026-11-29 16:04 UTC``) for people; :func:`utc_iso` (``2026-11-29T16:04:08Z``) for records
  such as the hosts' journal lines.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from datetime import UTC, datetime

RUN_ID_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"


def new_run_id() -> str:
    """A short id people can type: ``r`` and six unambiguous characters."""
    return "r" + "".join(secrets.choice(RUN_ID_ALPHABET) for _ in range(6))


def new_release_id(now: datetime | None = None) -> str:
    """Capistrano's release id: UTC ``YYYYMMDDHHMMSS``."""
    return (now or datetime.now(UTC)).astimezone(UTC).strftime("%Y%m%d%H%M%S")


class ReleaseIds:
    """New release ids for one engine, unique even for two runs that start in the same second (the second waits)."""

    def __init__(self) -> None:
        self._lock = asyncio.Lock()
        self._last = ""

    async def next(self) -> str:
        async with self._lock:
            rid = new_release_id()
            while rid <= self._last:
                await asyncio.sleep(0.2)
                rid = new_release_id()
            self._last = rid
            return rid


def utc_minute(ts: float) -> str:
    """A timestamp as people read it in chat and on the terminal: ``2026-11-29 16:04 UTC``."""
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(ts))


def utc_iso(ts: float | None = None) -> str:
    """A timestamp for records (journal lines): ``2026-11-29T16:04:08Z``; now when ``ts`` is None."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() if ts is None else ts))
