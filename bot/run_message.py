"""Live run reports in a channel: one message per run updated in place, detail in its thread.

A :class:`RunMessage` is an :data:`~deploy.events.EventSink` (the engine calls it synchronously; it only folds the
event into a :class:`~bot.run_view.RunView` and wakes its task) plus one owned task that talks to Slack:

- the first event posts the run message; later events mark it dirty and the task calls ``chat.update`` at most
  once per ``interval`` (about one a second, within Slack's limits even for 500 hosts): updates are coalesced,
  the newest state wins;
- step-level detail (per-phase tallies, each failing host's output tail, secrets already redacted by the engine)
  goes to the thread, batched into as few messages as fit;
- at the end, a plain line is broadcast from the thread to the channel so the team is notified, with no
  ``@channel``/``@here``.

Every Slack call goes through :func:`bot.slack_calls.safe`: a failing Slack never fails or slows a deploy.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Awaitable, Callable

import structlog
from slack_sdk.web.async_client import AsyncWebClient

from bot.metrics import BotMetrics
from bot.run_view import RunView
from bot.slack_calls import safe
from deploy.events import Event, RunFinished, RunStarted
from deploy.records import Commit, Shipment

log = structlog.get_logger("shipbot.report")
CommitsLoader = Callable[[str | None, str], Awaitable[list[Commit]]]
ShipmentLoader = Callable[[str | None, str], Awaitable[Shipment]]
_THREAD_CHUNK = 2900


class UpdateBudget:
    """``chat.update`` calls shared by every run's report: at most ``per_window`` in any ``window`` seconds.

    Slack limits ``chat.update`` per workspace (about 50 a minute). Each report already coalesces its own updates;
    with several runs at once, in-progress updates are skipped while the budget is tight (the next one carries the
    newest state), and some room is kept for the updates that end runs, which wait for a slot rather than be
    refused with 429.
    """

    def __init__(self, per_window: int = 45, window: float = 60.0) -> None:
        self.per_window = per_window
        self.window = window
        self._sent: deque[float] = deque()
        self._lock = asyncio.Lock()

    def try_take(self, reserve: int = 10) -> bool:
        """A slot for an in-progress update, leaving ``reserve`` slots for runs' final updates; no waiting."""
        now = time.monotonic()
        while self._sent and now - self._sent[0] >= self.window:
            self._sent.popleft()
        if len(self._sent) < max(1, self.per_window - reserve):
            self._sent.append(now)
            return True
        return False

    async def take(self) -> None:
        """A slot for a final update: waits until one is free."""
        async with self._lock:
            while True:
                now = time.monotonic()
                while self._sent and now - self._sent[0] >= self.window:
                    self._sent.popleft()
                if len(self._sent) < self.per_window:
                    self._sent.append(now)
                    return
                await asyncio.sleep(self.window - (now - self._sent[0]))


class RunMessage:
    """One run's live message in its channel, with its thread; see the module docstring."""

    def __init__(
        self,
        client: AsyncWebClient,
        metrics: BotMetrics,
        channel: str,
        run_id: str,
        *,
        interval: float = 1.0,
        commits: CommitsLoader | None = None,
        shipment: ShipmentLoader | None = None,
        forced: bool = False,
        on_finished: Callable[[RunView], None] | None = None,
        budget: UpdateBudget | None = None,
        on_posted: Callable[[str], Awaitable[None]] | None = None,
        ts: str | None = None,
        find_ts: Callable[[], Awaitable[str | None]] | None = None,
    ) -> None:
        """``ts``: the run's message when it was posted already (a run resumed after a restart): it is updated;
        ``find_ts`` looks it up (in the store) before the first post."""
        self.client = client
        self.metrics = metrics
        self.view = RunView(run_id, channel, forced=forced)
        self.interval = interval
        self.ts: str | None = ts
        self._commits = commits
        self._shipment = shipment
        self._on_finished = on_finished
        self._dirty = asyncio.Event()
        self._ended = asyncio.Event()
        self._budget = budget
        self._task: asyncio.Task[None] | None = None
        self._on_posted = on_posted
        self._find_ts = find_ts

    # -- the sink ---------------------------------------------------------------------------------------------

    def __call__(self, event: Event) -> None:
        self.view.apply(event)
        if isinstance(event, RunFinished):
            self._ended.set()
            if self._on_finished is not None:
                self._on_finished(self.view)
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._loop(), name=f"report-{self.view.run_id}")
        self._dirty.set()

    async def wait(self, timeout: float = 30.0) -> None:
        """Until the final report is out (or ``timeout``)."""
        if self._task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._task), timeout)
            except TimeoutError:
                log.warning("report_slow", run_id=self.view.run_id)

    async def aclose(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    # -- the task ---------------------------------------------------------------------------------------------

    async def _loop(self) -> None:
        view = self.view
        while True:
            await self._dirty.wait()
            self._dirty.clear()
            finished = view.finished is not None  # decided before publishing: an end that arrives meanwhile
            await self._publish(final=finished)  # sets the flag again and is published on the next turn
            if finished:
                await self._post_thread(view.thread_lines())
                await self._final()
                return
            with contextlib.suppress(TimeoutError):  # the end of the run is published at once
                await asyncio.wait_for(self._ended.wait(), self.interval)

    async def _publish(self, final: bool = False) -> None:
        view = self.view
        if self.ts is None and self._find_ts is not None:
            find, self._find_ts = self._find_ts, None
            self.ts = await find()
        if self.ts is None:
            if view.started is not None and view.started.kind == "deploy":
                await self._load_commits(view.started)
            data = await safe(
                self.metrics,
                "chat.postMessage",
                self.client.chat_postMessage(
                    channel=view.channel, text=view.summary_text(), blocks=view.blocks(), unfurl_links=False
                ),
            )
            if data is not None:
                self.ts = str(data.get("ts"))
                if self._on_posted is not None:
                    await self._on_posted(self.ts)
        else:
            if self._budget is not None and final:
                await self._budget.take()
            elif self._budget is not None and not self._budget.try_take():
                self._dirty.set()  # over budget: this state is skipped, a later update carries it
                await self._post_thread(view.thread_lines())
                return
            await safe(
                self.metrics,
                "chat.update",
                self.client.chat_update(
                    channel=view.channel, ts=self.ts, text=view.summary_text(), blocks=view.blocks()
                ),
            )
        await self._post_thread(view.thread_lines())

    async def _load_commits(self, started: RunStarted) -> None:
        """The commits the run ships (with ``shipment``: and the compare page, older than live)."""
        try:
            if self._shipment is not None:
                shipment = await asyncio.wait_for(self._shipment(started.previous_sha, started.sha), 5)
                self.view.shipment, self.view.commits = shipment, list(shipment.commits)
            elif self._commits is not None:
                self.view.commits = await asyncio.wait_for(self._commits(started.previous_sha, started.sha), 5)
        except Exception:  # the commit list is a courtesy; the report goes out without it
            log.warning("commit_list_unavailable", run_id=started.run_id)

    async def _post_thread(self, lines: list[str]) -> None:
        if not lines or self.ts is None:
            return
        chunks: list[str] = []
        for line in lines:
            if chunks and len(chunks[-1]) + len(line) + 1 <= _THREAD_CHUNK:
                chunks[-1] += "\n" + line
            else:
                chunks.append(line[:_THREAD_CHUNK])
        for chunk in chunks:
            await safe(
                self.metrics,
                "chat.postMessage",
                self.client.chat_postMessage(
                    channel=self.view.channel, thread_ts=self.ts, text=chunk,
                    blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": chunk}}],
                ),
            )  # fmt: skip

    async def _final(self) -> None:
        view = self.view
        finished: RunFinished | None = view.finished
        assert finished is not None
        line = view.final_line()
        await safe(
            self.metrics,
            "chat.postMessage",
            self.client.chat_postMessage(
                channel=view.channel, text=line, thread_ts=self.ts, reply_broadcast=self.ts is not None,
                unfurl_links=False,
            ),
        )  # fmt: skip
