"""The log of every Web API (and response_url) call the app made.

Tests read it to see what the app did and how the emulator answered: the method, the
arguments, the HTTP status (429 included), Slack's error string and, for refused calls,
the ``Retry-After`` given.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from slack_emulator.changes import ChangeFeed

JSON = dict[str, Any]


@dataclass
class ApiCall:
    seq: int
    method: str
    status: int
    ok: bool
    error: str | None
    args: JSON
    retry_after: int | None = None
    at: float = field(default_factory=time.time)

    def to_json(self) -> JSON:
        return {
            "seq": self.seq,
            "method": self.method,
            "at": self.at,
            "status": self.status,
            "ok": self.ok,
            "error": self.error,
            "retry_after": self.retry_after,
            "args": self.args,
        }


class CallLog:
    def __init__(self, feed: ChangeFeed) -> None:
        self.feed = feed
        self.calls: list[ApiCall] = []

    def record(
        self, method: str, status: int, ok: bool, error: str | None, args: JSON, retry_after: int | None = None
    ) -> ApiCall:
        call = ApiCall(
            seq=self.feed.bump(), method=method, status=status, ok=ok, error=error, args=args, retry_after=retry_after
        )
        self.calls.append(call)
        return call

    def list(self, method: str | None = None, since: int = 0) -> list[ApiCall]:
        return [c for c in self.calls if (method is None or c.method == method) and c.seq > since]

    def clear(self) -> None:
        self.calls.clear()
        self.feed.bump()
