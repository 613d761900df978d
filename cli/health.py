"""Can the bot serve Slack right now? The answer ``/healthz`` gives (200 or 503).

- Not while it is shutting down (it takes no commands then).
- HTTP mode: only with a signing secret (without one every request from Slack is refused) and the Events API
  endpoint listening.
- Socket Mode: while the socket is connected, and for ``grace`` seconds after it dropped (the client reconnects
  on its own, usually within seconds; a refresh must not make an orchestrator restart the bot). The clock starts
  at start-up, so the first connection gets the same grace.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Literal


class SlackHealth:
    def __init__(
        self,
        mode: Literal["socket", "http"],
        *,
        signing_secret: bool,
        grace: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.mode = mode
        self.signing_secret = signing_secret
        self.grace = grace
        self._clock = clock
        self._down_since: float | None = clock()

    def check(self, *, accepting: bool, connected: bool) -> bool:
        """``connected``: the socket is open (Socket Mode) or the endpoint listens (HTTP mode)."""
        if not accepting:
            return False
        if self.mode == "http":
            return self.signing_secret and connected
        now = self._clock()
        if connected:
            self._down_since = None
            return True
        if self._down_since is None:
            self._down_since = now
        return now - self._down_since <= self.grace
