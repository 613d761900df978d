"""The Slack app: bolt listeners stay thin (ack, drop re-deliveries, hand the text to the command language,
render the reply). Deploys run in tasks owned by the command language's supervisor, never in a listener.

Inputs: ``/deploy <text>``, mentions (``app_mention`` in channels), and direct messages (``message`` in an IM).
Slack re-delivers events it thinks were not acknowledged (``retry_attempt`` 1..3) and sends one mention both as
``app_mention`` and as ``message``; :meth:`SlackBot.first_delivery` lets each human message through once, keyed by
``event_id`` and by ``(channel, ts)`` in :class:`~bot.deliveries.Deliveries` (atomic across processes, remembered for
``dedupe_ttl``).
Buttons (Cancel, Continue, Abort, Approve, Reject, Roll back) go through the same service entry points, which check
the clicker's permission; a refusal is shown only to the clicker. While shutting down only new commands are refused:
Cancel, Continue and Abort act on runs the bot is finishing, so they are answered in every shutdown mode. What a
command or a click does is logged with the user and channel bound (structlog contextvars).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.deliveries import Deliveries
from bot.metrics import BotMetrics
from bot.preview_blocks import PREVIEW_REPLIES, render_preview
from bot.reply_blocks import Message, render
from bot.run_reports import SlackRunReporter
from bot.slack_calls import safe
from commands.replies import Approved, AwaitingApproval, Reply
from commands.usecases import ChatService

log = structlog.get_logger("shipbot.bot")
_MENTION = re.compile(r"^\s*<@[UW][A-Z0-9]+>\s*")
SETTLE = 0.3  # seconds with nothing being answered before a stopping bot counts as idle
RESTARTING = "shipbot is restarting and is not taking commands right now; try again in a minute."


class SlackBot:
    def __init__(
        self,
        client: AsyncWebClient,
        service: ChatService,
        deliveries: Deliveries,
        reporter: SlackRunReporter,
        metrics: BotMetrics,
        *,
        signing_secret: str | None = None,
        dedupe_ttl: float = 3600.0,
    ) -> None:
        self.client = client
        self.service = service
        self.deliveries = deliveries
        self.reporter = reporter
        self.metrics = metrics
        self.dedupe_ttl = dedupe_ttl
        self.accepting = True
        self.in_flight = 0  # commands and clicks being answered now (a stopping bot waits for them)
        self._idle = asyncio.Event()
        self._idle.set()
        self.app = AsyncApp(
            client=client,
            signing_secret=signing_secret,
            request_verification_enabled=signing_secret is not None,
            process_before_response=False,
        )
        self._register()

    # -- exactly once -----------------------------------------------------------------------------------------

    def first_delivery(self, body: dict[str, Any]) -> bool:
        """True for the first delivery of a human message; False for re-deliveries and the mention's twin."""
        event = body.get("event") or {}
        keys = []
        if body.get("event_id"):
            keys.append(f"event:{body['event_id']}")
        if event.get("channel") and event.get("ts"):
            keys.append(f"msg:{event['channel']}:{event['ts']}")
        fresh = [self.deliveries.first_time(k, self.dedupe_ttl) for k in keys]
        if not all(fresh):
            log.info("duplicate_delivery_dropped", keys=keys, retry=body.get("retry_attempt"))
            return False
        return True

    # -- answering --------------------------------------------------------------------------------------------

    async def answer(
        self,
        text: str,
        user: str,
        channel: str,
        *,
        thread_ts: str | None = None,
        respond: AsyncRespond | None = None,
        slash: bool = False,
    ) -> None:
        """Answer one message; ``slash`` when ``text`` is what followed ``/deploy`` (Slack's ``text`` field)."""
        if not self.accepting:
            await self._post(Message(RESTARTING, ephemeral=True), user, channel, thread_ts, respond)
            return
        self._busy(1)
        try:
            with structlog.contextvars.bound_contextvars(user=user, channel=channel):
                log.info("command_received", slash=slash)
                reply = await self.service.handle(text, user, channel, slash=slash)
            word = "/deploy" if slash else text.split(maxsplit=1)[0].lower() if text.strip() else "-"
            self.metrics.command_answered(word[:20], type(reply).__name__)
            await self._deliver(reply, user, channel, thread_ts, respond)
        finally:
            self._busy(-1)

    async def idle(self, timeout: float) -> None:
        """Wait (at most ``timeout`` seconds) until no command or click is being answered."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._idle.wait(), deadline - loop.time())
            await asyncio.sleep(SETTLE)  # an event read just before the connection closed may still be on its way
            if self._idle.is_set():
                return

    def _busy(self, delta: int) -> None:
        self.in_flight += delta
        if self.in_flight:
            self._idle.clear()
        else:
            self._idle.set()

    async def _deliver(
        self, reply: Reply, user: str, channel: str, thread_ts: str | None, respond: AsyncRespond | None
    ) -> None:
        message = render_preview(reply) if isinstance(reply, PREVIEW_REPLIES) else render(reply)
        ts = await self._post(message, user, channel, thread_ts, respond)
        approval = reply if isinstance(reply, AwaitingApproval) else None
        if isinstance(reply, Approved) and isinstance(reply.then, AwaitingApproval):  # pragma: no cover
            approval = reply.then
        if approval is not None and ts:
            self.reporter.track_approval(approval.run.run_id, channel, ts)
            self.service.approval_posted(approval.run.run_id, channel, ts)  # found again after a restart

    async def _post(
        self, message: Message, user: str, channel: str, thread_ts: str | None, respond: AsyncRespond | None
    ) -> str | None:
        if message.ephemeral:
            if respond is not None:
                call = respond(
                    text=message.fallback, blocks=message.blocks, response_type="ephemeral", replace_original=False
                )
                await safe(self.metrics, "response_url", call)
                return None
            if not channel.startswith("D"):
                await safe(
                    self.metrics,
                    "chat.postEphemeral",
                    self.client.chat_postEphemeral(
                        channel=channel, user=user, text=message.fallback, blocks=message.blocks, thread_ts=thread_ts
                    ),
                )
                return None
        data = await safe(
            self.metrics,
            "chat.postMessage",
            self.client.chat_postMessage(
                channel=channel, text=message.fallback, blocks=message.blocks, thread_ts=thread_ts, unfurl_links=False
            ),
        )
        return str(data["ts"]) if data and data.get("ts") else None

    # -- listeners --------------------------------------------------------------------------------------------

    def _register(self) -> None:
        app = self.app

        @app.command("/deploy")
        async def slash(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
            await ack()
            await self.answer(str(body.get("text", "")), str(body.get("user_id", "")), str(body.get("channel_id", "")),
                              respond=respond, slash=True)  # fmt: skip

        @app.event("app_mention")
        async def mention(body: dict[str, Any], event: dict[str, Any]) -> None:
            if not self.first_delivery(body):
                return
            text = _MENTION.sub("", str(event.get("text", "")), count=1)
            await self.answer(text, str(event.get("user", "")), str(event.get("channel", "")),
                              thread_ts=event.get("thread_ts"))  # fmt: skip

        @app.event("message")
        async def message(body: dict[str, Any], event: dict[str, Any]) -> None:
            if event.get("channel_type") != "im" or event.get("subtype") or event.get("bot_id"):
                return  # channel messages reach the bot as app_mention; edits and bot posts are not commands
            if not self.first_delivery(body):
                return
            text = _MENTION.sub("", str(event.get("text", "")), count=1)
            await self.answer(text, str(event.get("user", "")), str(event.get("channel", "")))

        def button(
            handler: Callable[[str, str, str], Awaitable[Reply]], *, new: bool = True
        ) -> Callable[..., Awaitable[None]]:
            """``new``: the click starts something (approve, roll back), refused while shutting down; cancel and
            the pause's Continue/Abort act on a running deploy and are answered until the bot is gone."""

            async def on_click(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
                await ack()
                user = str((body.get("user") or {}).get("id", ""))
                channel = str((body.get("channel") or {}).get("id", "")) or str(
                    (body.get("container") or {}).get("channel_id", "")
                )
                value = str(((body.get("actions") or [{}])[0]).get("value", ""))
                if new and not self.accepting:
                    await self._post(Message(RESTARTING, ephemeral=True), user, channel, None, respond)
                    return
                self._busy(1)
                try:
                    with structlog.contextvars.bound_contextvars(user=user, channel=channel, run_id=value):
                        reply = await handler(value, user, channel)
                    self.metrics.command_answered("button", type(reply).__name__)
                    await self._deliver(reply, user, channel, None, respond)
                finally:
                    self._busy(-1)

            return on_click

        svc = self.service
        app.action("run_cancel")(button(svc.cancel, new=False))
        app.action("run_rollback")(button(svc.rollback_run))
        app.action("run_approve")(button(svc.approve))
        app.action("run_continue")(
            button(lambda run_id, user, channel: svc.resume(run_id, user, channel, True), new=False)
        )
        app.action("run_abort")(
            button(lambda run_id, user, channel: svc.resume(run_id, user, channel, False), new=False)
        )
        app.action("run_reject")(button(lambda run_id, user, channel: svc.reject(run_id, user, "", channel)))
