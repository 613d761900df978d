"""What one delivery attempt came to, and how an HTTP answer maps to it.

- :class:`Delivered`: the receiver took it (2xx).
- :class:`Retry`: try again later: a 5xx, 408 or 429, a timeout, a refused or closed connection, a TLS failure;
  ``after`` is the receiver's ``Retry-After`` in seconds when it sent one.
- :class:`Refused`: never retried: any other 4xx (or a 3xx: a receiver that moved is re-configured, not followed),
  a missing secret; listed by ``shipbot notifications --failed`` with the first line of the body.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

TIMEOUT = 15.0  # seconds one attempt may take (Standard Webhooks recommends 15 to 30)
RETRIED_4XX = (408, 429)


@dataclass(frozen=True)
class Delivered:
    detail: str = ""


@dataclass(frozen=True)
class Retry:
    error: str
    after: float | None = None


@dataclass(frozen=True)
class Refused:
    error: str


Attempt = Delivered | Retry | Refused


class MissingSecret(Exception):
    """The variable a sink names is not set in this process's environment."""

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"the variable {name} is not set")


def secret(name: str, environ: Mapping[str, str] | None = None) -> str:
    value = (os.environ if environ is None else environ).get(name, "")
    if not value:
        raise MissingSecret(name)
    return value


def retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header: delta-seconds or an HTTP date (RFC 9110 §10.2.3)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def first_line(body: str, limit: int = 200) -> str:
    line = next((ln.strip() for ln in body.splitlines() if ln.strip()), "")
    return re.sub(r"[\x00-\x1f\x7f]", " ", line)[:limit]


def answer(status: int, body: str, headers: Mapping[str, str]) -> Attempt:
    """The outcome of an HTTP answer (see the module's doc)."""
    if 200 <= status < 300:
        return Delivered(f"HTTP {status}")
    said = f"HTTP {status}" + (f": {first_line(body)}" if first_line(body) else "")
    if status >= 500 or status in RETRIED_4XX:
        return Retry(said, retry_after(headers.get("Retry-After")))
    return Refused(said)
