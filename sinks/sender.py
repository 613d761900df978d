"""The outbox's sender: claims the due head of each queue (:meth:`deploy.notify.outbox.Outbox.claim`, a lease by the
database's clock, so that of several replicas and CLI runs one sends a row at a time), delivers the claimed rows
concurrently (each is the head of its own queue, so order within a queue holds), and records each outcome:
delivered; retried after the backoff (or the receiver's ``Retry-After``); given up when refused for good or after
24 hours. Every store call goes through the store's door (never a statement on the event loop).

``tick()`` claims and starts the deliveries without waiting for them (a slow sink holds its own queue only; the
bot's timer calls it, :func:`cli.loops.deliver`); ``settle()`` waits for those in flight; ``drain(within)`` rounds
until the rows due now are sent or ``within`` seconds have passed (``shipbot deploy`` before it exits). ``close()``
cancels what is still in flight: those rows' claims run out and they are sent again (at least once).

Rows for a Slack channel (sink ``slack``: a flag change made on the command line) are sent only by a sender given
``slack``, the bot's poster; any other sender (``shipbot flag`` before it exits) leaves them to a running bot.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

import aiohttp
import structlog

from deploy.errors import StoreError
from deploy.notify.outbox import CLAIM_FOR, FIRST_DELAY, GAVE_UP, MAX_DELAY, Notification, backoff
from deploy.store.tables import Store
from sinks import github, gitlab, irc, teams, webhook
from sinks.attempts import Attempt, Delivered, MissingSecret, Refused, Retry

log = structlog.get_logger("shipbot.sinks")
BATCH = 20  # rows claimed per round
SLACK = "slack"

SlackPost = Callable[[Mapping[str, Any], Mapping[str, Any]], Awaitable[tuple[bool, str] | None]]
"""Posts an event (its document) in a Slack channel (its target): ``None`` when posted, else ``(final, error)``:
``final`` when Slack refuses it for good (an unknown channel), else it is tried again after the backoff."""


class SinkMetrics(Protocol):
    def notification_sent(self, sink: str, outcome: str) -> None: ...  # delivered | retried | gave_up

    def notifications_pending(self, counts: dict[str, int]) -> None: ...


class _StoreDeployments:
    """The forges' deployment ids, kept in the store (through its door)."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def known(self, forge: str, repo: str, run_id: str) -> str | None:
        return await self._store.door(self._store.outbox.deployment_of, forge, repo, run_id)

    async def remember(self, forge: str, repo: str, deployment_id: str, run_id: str) -> None:
        await self._store.door(self._store.outbox.remember_deployment, forge, repo, deployment_id, run_id)

    async def taken(self, forge: str, repo: str, deployment_id: str) -> bool:
        return await self._store.door(self._store.outbox.created_here, forge, repo, deployment_id)


class Sender:
    """Delivers the outbox of ``store``; ``first_delay``/``longest`` shape the backoff (seconds)."""

    def __init__(
        self,
        store: Store,
        metrics: SinkMetrics | None = None,
        *,
        first_delay: float = FIRST_DELAY,
        longest: float = MAX_DELAY,
        claim_for: float = CLAIM_FOR,
        clock: Callable[[], float] = time.monotonic,
        slack: SlackPost | None = None,
    ) -> None:
        self._store = store
        self._slack = slack
        self._skip = () if slack is not None else (SLACK,)
        self._metrics = metrics
        self._first = first_delay
        self._longest = longest
        self._claim_for = claim_for
        self._clock = clock
        self._memory = _StoreDeployments(store)
        self._session: aiohttp.ClientSession | None = None
        self._flying: set[asyncio.Task[None]] = set()

    async def close(self, grace: float = 0.0) -> None:
        """Wait up to ``grace`` seconds for the deliveries in flight, cancel the rest, close the HTTP session."""
        if self._flying and grace > 0:
            await asyncio.wait(self._flying, timeout=grace)
        for task in self._flying:
            task.cancel()
        await asyncio.gather(*self._flying, return_exceptions=True)
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def tick(self) -> int:
        """Claim the due heads and start delivering them; returns how many started. Raises StoreError when the
        database does not answer (the caller tries again on its next tick)."""
        outbox = self._store.outbox
        claimed = await self._store.door(outbox.claim, self._store.owner, BATCH, self._claim_for, self._skip)
        if claimed and self._session is None:
            self._session = aiohttp.ClientSession()
        for n in claimed:
            assert self._session is not None
            task = asyncio.create_task(self._one(n, self._session), name=f"notify-{n.id}")
            self._flying.add(task)
            task.add_done_callback(self._flying.discard)
        if self._metrics is not None:
            self._metrics.notifications_pending(await self._store.door(outbox.pending_by_sink))
        return len(claimed)

    async def settle(self) -> None:
        """Wait for the deliveries in flight."""
        while self._flying:
            await asyncio.gather(*self._flying, return_exceptions=True)

    async def drain(self, within: float) -> int:
        """Rounds until nothing is claimable now or ``within`` seconds have passed; returns the rows attempted.
        What is still in flight then is cancelled by :meth:`close`."""
        end = self._clock() + within
        done = 0
        while self._clock() < end:
            started = await self.tick()
            done += started
            if started == 0:
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self.settle()), max(0.0, end - self._clock()))
        return done

    async def _one(self, n: Notification, session: aiohttp.ClientSession) -> None:
        with structlog.contextvars.bound_contextvars(
            notification=n.id, sink=n.sink, event_type=n.type, run_id=n.run_id, attempt=n.attempts + 1
        ):
            try:
                outcome = await self._send(n, session)
            except MissingSecret as exc:
                outcome = Retry(str(exc))
            except Exception as exc:  # a sink's bug must not stop the others: recorded, retried
                log.exception("notification_crashed")
                outcome = Retry(f"internal error: {type(exc).__name__}")
            try:
                await self._record(n, outcome)
            except StoreError as err:  # the claim runs out and the row is sent again (at least once)
                log.warning("notification_not_recorded", error=str(err))

    async def _send(self, n: Notification, session: aiohttp.ClientSession) -> Attempt:
        if n.sink == "webhook":
            return await webhook.deliver(session, n.id, n.target, n.document)
        if n.sink == "teams":
            return await teams.deliver(session, n.id, n.target, n.document)
        if n.sink == "irc":
            return await irc.deliver(n.id, n.target, n.document)
        if n.sink == "github":
            return await github.deliver(session, n.id, n.target, n.document, self._memory, again=n.attempts > 0)
        if n.sink == "gitlab":
            return await gitlab.deliver(session, n.id, n.target, n.document, self._memory, again=n.attempts > 0)
        if n.sink == SLACK and self._slack is not None:
            failed = await self._slack(n.target, n.document)
            if failed is None:
                return Delivered()
            return Refused(failed[1]) if failed[0] else Retry(failed[1])
        return Refused(f"unknown sink {n.sink!r}")

    async def _record(self, n: Notification, outcome: Attempt) -> None:
        outbox, owner = self._store.outbox, self._store.owner
        if isinstance(outcome, Delivered):
            await self._store.door(outbox.delivered, n.seq, owner)
            log.info("notification_delivered")
            self._count(n.sink, "delivered")
            return
        if isinstance(outcome, Retry):
            wait = backoff(n.attempts + 1, self._first, self._longest)
            delay = min(MAX_DELAY, outcome.after) if outcome.after is not None else wait  # the receiver knows best
            state = await self._store.door(outbox.failed, n.seq, owner, outcome.error, delay)
        else:
            delay = 0.0
            state = await self._store.door(outbox.failed, n.seq, owner, outcome.error, None)
        if state == GAVE_UP:
            log.warning("notification_gave_up", error=outcome.error)
            self._count(n.sink, "gave_up")
        else:
            log.info("notification_retried", error=outcome.error, retry_in=round(delay, 1))
            self._count(n.sink, "retried")

    def _count(self, sink: str, outcome: str) -> None:
        if self._metrics is not None:
            self._metrics.notification_sent(sink, outcome)
