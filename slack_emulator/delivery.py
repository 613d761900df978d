"""Delivery of envelopes to the app, with Slack's acknowledgement and retry rules.

A :class:`Delivery` is one thing Slack owes the app: an Events API event, a slash command
or an interaction. Each try is an :class:`Attempt` with its own ``envelope_id``. The
:class:`Dispatcher` hands attempts to a :class:`Transport` (Socket Mode or signed HTTP) and
waits ``ack_timeout`` seconds for the acknowledgement. Events that were not acknowledged in
time are sent again with ``retry_attempt`` 1..``max_retries`` and a ``retry_reason``; slash
commands and interactions are never retried (Slack tells the user the app did not respond).
Ack latency is kept per attempt. Tests can also re-deliver any past event on demand to check
the app's de-duplication.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from slack_emulator.changes import ChangeFeed

JSON = dict[str, Any]
Kind = Literal["events_api", "slash_commands", "interactive"]


@dataclass
class Attempt:
    """One try at delivering a :class:`Delivery`."""

    envelope_id: str
    retry_attempt: int
    retry_reason: str
    sent_at: float | None = None
    acked_at: float | None = None
    #: pending, sent, acked, timeout, undeliverable, http_timeout, http_error, connection_failed, no_retry
    outcome: str = "pending"
    http_status: int | None = None
    connection: str | None = None

    @property
    def ack_latency(self) -> float | None:
        """Seconds from sending to the acknowledgement."""
        if self.sent_at is None or self.acked_at is None:
            return None
        return self.acked_at - self.sent_at

    def to_json(self) -> JSON:
        return {
            "envelope_id": self.envelope_id,
            "retry_attempt": self.retry_attempt,
            "retry_reason": self.retry_reason,
            "sent_at": self.sent_at,
            "acked_at": self.acked_at,
            "ack_latency": self.ack_latency,
            "outcome": self.outcome,
            "http_status": self.http_status,
            "connection": self.connection,
        }


@dataclass
class Delivery:
    """Something owed to the app, with every attempt made at it."""

    id: str
    kind: Kind
    payload: JSON
    event_id: str | None = None
    created_at: float = field(default_factory=time.time)
    attempts: list[Attempt] = field(default_factory=list)
    status: str = "pending"  # pending, acked, failed
    ack_payload: JSON | None = None
    acked: asyncio.Event = field(default_factory=asyncio.Event)

    def envelope(self, attempt: Attempt) -> JSON:
        """The Socket Mode envelope for ``attempt``."""
        envelope: JSON = {
            "envelope_id": attempt.envelope_id,
            "payload": self.payload,
            "type": self.kind,
            "accepts_response_payload": self.kind == "slash_commands",
        }
        if self.kind == "events_api":
            envelope["retry_attempt"] = attempt.retry_attempt
            envelope["retry_reason"] = attempt.retry_reason
        return envelope

    def to_json(self) -> JSON:
        return {
            "id": self.id,
            "kind": self.kind,
            "event_id": self.event_id,
            "event_type": (self.payload.get("event") or {}).get("type") if self.kind == "events_api" else None,
            "status": self.status,
            "created_at": self.created_at,
            "ack_payload": self.ack_payload,
            "attempts": [a.to_json() for a in self.attempts],
            "payload": self.payload,
        }


class Transport(Protocol):
    """Socket Mode or HTTP: sends one attempt, sets its ``outcome``, may acknowledge it."""

    kind: str

    async def send(self, delivery: Delivery, attempt: Attempt, deadline: float) -> None: ...


AckHook = Callable[[Delivery], Awaitable[None]]

HTTP_RETRY_REASONS = {
    "http_timeout": "http_timeout",
    "timeout": "http_timeout",
    "http_error": "http_error",
    "connection_failed": "connection_failed",
}


class Dispatcher:
    """Runs deliveries through a transport and tracks acknowledgements."""

    def __init__(self, feed: ChangeFeed, ack_timeout: float = 3.0, max_retries: int = 3) -> None:
        self.feed = feed
        self.ack_timeout = ack_timeout
        self.max_retries = max_retries
        self.transport: Transport | None = None
        self.on_ack: AckHook | None = None
        self.on_fail: AckHook | None = None
        self.deliveries: dict[str, Delivery] = {}
        self._by_envelope: dict[str, tuple[Delivery, Attempt]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def _spawn(self, coro: Awaitable[None]) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def submit(self, kind: Kind, payload: JSON) -> Delivery:
        """Start delivering ``payload``; returns at once with the :class:`Delivery`."""
        event_id = str(payload["event_id"]) if kind == "events_api" else None
        delivery = Delivery(
            id=event_id or f"{kind}-{uuid.uuid4().hex[:12]}", kind=kind, payload=payload, event_id=event_id
        )
        self.deliveries[delivery.id] = delivery
        self.feed.bump()
        self._spawn(self._run(delivery))
        return delivery

    def _new_attempt(self, delivery: Delivery, retry_attempt: int, reason: str) -> Attempt:
        attempt = Attempt(envelope_id=str(uuid.uuid4()), retry_attempt=retry_attempt, retry_reason=reason)
        delivery.attempts.append(attempt)
        self._by_envelope[attempt.envelope_id] = (delivery, attempt)
        return attempt

    async def _send(self, delivery: Delivery, attempt: Attempt) -> float:
        deadline = time.monotonic() + self.ack_timeout
        if self.transport is None:
            attempt.outcome = "undeliverable"
        else:
            await self.transport.send(delivery, attempt, deadline)
        self.feed.bump()
        return deadline

    async def _run(self, delivery: Delivery) -> None:
        retries = self.max_retries if delivery.kind == "events_api" else 0
        reason = ""
        for n in range(retries + 1):
            if delivery.acked.is_set():
                return
            attempt = self._new_attempt(delivery, n, reason)
            deadline = await self._send(delivery, attempt)
            if not delivery.acked.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(delivery.acked.wait(), max(0.0, deadline - time.monotonic()))
            if delivery.acked.is_set():
                return
            if attempt.outcome in ("pending", "sent"):
                attempt.outcome = "timeout"
            if attempt.outcome == "no_retry":
                break
            http = self.transport is not None and self.transport.kind == "http"
            reason = HTTP_RETRY_REASONS.get(attempt.outcome, "unknown_error") if http else "timeout"
        delivery.status = "failed"
        self.feed.bump()
        if self.on_fail is not None:
            await self.on_fail(delivery)

    def ack(self, envelope_id: str, payload: JSON | None = None) -> bool:
        """Record the app's acknowledgement of ``envelope_id``; False if unknown."""
        found = self._by_envelope.get(envelope_id)
        if found is None:
            return False
        delivery, attempt = found
        if attempt.acked_at is None:
            attempt.acked_at = time.time()
            attempt.outcome = "acked"
        if delivery.status == "pending":
            delivery.status = "acked"
            delivery.ack_payload = payload
            delivery.acked.set()
            if self.on_ack is not None:
                self._spawn(self.on_ack(delivery))
        self.feed.bump()
        return True

    def find(self, ref: str) -> Delivery | None:
        """A delivery by id, event id or any of its envelope ids."""
        if ref in self.deliveries:
            return self.deliveries[ref]
        found = self._by_envelope.get(ref)
        return found[0] if found is not None else None

    async def redeliver(self, ref: str, reason: str = "timeout") -> Attempt:
        """Send a past delivery once more as a retry (same event_id, next retry_attempt)."""
        delivery = self.find(ref)
        if delivery is None:
            raise KeyError(ref)
        attempt = self._new_attempt(delivery, len(delivery.attempts), reason)
        await self._send(delivery, attempt)
        return attempt

    async def wait_acked(self, ref: str, timeout: float = 5.0) -> Delivery:
        delivery = self.find(ref)
        if delivery is None:
            raise KeyError(ref)
        await asyncio.wait_for(delivery.acked.wait(), timeout)
        return delivery

    def reset(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        self.deliveries.clear()
        self._by_envelope.clear()

    async def close(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
