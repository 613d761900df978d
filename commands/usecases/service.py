"""``ChatService``: the one object the bot talks to, a thin facade over the use-case services.

``handle(text, user, channel, slash=False)`` checks the sender is a Slack user ID, expires due approvals, parses
the text (:func:`commands.grammar.parse`; ``slash`` when it followed the ``/deploy`` slash command) and hands the
command to :meth:`ChatService.execute`, which passes it to the service for its concern. Buttons have their own
entry points (``approve``, ``reject``, ``cancel``, ``rollback_run``, ``resume``). Every path ends in a
:data:`~commands.replies.Reply`; nothing is dropped.

The services, built here and given their collaborators (nothing reaches into another's state)::

    Permissions  actors and policy decisions, now          AuditTrail  the audit lines
    RunBoard     runs chat started, who is busy            LockService lock, unlock, lock refusals
    Pauses       gates between batches, continue/abort     RunExecution a run under the supervisor
    Takeovers    continue/abort of a run a dead process left paused (taken over at start-up)
    HeldElsewhere cancel/continue/abort of a run another live process drives, through the store
    QueueService the line, positions, start next           Admission   start now, queue, or refuse; recheck
    ApprovalService ask, approve/reject, expiry            RequestService deploy, rollback, task
    CancelService   cancel wherever the request is         ReadService status, history, where, help
    PreviewService  previews per branch: pushes, deleted branches, preview/teardown/previews, expiry
    AutoDeploys     a pushed commit admitted like a deploy  PushService what a push means (``pushes``)

When a run ends the execution asks the queue to start the next request for that environment. Pending approvals
and the queue are rows in the store (``waiting``, :mod:`deploy.store.waiting`), moved by compare-and-set, so a restart
or a crash forgets none and two processes never admit one request twice. :meth:`ChatService.pick_up` is what a
starting bot calls: it admits requests approved by a process that died before starting them and expires what
came due meanwhile. :meth:`ChatService.sweep` expires approvals; it runs on every message. The bot calls
:meth:`ChatService.advance` and ``sweep`` on a timer (every couple of seconds): the lines move when a run ended
in another process (the CLI), and requesters hear of expiry without anyone writing. :meth:`ChatService.shutdown`
stops the lines moving in this process and ends the runs; waiting requests keep their places.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

from commands.access_config import policy_for
from commands.clock import Clock
from commands.command import (
    Approve,
    Cancel,
    ChangeFlag,
    Command,
    Converge,
    Deploy,
    FlagHistory,
    Help,
    History,
    ListFlags,
    ListPreviews,
    Lock,
    Preview,
    Reject,
    Rollback,
    RunTask,
    ShowFlag,
    Status,
    Teardown,
    Unlock,
    WhereCanIDeploy,
)
from commands.errors import CommandError
from commands.grammar import parse
from commands.identity import is_user_id
from commands.ports import EnginePort, GroupResolver, PreviewEvents, PreviewPort, PushReporter, RunReporter, TagSource
from commands.replies import AlreadyStarted, PreviewNotice, Refusal, Reply
from commands.reply_texts import no_user_id
from commands.runs import RunRequest
from commands.supervisor import RunSupervisor
from commands.usecases.admission import Admission
from commands.usecases.approval_service import ApprovalService
from commands.usecases.audit import AuditTrail
from commands.usecases.auto_converge import AutoConverge
from commands.usecases.autodeploys import AutoDeploys
from commands.usecases.board import RunBoard
from commands.usecases.cancels import CancelService
from commands.usecases.elsewhere import HeldElsewhere
from commands.usecases.execution import RunExecution
from commands.usecases.flag_service import FlagNotify, FlagService
from commands.usecases.locks import LockService
from commands.usecases.pauses import Pauses
from commands.usecases.permissions import Permissions
from commands.usecases.previews import PreviewNotify, PreviewService
from commands.usecases.push_intake import PushService
from commands.usecases.queue_service import QueueService
from commands.usecases.reads import ReadService
from commands.usecases.requests import HISTORY_SEARCH, RequestService
from commands.usecases.takeovers import Takeovers
from commands.vocabulary import GrammarContext
from deploy.flags.app_flags import AppFlags
from deploy.ids import new_run_id
from deploy.store.ports import InboxPort, LockStore, PushLedger, WaitingStore


class ChatService:
    def __init__(
        self,
        engines: Mapping[str, EnginePort],
        stores: Mapping[str, LockStore],
        groups: GroupResolver,
        reporter: RunReporter,
        *,
        waiting: WaitingStore,
        clock: Clock = time.time,
        run_ids: Callable[[], str] = new_run_id,
        bot_user_id: str | None = None,
        supervisor: RunSupervisor | None = None,
        previews: Mapping[str, PreviewPort] | None = None,
        preview_notify: PreviewNotify | None = None,
        push_ledger: PushLedger | None = None,
        inbox: InboxPort | None = None,
        push_reporter: PushReporter | None = None,
        tags: Mapping[str, TagSource] | None = None,
        preview_events: PreviewEvents | None = None,
        flags: Mapping[str, AppFlags] | None = None,
        flag_notify: FlagNotify | None = None,
    ) -> None:
        """``waiting`` keeps approvals and the queue (the store's ``waiting``; one for every app). ``previews``
        (each engine's ``previews``) and ``preview_notify`` (posts a :class:`~commands.replies.PreviewNotice`)
        serve previews per branch (:attr:`previews`). With ``push_ledger``, ``inbox`` and ``push_reporter`` (the
        store's ``pushes`` and ``inbox``, the bot's reporter) :attr:`pushes` takes pushes (webhooks, the poller),
        pushes of preview branches going to :attr:`previews` (or to ``preview_events``); ``tags`` reads each app's
        tags for release notes.

        Raises :class:`deploy.errors.ConfigError` when an app's ``access`` section is invalid."""
        self.engines = dict(engines)
        self.stores = dict(stores)
        self.reporter = reporter
        self.clock = clock
        self.supervisor = supervisor or RunSupervisor()
        self.policies = {app: policy_for(e.config) for app, e in self.engines.items()}
        self.context = GrammarContext.from_configs([e.config for e in self.engines.values()], bot_user_id)
        permissions = Permissions(self.policies, groups, clock)
        audit = AuditTrail(self.stores)
        board = RunBoard(self.engines)
        locks = LockService(self.stores, clock, permissions, audit)
        pauses = Pauses(board, permissions, audit)
        execution = RunExecution(self.engines, reporter, self.supervisor, board, locks, pauses, self._next_in_line)
        self._waiting = waiting
        self._queue = QueueService(waiting, board, execution, locks, reporter)
        admission = Admission(permissions, locks, board, self._queue, execution, audit)
        self._approvals = ApprovalService(waiting, permissions, admission, audit, reporter, clock)
        self._requests = RequestService(
            self.engines, permissions, locks, admission, self._approvals, audit, clock, run_ids
        )
        self._takeovers = Takeovers(self.engines, permissions, audit, execution, clock)
        self._elsewhere = HeldElsewhere(self.engines, permissions, audit, self._takeovers, clock)
        self._cancels = CancelService(
            self.engines, board, self._queue, self._approvals, self.supervisor, permissions, audit, self._elsewhere
        )
        self._locks = locks
        self._pauses = pauses
        self._auto = AutoConverge(
            self.engines, self.policies, board, locks, execution, reporter, clock, run_ids, bot_user_id or "shipbot"
        )
        self._reads = ReadService(self.engines, permissions, locks, board, self._queue, self._approvals)
        self.previews = PreviewService(previews or {}, permissions, preview_notify or _nobody, clock)
        self.flags = FlagService(flags or {}, self.policies, permissions, clock, flag_notify, self._approvals, run_ids)
        self._approvals.flags = self.flags  # approved raises of flags are applied by the flag service
        self._autodeploys: AutoDeploys | None = None
        self.pushes: PushService | None = None
        if push_ledger is not None and inbox is not None and push_reporter is not None:
            self._autodeploys = AutoDeploys(
                self.engines, permissions, locks, board, self._queue, admission, self._approvals,
                push_ledger, push_reporter, clock, run_ids,
            )  # fmt: skip
            self.pushes = PushService(
                self.engines, self._autodeploys, push_ledger, inbox, push_reporter, self.supervisor, tags or {},
                preview_events or self.previews, clock,
            )  # fmt: skip

    async def handle(
        self,
        text: str,
        user: str,
        channel: str,
        *,
        slash: bool = False,
        run_id: str | None = None,
        picked_up: bool = False,
    ) -> Reply:
        """Answer one message addressed to the bot; ``slash`` when ``text`` followed the ``/deploy`` slash command.
        ``run_id``: the id a run it asks for gets (given when the message was received). ``picked_up``: the process
        that received it stopped before answering; if it had already started that run, the run is not started
        again (:class:`~commands.replies.AlreadyStarted`)."""
        if not is_user_id(user):
            return no_user_id()
        if picked_up and run_id is not None:
            state = await self._started(run_id)
            if state is not None:
                return AlreadyStarted(run_id, state)
        await self.sweep()
        try:
            command = parse(text, self.context, slash=slash)
        except CommandError as err:
            return Refusal(err.message, err.hint)
        return await self.execute(command, user, channel, run_id)

    async def started(self, run_id: str) -> str | None:
        """The state of ``run_id`` if it was asked for already (a run in the history, waiting for approval or in
        a line), else None."""
        return await self._started(run_id)

    async def _started(self, run_id: str) -> str | None:
        """The state of ``run_id`` if it was asked for already: a run in the history, or waiting for approval or
        in a line."""
        row = await self._waiting.get(run_id)
        if row is not None:
            return f"{row.state}"
        for engine in self.engines.values():
            for record in await engine.history(None, HISTORY_SEARCH):
                if record.run_id == run_id:
                    return record.state
        return None

    async def execute(self, command: Command, user: str, channel: str, run_id: str | None = None) -> Reply:
        match command:
            case Deploy():
                return await self._requests.deploy(command, user, channel, run_id)
            case Rollback():
                return await self._requests.rollback(command, user, channel, run_id)
            case Converge():
                return await self._requests.converge(command, user, channel, run_id)
            case RunTask():
                return await self._requests.task(command, user, channel, run_id)
            case Cancel():
                return await self._cancels.cancel(command, user, channel)
            case Status():
                return await self._reads.status(command)
            case History():
                return await self._reads.history(command)
            case Lock():
                return await self._locks.lock(command, user, channel)
            case Unlock():
                return await self._locks.unlock(command, user, channel)
            case WhereCanIDeploy():
                return await self._reads.where(command, user, channel)
            case Approve():
                return await self.approve(command.run_id, user, channel)
            case Reject():
                return await self.reject(command.run_id, user, command.reason, channel)
            case Help():
                return await self._reads.help(command, user, channel)
            case Preview():
                return await self.previews.preview(command, user, channel)
            case Teardown():
                return await self.previews.teardown(command, user, channel)
            case ListPreviews():
                return await self.previews.listing(command)
            case ListFlags() | ShowFlag() | FlagHistory() | ChangeFlag():
                return await self._flag(command, user, channel)
        raise AssertionError(f"unhandled command {command!r}")  # pragma: no cover

    async def _flag(self, command: ListFlags | ShowFlag | FlagHistory | ChangeFlag, user: str, channel: str) -> Reply:
        if not self.flags.apps():
            return Refusal(
                "feature flags are not served here", "The bot serves them once it is started with its store."
            )
        match command:
            case ListFlags():
                return await self.flags.listing(command)
            case ShowFlag():
                return await self.flags.show(command)
            case FlagHistory():
                return await self.flags.history(command)
            case ChangeFlag():
                return await self.flags.change(command, user, channel, source="chat")

    async def auto_converge(self, app: str, environment: str) -> RunRequest | None:
        """``converge: auto``: a converge when discovery found hosts behind (:mod:`commands.usecases.auto_converge`)."""
        return await self._auto.check(app, environment)

    async def approve(self, run_id: str, user: str, channel: str | None = None) -> Reply:
        """The approve button, or ``approve RUN-ID``."""
        return await self._approvals.approve(run_id, user, channel)

    async def reject(self, run_id: str, user: str, reason: str = "", channel: str | None = None) -> Reply:
        """The reject button, or ``reject RUN-ID [REASON]``; ends the request with the reason."""
        return await self._approvals.reject(run_id, user, reason, channel)

    async def cancel(self, run_id: str, user: str, channel: str = "") -> Reply:
        """The cancel button, or ``cancel RUN-ID``."""
        return await self._cancels.cancel(Cancel(run_id=run_id), user, channel)

    async def rollback_run(self, run_id: str, user: str, channel: str) -> Reply:
        """The "roll back" button under a finished deploy: put back what ran before it."""
        return await self._requests.rollback_run(run_id, user, channel)

    async def resume(self, run_id: str, user: str, channel: str, go: bool) -> Reply:
        """The Continue (``go``) or Abort button of a run paused between batches (here, or in a process that died
        and whose run this one took over)."""
        if not self._pauses.waits(run_id):
            reply = await self._takeovers.resume(run_id, user, channel, go)
            if reply is None:
                reply = await self._elsewhere.resume(run_id, user, channel, go)
            if reply is not None:
                return reply
        return await self._pauses.resume(run_id, user, channel, go)

    def expire_taken_over(self, run_id: str, channel: str, timeout: float) -> None:
        """A run taken over at start-up waits at a pause: abort it (reported in ``channel``) when nobody answered
        within ``timeout`` seconds."""
        self._takeovers.expire_after(run_id, channel, timeout)

    async def act_on_requests(self) -> None:
        """Answer the Continue/Abort/Cancel requests other processes wrote for the waiting runs taken over here (the
        bot's timer calls it; runs this process drives answer theirs by themselves)."""
        await self._elsewhere.act()

    async def hand_over(self) -> list[str]:
        """Stopping: every run that waits for a person here is left to the next process (see the engines)."""
        return [run_id for engine in self.engines.values() for run_id in await engine.hand_over()]

    async def sweep(self) -> None:
        """Expire pending approvals whose time is up, telling each requester."""
        await self._approvals.sweep()

    async def advance(self) -> None:
        """Move every line whose environment is free (a run ended in another process); the bot's timer calls it."""
        await self._queue.advance()
        if self._autodeploys is not None:
            await self._autodeploys.sweep()

    async def pick_up(self) -> None:
        """At start-up: admit what was approved but never admitted, expire what came due, move the lines."""
        await self._waiting.prune()
        await self._approvals.pick_up()
        await self.sweep()
        await self.advance()

    async def approval_posted(self, run_id: str, channel: str, ts: str) -> None:
        """Where the message asking to approve ``run_id`` was posted (kept with the request)."""
        await self._approvals.posted(run_id, channel, ts)

    async def approvals_decided(self, run_ids: list[str]) -> list[tuple[str, str, str]]:
        """(run id, verdict, by) of the approval requests among ``run_ids`` that were decided or expired, possibly
        by another process."""
        return await self._approvals.decided(run_ids)

    async def approval_messages(self) -> tuple[tuple[str, str, str], ...]:
        """(run id, channel, ts) of every message still asking for an approval: the bot tracks them after a
        restart so their buttons are closed once decided."""
        return await self._approvals.messages()

    async def shutdown(self, *, cancel: bool) -> None:
        """Stop: the lines stop moving here (waiting requests keep their places in the store), previews being made
        finish (``cancel``: are stopped), then end the runs."""
        self._queue.close()
        await (self.previews.close() if cancel else self.previews.settled())
        await self._takeovers.close()
        await self.supervisor.shutdown(cancel=cancel)

    async def _next_in_line(self, run: RunRequest) -> None:
        """A run ended: the queue may start the next request for its environment."""
        await self._queue.start_next(run.app, run.environment)
        if self._autodeploys is not None:
            await self._autodeploys.after_run(run.app, run.environment)


async def _nobody(_notice: PreviewNotice) -> None:
    """Where preview notices go when nobody listens (a service built without the bot)."""
