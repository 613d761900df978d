"""The store's clock for the decisions made in Python: when an approval expires, whether a lock has ended, how old
a preview or a parked push is, when a freeze window is open.

Expiries and ages that the store compares in SQL use the database's clock in the statement itself (``db.now``, as
leases do). What the chat side computes from "now" uses :class:`StoreClock`, a function returning epoch seconds
like ``time.time``, but read from the database: it asks the database (:meth:`deploy.store.database.Database.clock`)
every
:data:`REFRESH` seconds and carries the reading forward on this process's monotonic clock in between, so replicas
whose wall clocks disagree still agree on what time it is, and a wall clock stepped by hand or by NTP changes
nothing. While the database does not answer, the last reading is carried forward (and the database asked again
after :data:`RETRY`); before the first reading there is nothing better than this machine's own clock.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

import structlog

from deploy.store.door import on_event_loop
from deploy.store.statements import DatabaseError

if TYPE_CHECKING:
    from deploy.store.database import Database

REFRESH = 30.0  # seconds between readings of the database's clock (the monotonic clock drifts far less than that)
RETRY = 5.0  # seconds before asking again a database that did not answer

log = structlog.get_logger("shipbot.store")


class StoreClock:
    def __init__(self, db: Database, refresh: float = REFRESH) -> None:
        self._db = db
        self._refresh = refresh
        self._reading: tuple[float, float] | None = None  # (the database's epoch seconds, monotonic then)
        self._next = 0.0  # monotonic time of the next reading
        self._asking: asyncio.Future[None] | None = None  # a reading on the store's thread, from the event loop

    def __call__(self) -> float:
        """The database's time now. On the event loop a due reading is asked through the store's door in the
        background (the last reading, carried forward by the monotonic clock, answers meanwhile)."""
        if time.monotonic() >= self._next:
            if not on_event_loop():
                self.read()
            elif self._asking is None or self._asking.done():
                self._asking = asyncio.ensure_future(self._db.door(self.read))
        if self._reading is None:
            return time.time()
        at, then = self._reading
        return at + (time.monotonic() - then)

    def read(self) -> None:
        """Ask the database for its time now (a statement; on failure the last reading stays)."""
        asked = time.monotonic()
        try:
            now = self._db.clock()
        except DatabaseError as err:
            self._next = time.monotonic() + RETRY
            log.warning("store_clock_unread", error=str(err))
            return
        answered = time.monotonic()
        self._reading = (now, (asked + answered) / 2)
        self._next = answered + self._refresh
