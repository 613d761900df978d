"""A change counter that waiters can block on.

Every mutation the emulator makes that a test or the web page may want to see (a message
posted, edited or deleted, a Web API call logged, an envelope delivered or acknowledged)
bumps one monotonically increasing sequence number. Readers remember the last number they
saw and call :meth:`ChangeFeed.wait` to sleep until something newer exists: that is the
``since`` cursor of the control API and the basis of long-polling.
"""

from __future__ import annotations

import asyncio
import time


class ChangeFeed:
    """Monotonic sequence number plus a wake-up for everyone waiting on it."""

    def __init__(self) -> None:
        self.seq = 0
        self._event = asyncio.Event()
        self._closed = False

    def bump(self) -> int:
        """Record one change and wake all waiters; returns the new sequence number."""
        self.seq += 1
        event, self._event = self._event, asyncio.Event()
        event.set()
        return self.seq

    @property
    def closed(self) -> bool:
        return self._closed

    async def wait(self, since: int, timeout: float) -> int:
        """Wait until ``seq > since`` or ``timeout`` seconds passed; returns the current ``seq``.

        Once the feed is closed it returns at once (after yielding to the loop) and callers stop.
        """
        if self._closed:
            await asyncio.sleep(0)
            return self.seq
        deadline = time.monotonic() + timeout
        while self.seq <= since and not self._closed:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            event = self._event
            try:
                await asyncio.wait_for(event.wait(), remaining)
            except TimeoutError:
                break
        return self.seq

    def close(self) -> None:
        """Release every waiter for good (server shutdown)."""
        self._closed = True
        self._event.set()
