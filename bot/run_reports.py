"""The bot's side of runs and requests (implements :class:`commands.ports.RunReporter`).

``sink_for(run)`` gives each run its own :class:`~bot.run_message.RunMessage` (the live message in the run's channel);
``notify(notice)`` posts what happens to requests later (queue moves, approvals expiring or decided, runs that could
not start), updates approval messages so their buttons disappear once decided, and records run metrics.
``announce(announcement)`` (:class:`commands.ports.PushReporter`) posts what pushes did to the environments'
notify channels (:mod:`bot.push_blocks`). A run with no channel (an auto-deploy where no ``notify`` is set) is
not reported in chat.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Protocol

import structlog
from slack_sdk.web.async_client import AsyncWebClient

from bot.metrics import BotMetrics
from bot.mrkdwn import user
from bot.push_blocks import render_announcement
from bot.reply_blocks import render_notice
from bot.run_message import RunMessage, UpdateBudget
from bot.run_view import RunView
from bot.slack_calls import safe
from commands.ports import (
    Announcement,
    ApprovalAsked,
    ApprovalDecided,
    ApprovalExpired,
    EnginePort,
    Notice,
    RunAnnounced,
    RunEnded,
)
from commands.runs import RunRequest
from deploy.events import EventSink, null_sink
from deploy.run.repair import RepairReport

log = structlog.get_logger("shipbot.bot")


class RunPlaces(Protocol):
    """Where each run's message is, kept across restarts (the store's run ledger)."""

    async def remember_place(self, run_id: str, channel: str, message: str, permalink: str | None = None) -> None: ...

    async def place_of(self, run_id: str) -> tuple[str, str] | None: ...


class SlackRunReporter:
    def __init__(
        self,
        client: AsyncWebClient,
        metrics: BotMetrics,
        engines: Mapping[str, EnginePort],
        interval: float = 1.0,
        places: RunPlaces | None = None,
    ) -> None:
        self.places = places
        self.client = client
        self.metrics = metrics
        self.engines = engines
        self.interval = interval
        self.reports: dict[str, RunMessage] = {}
        self.budget = UpdateBudget()  # chat.update for every run together
        self.approval_messages: dict[str, tuple[str, str]] = {}  # run id -> (channel, ts)

    def sink_for(self, run: RunRequest) -> EventSink:
        """A run resumed after a restart (taken over while it waited at a pause) updates its message of before."""
        if not run.channel:
            return null_sink
        engine = self.engines.get(run.app)
        report = RunMessage(
            self.client,
            self.metrics,
            run.channel,
            run.run_id,
            interval=self.interval,
            shipment=engine.shipment if engine else None,
            forced=run.forced,
            on_finished=self._finished,
            budget=self.budget,
            on_posted=self._place_keeper(run),
            find_ts=self._place_finder(run),
        )
        self.reports[run.run_id] = report
        return report

    def _place_keeper(self, run: RunRequest) -> Callable[[str], Awaitable[None]] | None:
        places = self.places
        if places is None:
            return None

        async def keep(ts: str) -> None:
            """Where the run's message is, kept at once (a bot killed now is replaced by one that finds it), then
            its permalink (the ``url`` of the run's events for the sinks), one more call to Slack."""
            await places.remember_place(run.run_id, run.channel, ts)
            asked = self.client.chat_getPermalink(channel=run.channel, message_ts=ts)
            link = await safe(self.metrics, "chat.getPermalink", asked)
            if link and link.get("permalink"):
                await places.remember_place(run.run_id, run.channel, ts, str(link["permalink"]))

        return keep

    def _place_finder(self, run: RunRequest) -> Callable[[], Awaitable[str | None]] | None:
        """The message of a run resumed after a restart, looked up before its first post."""
        places = self.places
        if places is None:
            return None

        async def find() -> str | None:
            place = await places.place_of(run.run_id)
            return place[1] if place is not None and place[0] == run.channel else None

        return find

    def track_approval(self, run_id: str, channel: str, ts: str) -> None:
        """The message asking to approve ``run_id``: its buttons are replaced once the request is decided."""
        self.approval_messages[run_id] = (channel, ts)

    def _finished(self, view: RunView) -> None:
        if view.started is None or view.finished is None:
            return
        s, f = view.started, view.finished
        self.metrics.run_finished(s.kind, s.environment, f.outcome.value, f.duration, len(s.hosts))

    async def notify(self, notice: Notice) -> None:
        run = notice.run
        if isinstance(notice, ApprovalDecided | ApprovalExpired):
            await self._close_approval(notice)
        if isinstance(notice, RunEnded):
            report = self.reports.pop(run.run_id, None)
            if report is not None and notice.handed_over:
                await report.aclose()  # no final report comes from here
            elif report is not None:
                await report.wait()
        message = render_notice(notice)
        if message is not None and run.channel:
            await safe(
                self.metrics,
                "chat.postMessage",
                self.client.chat_postMessage(
                    channel=notice.channel if isinstance(notice, RunAnnounced) else run.channel,
                    text=message.fallback,
                    blocks=message.blocks,
                ),
            )

    async def announce(self, announcement: Announcement) -> str | None:
        """Post to every channel of the announcement; the ts of the message in the first one."""
        message = render_announcement(announcement)
        first: str | None = None
        for i, channel in enumerate(announcement.channels):
            data = await safe(
                self.metrics,
                "chat.postMessage",
                self.client.chat_postMessage(
                    channel=channel, text=message.fallback, blocks=message.blocks, unfurl_links=False
                ),
            )
            ts = str(data["ts"]) if data and data.get("ts") else None
            if i == 0:
                first = ts
                if ts and isinstance(announcement, ApprovalAsked):
                    self.track_approval(announcement.reply.run.run_id, channel, ts)
        return first

    async def _close_approval(self, notice: ApprovalDecided | ApprovalExpired) -> None:
        where = self.approval_messages.pop(notice.run.run_id, None) or notice.message  # posted by another replica
        if where is None:
            return
        if isinstance(notice, ApprovalDecided):
            verdict = "approved" if notice.approved else "rejected"
            line = f"{notice.run.run_id} {verdict} by {user(notice.by)}" if notice.by.isalnum() else verdict
        else:
            line = f"{notice.run.run_id}: approval expired"
        await self._close(where, line)

    async def decided_elsewhere(self, run_id: str, verdict: str, by: str) -> None:
        """An approval this bot asked for was decided (or expired) by another replica, which could not know where
        the message was yet: its buttons are replaced here."""
        where = self.approval_messages.pop(run_id, None)
        if where is not None:
            by_whom = f" by {user(by)}" if by.isalnum() else ""
            await self._close(
                where, f"{run_id}: approval expired" if verdict == "expired" else f"{run_id} {verdict}{by_whom}"
            )

    async def _close(self, where: tuple[str, str], line: str) -> None:
        await safe(
            self.metrics,
            "chat.update",
            self.client.chat_update(
                channel=where[0], ts=where[1], text=line,
                blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": line}}],
            ),
        )  # fmt: skip

    async def repaired(self, reports: Sequence[RepairReport], by: str = "") -> None:
        """A run a dead (or stopped) process left was repaired by this one, ``by`` (its name), at start-up or when
        its lease expired: its message (when known) now ends with it. A run taken over while it waits at a pause
        keeps its message and its Continue/Abort buttons; its thread says so."""
        who = f"shipbot `{by}`" if by else "this shipbot"
        for r in reports:
            place = await self.places.place_of(r.run.run_id) if self.places else None
            if place is None:
                continue
            line = f"{r.run.kind} `{r.run.run_id}` of {r.run.app} to {r.run.environment}: {r.message} (by {who})"
            if r.waiting:
                note = f"{who} took `{r.run.run_id}` over; it still waits here for Continue or Abort."
                post = self.client.chat_postMessage(channel=place[0], thread_ts=place[1], text=note)
                await safe(self.metrics, "chat.postMessage", post)
                continue
            block = {"type": "section", "text": {"type": "mrkdwn", "text": line[:2900]}}
            update = self.client.chat_update(channel=place[0], ts=place[1], text=line, blocks=[block])
            await safe(self.metrics, "chat.update", update)

    async def drain(self) -> None:
        for report in list(self.reports.values()):
            await report.wait()
