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
    """New release ids for one engine (or preview runner), each newer than the last it gave and than ``floor``.

    Two runs that start in the same second would name the same release folder, and the hosts refuse to build into a
    folder that exists (the run fails, changing nothing): a deploy that follows another within a second, from this
    process or from another process or replica on the same store (whose newest release the caller passes as
    ``floor``), waits for the next second. A floor further ahead than :data:`MAX_WAIT` (another machine's clock)
    is not waited for: the id is the second after it, which still sorts after every release before it.
    """

    MAX_WAIT = 2.0  # seconds

    def __init__(self) -> None:
        self._lock = asyncio.Lock()
        self._last = ""

    async def next(self, floor: str = "") -> str:
        async with self._lock:
            newest = max(self._last, floor if floor.isdigit() and len(floor) == 14 else "")
            rid = new_release_id()
            if rid <= newest:
                after = datetime.strptime(newest, "%Y%m%d%H%M%S").replace(tzinfo=UTC).timestamp() + 1
                wait = after - time.time()
                if wait <= self.MAX_WAIT:
                    await asyncio.sleep(max(wait, 0.0) + 0.01)
                rid = max(new_release_id(), new_release_id(datetime.fromtimestamp(after, UTC)))
            self._last = rid
            return rid


def utc_minute(ts: float) -> str:
    """A timestamp as people read it in chat and on the terminal: ``2026-11-29 16:04 UTC``."""
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(ts))


def utc_iso(ts: float | None = None) -> str:
    """A timestamp for records (journal lines): ``2026-11-29T16:04:08Z``; now when ``ts`` is None."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() if ts is None else ts))
