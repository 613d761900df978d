"""The Slack app: bolt listeners stay thin (ack, drop re-deliveries, hand the text to the command language,
render the reply). Deploys run in tasks owned by the command language's supervisor, never in a listener.

Inputs: ``/deploy <text>``, mentions (``app_mention`` in channels), and direct messages (``message`` in an IM).

Nothing typed is lost between the acknowledgement and the answer: a middleware writes every request
(:func:`bot.inbound.inbound`: message, slash command, click) to the store's inbox (:mod:`deploy.store.inbox`) with what
it said *before* bolt acknowledges it, and it is marked answered once answered. Slack re-delivers events it thinks were
not acknowledged (``retry_attempt`` 1..3) and sends one mention both as ``app_mention`` and as ``message``: the
inbox's key takes each human message once, on whichever replica (kept ``dedupe_ttl`` seconds). The bot renews what
it holds on its timer (:meth:`SlackBot.tick`); a request whose replica died after acknowledging it expires after the
lease TTL and is answered by the replica whose timer takes it over (:meth:`SlackBot.pick_up`; the same bot started
again counts), saying so. One received longer ago than :data:`STALE` is not carried out so late: its requester is
told to ask again.
Buttons (Cancel, Continue, Abort, Approve, Reject, Roll back) go through the same service entry points, which check
the clicker's permission; a refusal is shown only to the clicker. While shutting down only new commands are refused:
Cancel, Continue and Abort act on runs the bot is finishing, so they are answered in every shutdown mode. What a
command or a click does is logged with the user and channel bound (structlog contextvars).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

import structlog
from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.inbound import KIND, Inbound, inbound
from bot.metrics import BotMetrics
from bot.people import NamingWebClient
from bot.preview_blocks import PREVIEW_REPLIES, render_preview
from bot.reply_blocks import Message, render
from bot.run_reports import SlackRunReporter
from bot.slack_calls import safe
from commands.replies import Approved, AwaitingApproval, DryRunReply, Reply
from commands.reply_texts import STORE_NOT_ANSWERING
from commands.usecases import ChatService
from deploy.errors import StoreUnavailable
from deploy.ids import new_run_id
from deploy.store.ports import Inboxed

log = structlog.get_logger("shipbot.bot")
SETTLE = 0.3  # seconds with nothing being answered before a stopping bot counts as idle
RESTARTING = "shipbot is restarting and is not taking commands right now; try again in a minute."
STALE = 900.0  # seconds: a request left unanswered longer than this is not carried out when picked up
ACK_WAIT = 0.5  # seconds the acknowledgement waits for the inbox's write; a slower store answers after the ack
PICKED_UP = "picked up after the shipbot that received it stopped before answering"
Handler = Callable[[str, str, str], Awaitable[Reply]]


class SlackBot:
    def __init__(
        self,
        client: AsyncWebClient,
        service: ChatService,
        inbox: Inboxed,
        reporter: SlackRunReporter,
        metrics: BotMetrics,
        *,
        signing_secret: str | None = None,
        dedupe_ttl: float = 3600.0,
        run_ids: Callable[[], str] = new_run_id,
    ) -> None:
        self.client = client
        self.service = service
        self.inbox = inbox
        self.reporter = reporter
        self.metrics = metrics
        self.dedupe_ttl = dedupe_ttl
        self._run_ids = run_ids
        self.accepting = True
        self.in_flight = 0  # commands and clicks being answered now (a stopping bot waits for them)
        self._idle = asyncio.Event()
        self._idle.set()
        self._buttons: dict[str, tuple[Handler, bool]] = {}
        self._picked: set[asyncio.Task[None]] = set()
        self.app = AsyncApp(
            client=client,
            signing_secret=signing_secret,
            request_verification_enabled=signing_secret is not None,
            process_before_response=False,
        )
        self._register()

    # -- the inbox --------------------------------------------------------------------------------------------

    async def _write_down(
        self, body: dict[str, Any], context: AsyncBoltContext, next: Callable[[], Awaitable[None]]
    ) -> None:
        """Middleware, before bolt acknowledges: a request for the bot is written to the inbox; ``context["fresh"]``
        says whether this is its first delivery. The acknowledgement waits for the write at most :data:`ACK_WAIT`
        (Slack wants it within 3 s): a store slower than that (a lock held, a database failing over) gets the request
        acknowledged first and decided when the write lands (``context["writing"]``, awaited by :meth:`_take`); a
        store that does not answer at all has the person told to ask again, and nothing runs."""
        request = inbound(body)
        if request is not None:
            request = replace(request, run_id=self._run_ids())
            context["request"] = request
            writing = asyncio.ensure_future(self.inbox.receive(request.key, KIND, request.to_json()))
            try:
                context["fresh"] = await asyncio.wait_for(asyncio.shield(writing), ACK_WAIT)
            except TimeoutError:
                context["writing"] = writing
                log.warning("inbox_write_slow", key=request.key, waited=ACK_WAIT)
            except StoreUnavailable as err:  # not written down: the person is told to ask again, nothing runs
                context["fresh"], context["store_down"] = False, err
            if context.get("fresh") is False and "store_down" not in context:
                log.info("duplicate_delivery_dropped", key=request.key, retry=body.get("retry_attempt"))
        await next()

    async def tick(self) -> None:
        """The timer: renew what this bot holds, start answering what a stopped replica left (:meth:`pick_up`),
        forget what Slack can no longer re-deliver."""
        await self.inbox.renew()
        for entry in await self.inbox.take_over([KIND]):
            try:
                request = Inbound.from_json(entry.payload)
            except ValueError as err:
                log.error("inbox_entry_unreadable", key=entry.key, error=str(err))
                await self.inbox.answered(entry.key)
                continue
            log.warning("inbox_picked_up", key=entry.key, age=round(entry.age, 1), attempts=entry.attempts)
            task = asyncio.create_task(self.pick_up(request, entry.age), name=f"inbox-{entry.key}")
            self._picked.add(task)
            task.add_done_callback(self._picked.discard)
        await self.inbox.prune([KIND], self.dedupe_ttl)  # after the take-over: one left for hours is still answered

    async def pick_up(self, request: Inbound, age: float) -> None:
        """Answer ``request``, received ``age`` seconds ago by a replica that stopped before answering it."""
        respond = AsyncRespond(response_url=request.response_url) if request.response_url else None
        if age > STALE:
            words = request.text or request.action
            note = (
                f"Your request `{words}` from {age / 60:.0f} minutes ago was not carried out: {PICKED_UP}. "
                "Ask again if it still matters."
            )
            await self._settle(
                request,
                self._post(Message(note, ephemeral=True), request.user, request.channel, request.thread_ts, respond),
            )
            return
        try:
            await self.serve(request, respond, picked_up=True)
        except Exception:  # a task of its own: nobody else would hear of it
            log.exception("inbox_pick_up_failed", key=request.key)

    async def serve(self, request: Inbound, respond: AsyncRespond | None, *, picked_up: bool = False) -> None:
        """Answer one request from the inbox, then mark it answered (a bot stopped meanwhile leaves it to the next)."""
        if request.what == "click":
            work = self._click(request, respond, picked_up)
        else:
            work = self.answer(request.text, request.user, request.channel, thread_ts=request.thread_ts,
                               respond=respond, slash=request.what == "slash", picked_up=picked_up,
                               run_id=request.run_id or None)  # fmt: skip
        await self._settle(request, work)

    async def _settle(self, request: Inbound, work: Awaitable[object]) -> None:
        try:
            await work
        except asyncio.CancelledError:
            raise  # stopped before answering: left for the next process
        except Exception:
            await asyncio.shield(self.inbox.answered(request.key))  # a failure would fail elsewhere too
            raise
        await asyncio.shield(self.inbox.answered(request.key))

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
        picked_up: bool = False,
        run_id: str | None = None,
    ) -> None:
        """Answer one message; ``slash`` when ``text`` is what followed ``/deploy`` (Slack's ``text`` field);
        ``picked_up`` when another replica received it and stopped before answering (the answer says so); ``run_id``:
        the id a run it asks for gets."""
        if not self.accepting:
            await self._post(Message(RESTARTING, ephemeral=True), user, channel, thread_ts, respond)
            return
        self._busy(1)
        try:
            with structlog.contextvars.bound_contextvars(user=user, channel=channel):
                log.info("command_received", slash=slash)
                try:
                    reply = await self.service.handle(
                        text, user, channel, slash=slash, run_id=run_id, picked_up=picked_up
                    )
                except StoreUnavailable as err:
                    await self.store_down(err, user, channel, thread_ts, respond)
                    return
            word = "/deploy" if slash else text.split(maxsplit=1)[0].lower() if text.strip() else "-"
            self.metrics.command_answered(word[:20], type(reply).__name__)
            await self._deliver(reply, user, channel, thread_ts, respond, picked_up)
        finally:
            self._busy(-1)

    async def store_down(
        self,
        err: StoreUnavailable,
        user: str,
        channel: str,
        thread_ts: str | None = None,
        respond: AsyncRespond | None = None,
    ) -> None:
        """The store did not answer while a command or a click was being handled: say so to the person (the full
        error, which names the database, goes to the log only), instead of leaving them without an answer."""
        log.warning("store_not_answering", error=str(err))
        self.metrics.command_answered("-", "StoreUnavailable")
        await self._post(Message(STORE_NOT_ANSWERING, ephemeral=True), user, channel, thread_ts, respond)

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
        self,
        reply: Reply,
        user: str,
        channel: str,
        thread_ts: str | None,
        respond: AsyncRespond | None,
        picked_up: bool = False,
    ) -> None:
        message = render_preview(reply) if isinstance(reply, PREVIEW_REPLIES) else render(reply)
        if picked_up:
            note: dict[str, Any] = {"type": "context", "elements": [{"type": "mrkdwn", "text": f"_{PICKED_UP}_"}]}
            message = Message(message.text, [*message.blocks, note], message.ephemeral)
        ts = await self._post(message, user, channel, thread_ts, respond)
        approval = reply if isinstance(reply, AwaitingApproval) else None
        if isinstance(reply, Approved) and isinstance(reply.then, AwaitingApproval):  # pragma: no cover
            approval = reply.then
        if approval is not None and ts:
            self.reporter.track_approval(approval.run.run_id, channel, ts)
            await self.service.approval_posted(approval.run.run_id, channel, ts)  # found again after a restart

    async def _post(
        self, message: Message, user: str, channel: str, thread_ts: str | None, respond: AsyncRespond | None
    ) -> str | None:
        if message.ephemeral:
            if respond is not None:  # the response URL is not the Web API: people are named here
                named = await self._named({"text": message.fallback, "blocks": message.blocks})
                call = respond(
                    text=named["text"], blocks=named["blocks"], response_type="ephemeral", replace_original=False
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

    async def _named(self, payload: dict[str, Any]) -> dict[str, Any]:
        client = self.client
        return await client.people.named(payload) if isinstance(client, NamingWebClient) else payload

    # -- listeners --------------------------------------------------------------------------------------------

    async def _take(self, body: dict[str, Any], context: AsyncBoltContext, respond: AsyncRespond | None) -> None:
        """A request the middleware wrote down: answered here unless it is a re-delivery or a twin."""
        request = context.get("request")
        writing = context.get("writing")
        if isinstance(writing, asyncio.Future):  # acknowledged before the store answered: its answer decides now
            try:
                context["fresh"] = await writing
            except StoreUnavailable as err:
                context["fresh"], context["store_down"] = False, err
        down = context.get("store_down")
        if isinstance(request, Inbound) and isinstance(down, StoreUnavailable):
            await self.store_down(down, request.user, request.channel, request.thread_ts, respond)
            return
        if not isinstance(request, Inbound) or context.get("fresh") is False:
            return
        await self.serve(request, respond)

    async def _click(self, request: Inbound, respond: AsyncRespond | None, picked_up: bool = False) -> None:
        """``new``: the click starts something (approve, roll back), refused while shutting down; cancel and the
        pause's Continue/Abort act on a running deploy and are answered until the bot is gone."""
        handler, new = self._buttons[request.action]
        user, channel, value = request.user, request.channel, request.value
        if new and not self.accepting:
            await self._post(Message(RESTARTING, ephemeral=True), user, channel, None, respond)
            return
        self._busy(1)
        try:
            with structlog.contextvars.bound_contextvars(user=user, channel=channel, run_id=value):
                try:
                    reply = await handler(value, user, channel)
                except StoreUnavailable as err:
                    await self.store_down(err, user, channel, None, respond)
                    return
            self.metrics.command_answered("button", type(reply).__name__)
            await self._deliver(reply, user, channel, None, respond, picked_up)
        finally:
            self._busy(-1)

    def _register(self) -> None:
        app = self.app
        app.middleware(self._write_down)

        @app.command("/deploy")
        async def slash(ack: AsyncAck, body: dict[str, Any], context: AsyncBoltContext, respond: AsyncRespond) -> None:
            await ack()
            await self._take(body, context, respond)

        @app.event("app_mention")
        async def mention(body: dict[str, Any], context: AsyncBoltContext) -> None:
            await self._take(body, context, None)

        @app.event("message")
        async def message(body: dict[str, Any], context: AsyncBoltContext) -> None:
            await self._take(body, context, None)  # only direct messages are requests (bot.inbound)

        async def on_click(
            ack: AsyncAck, body: dict[str, Any], context: AsyncBoltContext, respond: AsyncRespond
        ) -> None:
            await ack()
            await self._take(body, context, respond)

        svc = self.service

        async def plan_commands(command: str, user: str, channel: str) -> Reply:
            """The plan's full commands: the plan is made again from its command (pinned to its commit)."""
            reply = await svc.handle(command, user, channel)
            return replace(reply, commands=True) if isinstance(reply, DryRunReply) else reply

        self._buttons = {
            "run_cancel": (svc.cancel, False),
            "run_rollback": (svc.rollback_run, True),
            "run_approve": (svc.approve, True),
            "run_continue": (lambda run_id, user, channel: svc.resume(run_id, user, channel, True), False),
            "run_abort": (lambda run_id, user, channel: svc.resume(run_id, user, channel, False), False),
            "run_reject": (lambda run_id, user, channel: svc.reject(run_id, user, "", channel), True),
            "plan_commands": (plan_commands, True),
        }
        for action in self._buttons:
            app.action(action)(on_click)
