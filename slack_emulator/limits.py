"""Rate limits, the way Slack applies them.

Slack limits Web API methods per workspace per minute in tiers (Tier 3 is about 50 calls a
minute, Tier 4 about 100) and some methods more finely: ``chat.postMessage`` about one
message a second per channel, bursts tolerated. A refused call answers HTTP 429 with a
``Retry-After`` header and ``{"ok": false, "error": "ratelimited"}``.

:class:`RateRule` is one sliding-window rule (``limit`` calls per ``window`` seconds) keyed by
workspace, channel or single message. :class:`RateLimiter` holds the rules plus *storms*: a
test can say "the next N calls of this method answer 429 with Retry-After R" to exercise a
client's back-off without having to really flood the emulator. Only calls that pass count
against a window, as with Slack.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

Scope = Literal["workspace", "channel", "message"]
ANY_METHOD = "*"


@dataclass(frozen=True)
class RateRule:
    """At most ``limit`` calls of ``method`` per ``window`` seconds, counted per ``scope``."""

    method: str
    limit: int
    window: float = 60.0
    scope: Scope = "workspace"

    def key(self, args: Mapping[str, Any]) -> tuple[str, ...]:
        """The bucket a call falls into under this rule."""
        if self.scope == "channel":
            return (str(args.get("channel", "")),)
        if self.scope == "message":
            return (str(args.get("channel", "")), str(args.get("ts", "")))
        return ()

    def to_json(self) -> dict[str, Any]:
        return {"method": self.method, "limit": self.limit, "window": self.window, "scope": self.scope}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RateRule:
        scope = str(data.get("scope", "workspace"))
        if scope not in ("workspace", "channel", "message"):
            raise ValueError(f"unknown scope {scope!r}")
        return cls(
            method=str(data["method"]),
            limit=int(data["limit"]),
            window=float(data.get("window", 60.0)),
            scope=scope,  # type: ignore[arg-type]
        )


def slack_default_rules() -> list[RateRule]:
    """Roughly Slack's published tiers; generous enough for a bot behaving well."""
    return [
        RateRule("chat.postMessage", limit=10, window=10.0, scope="channel"),
        RateRule("chat.update", limit=50, window=60.0),
        RateRule("chat.postEphemeral", limit=100, window=60.0),
        RateRule("chat.delete", limit=50, window=60.0),
        RateRule("users.info", limit=100, window=60.0),
        RateRule("conversations.info", limit=100, window=60.0),
        RateRule("usergroups.users.list", limit=20, window=60.0),
        RateRule("auth.test", limit=100, window=60.0),
        RateRule("files.getUploadURLExternal", limit=20, window=60.0),
        RateRule("files.completeUploadExternal", limit=20, window=60.0),
    ]


@dataclass
class Storm:
    """The next ``remaining`` calls of ``method`` (``*`` = any) are refused."""

    method: str
    remaining: int
    retry_after: int


class RateLimiter:
    """Sliding-window rules plus forced storms; :meth:`check` says whether a call may pass."""

    def __init__(self, rules: Iterable[RateRule] = ()) -> None:
        self._rules: list[RateRule] = list(rules)
        self._hits: dict[tuple[RateRule, tuple[str, ...]], deque[float]] = {}
        self._storms: list[Storm] = []

    @property
    def rules(self) -> list[RateRule]:
        return list(self._rules)

    @property
    def storms(self) -> list[Storm]:
        return [s for s in self._storms if s.remaining > 0]

    def set_rule(self, rule: RateRule) -> None:
        """Add ``rule``, replacing any rule for the same method and scope."""
        self._rules = [r for r in self._rules if (r.method, r.scope) != (rule.method, rule.scope)]
        self._rules.append(rule)
        self._hits = {k: v for k, v in self._hits.items() if k[0] in self._rules}

    def remove_rules(self, method: str | None = None) -> None:
        """Drop the rules for ``method``, or all rules."""
        self._rules = [r for r in self._rules if method is not None and r.method != method]
        self._hits = {k: v for k, v in self._hits.items() if k[0] in self._rules}

    def storm(self, method: str, count: int, retry_after: int = 1) -> Storm:
        """Make the next ``count`` calls of ``method`` answer 429 with ``Retry-After: retry_after``."""
        storm = Storm(method=method, remaining=count, retry_after=retry_after)
        self._storms.append(storm)
        return storm

    def reset(self) -> None:
        """Forget counted calls and storms (rules stay)."""
        self._hits.clear()
        self._storms.clear()

    def check(self, method: str, args: Mapping[str, Any], now: float | None = None) -> int | None:
        """``None`` if the call may go ahead (and count it), else the Retry-After seconds."""
        for storm in self._storms:
            if storm.remaining > 0 and storm.method in (method, ANY_METHOD):
                storm.remaining -= 1
                return storm.retry_after
        self._storms = [s for s in self._storms if s.remaining > 0]
        now = time.monotonic() if now is None else now
        buckets: list[deque[float]] = []
        for rule in self._rules:
            if rule.method not in (method, ANY_METHOD):
                continue
            hits = self._hits.setdefault((rule, rule.key(args)), deque())
            while hits and hits[0] <= now - rule.window:
                hits.popleft()
            if len(hits) >= rule.limit:
                return max(1, math.ceil(hits[0] + rule.window - now))
            buckets.append(hits)
        for hits in buckets:
            hits.append(now)
        return None
