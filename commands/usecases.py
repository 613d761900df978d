"""The use cases: an allowed command in, calls on the engine and the store, a typed reply out.

:class:`ChatService` is the one object the bot talks to. ``handle(text, user, channel)`` parses, resolves who
is asking (user ID plus groups, through the :class:`~commands.ports.GroupResolver` port), asks
:mod:`commands.policy`, and runs the use case. Buttons have their own entry points (``approve``, ``reject``,
``cancel``, ``rollback_run``). Every path ends in a :data:`~commands.replies.Reply`; nothing is dropped.

A deploy goes: policy -> lock (held by someone else: refused with who, why, since) -> ref resolved to a SHA
(pinned from here on) -> approval if required (the commit list and the approvers; approver != requester;
expires) -> admitted: started, queued with its position (``queue: true``), or refused naming who deploys
what. Forced deploys go to the front of the queue and every override is recorded with ``record_audit``.
A run executes in a task owned by :class:`~commands.supervisor.RunSupervisor`; when it ends the next queued
request for that environment starts, and the reporter hears :class:`~commands.ports.RunEnded`. After a
successful rollback the environment is locked by whoever rolled back, with :data:`ROLLBACK_LOCK_REASON`, so
nobody redeploys the bad commit by accident.

Pending approvals and the queue live in memory: :meth:`ChatService.shutdown` tells every waiting requester
that shipbot is restarting and they must ask again, and an approve button pressed after a restart says the
deploy is no longer waiting. Approvals are expired by :meth:`ChatService.sweep`, run on every message; the bot
may also call it on a timer so the requester hears of it without anyone writing.

Locks are kept per app in the store given for that app (``stores[app]``); an expired lock counts as no lock.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping

from commands.access_config import AppPolicy, policy_for
from commands.approvals import ApprovalBook, PendingApproval
from commands.clock import Clock, utc, when
from commands.command import (
    Approve,
    Cancel,
    Command,
    Deploy,
    Help,
    History,
    Lock,
    Reject,
    Rollback,
    RunTask,
    Status,
    Unlock,
    WhereCanIDeploy,
)
from commands.errors import CommandError
from commands.grammar import parse
from commands.help_text import SYNTAX
from commands.identity import Actor, actor_for, is_user_id, slack_handles
from commands.policy import Decision, allowed_topics, decide, decide_action, decide_approval, decide_unlock
from commands.ports import (
    ApprovalDecided,
    ApprovalExpired,
    EnginePort,
    GroupResolver,
    LockStore,
    QueueMoved,
    RunDropped,
    RunEnded,
    RunReporter,
)
from commands.replies import (
    Approved,
    AwaitingApproval,
    Cancelled,
    EnvironmentView,
    HelpReply,
    HistoryEntry,
    HistoryReply,
    Locked,
    NotLocked,
    Queued,
    Refusal,
    Rejected,
    Reply,
    Resumed,
    RunAccepted,
    StatusReply,
    Unlocked,
    WhereEntry,
    WhereReply,
)
from commands.run_queue import RunQueue
from commands.runs import Busy, RunRequest
from commands.supervisor import RunSupervisor
from commands.vocabulary import GrammarContext
from deploy.errors import EnvironmentLocked, ShipbotError, UsageError
from deploy.events import BatchGate, Gate, Outcome, RunFinished
from deploy.ids import new_run_id
from deploy.records import Commit, LockRecord

ROLLBACK_LOCK_REASON = "rolled back by {user}: redeploy on purpose with unlock"
COMMIT_LIMIT = 20


class ChatService:
    def __init__(
        self,
        engines: Mapping[str, EnginePort],
        stores: Mapping[str, LockStore],
        groups: GroupResolver,
        reporter: RunReporter,
        *,
        clock: Clock = time.time,
        run_ids: Callable[[], str] = new_run_id,
        bot_user_id: str | None = None,
        supervisor: RunSupervisor | None = None,
    ) -> None:
        """Raises :class:`deploy.errors.ConfigError` when an app's ``access`` section is invalid."""
        self.engines = dict(engines)
        self.stores = dict(stores)
        self.groups = groups
        self.reporter = reporter
        self.clock = clock
        self.run_ids = run_ids
        self.supervisor = supervisor or RunSupervisor()
        self.policies: dict[str, AppPolicy] = {app: policy_for(e.config) for app, e in self.engines.items()}
        self.context = GrammarContext.from_configs([e.config for e in self.engines.values()], bot_user_id)
        self.approvals = ApprovalBook()
        self.queue = RunQueue()
        self._running: dict[str, RunRequest] = {}
        self._paused: dict[str, asyncio.Future[bool]] = {}  # run id -> the answer its pause waits for
        self._closing = False
        self._expired: dict[str, PendingApproval] = {}  # expired requests, to say so when someone approves late

    # ------------------------------------------------------------------------------------------ entry points

    async def handle(self, text: str, user: str, channel: str) -> Reply:
        """Answer one message addressed to the bot."""
        if not is_user_id(user):
            return Refusal("shipbot knows people by their Slack user ID, and this message has none it can use")
        await self.sweep()
        try:
            command = parse(text, self.context)
        except CommandError as err:
            return Refusal(err.message, err.hint)
        return await self.execute(command, user, channel)

    async def execute(self, command: Command, user: str, channel: str) -> Reply:
        match command:
            case Deploy():
                return await self._deploy(command, user, channel)
            case Rollback():
                return await self._rollback(command, user, channel)
            case RunTask():
                return await self._task(command, user, channel)
            case Cancel():
                return await self._cancel(command, user, channel)
            case Status():
                return await self._status(command)
            case History():
                return self._history(command)
            case Lock():
                return await self._lock(command, user, channel)
            case Unlock():
                return await self._unlock(command, user, channel)
            case WhereCanIDeploy():
                return await self._where(command, user, channel)
            case Approve():
                return await self.approve(command.run_id, user, channel)
            case Reject():
                return await self.reject(command.run_id, user, command.reason, channel)
            case Help():
                return await self._help(command, user, channel)
        raise AssertionError(f"unhandled command {command!r}")  # pragma: no cover

    async def approve(self, run_id: str, user: str, channel: str | None = None) -> Reply:
        """The approve button, or ``approve RUN-ID``."""
        await self.sweep()
        found = self._pending(run_id)
        if isinstance(found, Refusal):
            return found
        pending = found
        run = pending.run
        actors = await self._actors(user)
        decision = decide_approval(
            self.policies[run.app],
            actors[run.app],
            run.user,
            run.environment,
            channel or run.channel,
            utc(self.clock()),
        )
        if not decision.allowed:
            return Refusal(decision.reason, decision.hint)
        self.approvals.pop(run_id)
        self._audit(user, "approve", run, f"approved {run.run_id} by {run.user}: {run.what}")
        self._audit_overrides(user, "approve", run.app, run.environment, decision.overrides)
        await self.reporter.notify(ApprovalDecided(run, user, approved=True))
        then: RunAccepted | Queued | Refusal
        refusal = await self._recheck(run, pending.command)
        if refusal is None:
            then = await self._admit(run, pending.queue, pending.commits)
        else:
            then = refusal
            await self.reporter.notify(RunDropped(run, refusal.reason, refusal.hint))
        return Approved(run, user, then)

    async def reject(self, run_id: str, user: str, reason: str = "", channel: str | None = None) -> Reply:
        """The reject button, or ``reject RUN-ID [REASON]``; ends the request with the reason."""
        await self.sweep()
        found = self._pending(run_id)
        if isinstance(found, Refusal):
            return found
        run = found.run
        actors = await self._actors(user)
        decision = decide_approval(
            self.policies[run.app],
            actors[run.app],
            run.user,
            run.environment,
            channel or run.channel,
            utc(self.clock()),
        )
        if not decision.allowed:
            hint = "To withdraw your own request, `cancel` it." if user == run.user else decision.hint
            return Refusal(decision.reason.replace("approve", "reject"), hint)
        self.approvals.pop(run_id)
        self._audit(user, "reject", run, f"rejected {run.run_id} by {run.user}: {reason or 'no reason given'}")
        await self.reporter.notify(ApprovalDecided(run, user, approved=False, reason=reason))
        return Rejected(run, user, reason)

    async def cancel(self, run_id: str, user: str, channel: str = "") -> Reply:
        """The cancel button, or ``cancel RUN-ID``."""
        return await self._cancel(Cancel(run_id=run_id), user, channel)

    async def rollback_run(self, run_id: str, user: str, channel: str) -> Reply:
        """The "roll back" button under a finished deploy: put back what ran before it."""
        for app, engine in self.engines.items():
            for record in engine.history(None, 200):
                if record.run_id != run_id:
                    continue
                if record.kind != "deploy":
                    return Refusal(f"{run_id} is a {record.kind}, not a deploy", "Roll back with `rollback ENV`.")
                if record.running:
                    return Refusal(f"{run_id} is still running", f"Cancel it instead: `cancel {run_id}`.")
                if record.state != "success":
                    return Refusal(
                        f"{run_id} did not go out ({record.state}); the hosts are on the release before it",
                        "Nothing to roll back.",
                    )
                current = engine.deployed_sha(record.environment)
                if current != record.sha:
                    return Refusal(
                        f"{run_id} is no longer what runs on {record.environment}; a later deploy replaced it",
                        f"Roll back explicitly: `rollback {record.environment} to SHA` (see `history`).",
                    )
                return await self._rollback(Rollback(app, record.environment), user, channel)
        return Refusal(f"no deploy {run_id} in the history", "`history ENV` lists recent runs.")

    async def sweep(self) -> None:
        """Expire pending approvals whose time is up, telling each requester."""
        for pending in self.approvals.take_expired(self.clock()):
            self._expired[pending.run.run_id] = pending
            while len(self._expired) > 100:
                del self._expired[next(iter(self._expired))]
            await self.reporter.notify(ApprovalExpired(pending.run, pending.expires_at))

    async def shutdown(self, *, cancel: bool) -> None:
        """Stop: forget queued requests and pending approvals (telling each requester), then end the runs."""
        self._closing = True
        reason = "shipbot is restarting and forgets requests that wait; nothing of this one ran"
        for run in self.queue.clear():
            await self.reporter.notify(RunDropped(run, reason, "Ask again when shipbot is back."))
        for pending in self.approvals.clear():
            await self.reporter.notify(RunDropped(pending.run, reason, "Ask again when shipbot is back."))
        await self.supervisor.shutdown(cancel=cancel)

    # ------------------------------------------------------------------------------------------- identity

    async def _actors(self, user: str) -> dict[str, Actor]:
        members: dict[str, frozenset[str]] = {}
        for policy in self.policies.values():
            for handle in slack_handles(policy):
                if handle not in members:
                    members[handle] = await self._members(handle)
        return {app: actor_for(policy, user, members) for app, policy in self.policies.items()}

    async def _members(self, handle: str) -> frozenset[str]:
        try:
            return await self.groups.members(handle)
        except (ShipbotError, OSError, LookupError):
            return frozenset()

    # ---------------------------------------------------------------------------------------------- deploy

    async def _deploy(self, command: Deploy, user: str, channel: str) -> Reply:
        actors = await self._actors(user)
        decision = decide(self.policies, actors, command, channel, utc(self.clock()))
        if not decision.allowed:
            return Refusal(decision.reason, decision.hint)
        refusal = self._lock_refusal(command.app, command.environment, user)
        if refusal:
            return refusal
        engine = self.engines[command.app]
        try:
            sha = await engine.resolve_ref(command.ref)
        except UsageError as err:
            return Refusal(str(err), "Check the branch, tag or commit name; push it first if it is new.")
        except ShipbotError as err:
            return Refusal(str(err))
        run = RunRequest(
            run_id=self.run_ids(),
            kind="deploy",
            app=command.app,
            environment=command.environment,
            user=user,
            channel=channel,
            requested_at=self.clock(),
            ref=command.ref,
            sha=sha,
            target=command.target,
            forced=command.force,
            overrides=decision.overrides,
        )
        self._audit_overrides(user, "deploy", run.app, run.environment, decision.overrides)
        if run.forced:
            self._audit(user, "force", run, f"deploy! {run.what} ({run.run_id})")
        commits = await self._commits(engine, run.environment, sha)
        if decision.approval_required:
            expires_at = self.clock() + decision.approval_timeout
            self.approvals.add(PendingApproval(run, command, decision.approvers, expires_at, commits, decision.queue))
            return AwaitingApproval(run, commits, decision.approvers, expires_at)
        return await self._admit(run, decision.queue, commits)

    async def _commits(self, engine: EnginePort, environment: str, sha: str) -> tuple[Commit, ...]:
        try:
            return tuple(await engine.commits_between(engine.deployed_sha(environment), sha, COMMIT_LIMIT))
        except ShipbotError:
            return ()

    async def _recheck(self, run: RunRequest, command: Deploy) -> Refusal | None:
        """Before an approved request starts: is it still allowed (freeze, lock)?"""
        actors = await self._actors(run.user)
        decision = decide(self.policies, actors, command, run.channel, utc(self.clock()))
        if not decision.allowed:
            return Refusal(f"the deploy cannot start now: {decision.reason}", decision.hint)
        return self._lock_refusal(run.app, run.environment, run.user)

    async def _admit(
        self, run: RunRequest, queue: bool, commits: tuple[Commit, ...] = ()
    ) -> RunAccepted | Queued | Refusal:
        busy = self._busy(run.app, run.environment)
        waiting = self.queue.waiting(run.app, run.environment)
        if busy is None and not waiting:
            self._start(run)
            return RunAccepted(run, commits)
        if queue:
            position = self.queue.add(run, front=run.forced)
            if run.forced:
                await self._announce_positions(run.app, run.environment, skip=run.run_id)
            return Queued(run, position, busy)
        if busy is None:  # pragma: no cover - only queueing environments have a line
            self._start(run)
            return RunAccepted(run, commits)
        return self._busy_refusal(run.environment, busy)

    def _busy(self, app: str, environment: str) -> Busy | None:
        for run in self._running.values():
            if run.app == app and run.environment == environment:
                return Busy(run.run_id, run.user, run.what)
        for record in self.engines[app].history(environment, 1):
            if record.running:
                return Busy(record.run_id, record.user, f"{record.ref} ({record.sha[:7]})")
        return None

    @staticmethod
    def _busy_refusal(environment: str, busy: Busy) -> Refusal:
        return Refusal(
            f"{environment} is busy: {busy.user} is deploying {busy.what} (run {busy.run_id})",
            f"Try again when it ends, or `cancel {busy.run_id}` if you may.",
        )

    async def _announce_positions(self, app: str, environment: str, skip: str = "") -> None:
        busy = self._busy(app, environment)
        for position, waiting in enumerate(self.queue.waiting(app, environment), start=1):
            if waiting.run_id != skip:
                await self.reporter.notify(QueueMoved(waiting, position, busy))

    # ------------------------------------------------------------------------------------------- running

    def _start(self, run: RunRequest) -> None:
        self._running[run.run_id] = run
        self.supervisor.start(run.run_id, f"{run.app}/{run.environment}", self._execute(run))

    async def _execute(self, run: RunRequest) -> RunFinished | None:
        engine = self.engines[run.app]
        finished: RunFinished | None = None
        error = ""
        lock: LockRecord | None = None
        try:
            sink = self.reporter.sink_for(run)
            if run.kind == "deploy":
                finished = await engine.deploy(
                    run.environment,
                    run.ref,
                    user=run.user,
                    hosts_filter=run.target,
                    sink=sink,
                    run_id=run.run_id,
                    sha=run.sha,
                    forced=run.forced,
                    gate=self._gate(run),
                )
            elif run.kind == "rollback":
                finished = await engine.rollback(
                    run.environment, to=run.ref or None, user=run.user, sink=sink, run_id=run.run_id
                )
                if finished.outcome is Outcome.SUCCESS:
                    lock = self._lock_after_rollback(run)
            else:
                finished = await engine.run_task(
                    run.task or "",
                    run.environment,
                    user=run.user,
                    hosts_filter=run.target,
                    sink=sink,
                    run_id=run.run_id,
                )
        except asyncio.CancelledError:
            error = "cancelled"
            raise
        except ShipbotError as err:
            error = str(err)
        except Exception as err:
            error = f"shipbot failed unexpectedly: {err}"
            raise
        finally:
            self._running.pop(run.run_id, None)
            await self.reporter.notify(RunEnded(run, finished, error, lock))
            await self._start_next(run.app, run.environment)
        return finished

    def _lock_after_rollback(self, run: RunRequest) -> LockRecord | None:
        store = self.stores[run.app]
        reason = ROLLBACK_LOCK_REASON.format(user=run.user)
        try:
            lock = store.lock(run.environment, run.user, reason)
        except EnvironmentLocked:
            return store.get_lock(run.environment)
        store.record_audit(run.user, "lock", run.environment, reason)
        return lock

    async def _start_next(self, app: str, environment: str) -> None:
        while not self._closing and self._busy(app, environment) is None:
            run = self.queue.pop_next(app, environment)
            if run is None:
                return
            refusal = self._lock_refusal(app, environment, run.user)
            if refusal is not None:
                await self.reporter.notify(RunDropped(run, refusal.reason, refusal.hint))
                continue
            self._start(run)
            await self._announce_positions(app, environment)
            return

    # --------------------------------------------------------------------------------------- rollback/task

    async def _rollback(self, command: Rollback, user: str, channel: str) -> Reply:
        return await self._decide_and_run(command, user, channel, "rollback", ref=command.to or "")

    async def _task(self, command: RunTask, user: str, channel: str) -> Reply:
        return await self._decide_and_run(command, user, channel, "task", target=command.target, task=command.task)

    async def _decide_and_run(
        self,
        command: Rollback | RunTask,
        user: str,
        channel: str,
        kind: str,
        *,
        ref: str = "",
        target: str | None = None,
        task: str | None = None,
    ) -> Reply:
        """A rollback or a task: allowed here by this person, then started now (they never queue)."""
        actors = await self._actors(user)
        decision = decide(self.policies, actors, command, channel, utc(self.clock()))
        if not decision.allowed:
            return Refusal(decision.reason, decision.hint)
        run = RunRequest(
            run_id=self.run_ids(),
            kind=kind,
            app=command.app,
            environment=command.environment,
            user=user,
            channel=channel,
            requested_at=self.clock(),
            ref=ref,
            target=target,
            task=task,
            overrides=decision.overrides,
        )
        return await self._run_now(run, decision)

    async def _run_now(self, run: RunRequest, decision: Decision) -> Reply:
        """Rollbacks and tasks do not queue: they start now or are refused."""
        refusal = self._lock_refusal(run.app, run.environment, run.user)
        if refusal:
            return refusal
        busy = self._busy(run.app, run.environment)
        if busy is not None:
            return self._busy_refusal(run.environment, busy)
        self._audit_overrides(run.user, run.kind, run.app, run.environment, decision.overrides)
        self._start(run)
        return RunAccepted(run)

    # --------------------------------------------------------------------------------------------- cancel

    async def _cancel(self, command: Cancel, user: str, channel: str) -> Reply:
        if command.run_id is not None:
            return await self._cancel_one(command.run_id, user, channel)
        if command.environment is not None:
            running = [
                r
                for r in self._running.values()
                if r.environment == command.environment and command.app in (None, r.app)
            ]
            if not running:
                return Refusal(f"nothing shipbot started is running in {command.environment}", "`status` shows runs.")
            return await self._cancel_one(running[0].run_id, user, channel)
        mine = [
            *(r for r in self._running.values() if r.user == user),
            *(r for r in self.queue.waiting() if r.user == user),
            *(p.run for p in self.approvals.waiting() if p.run.user == user),
        ]
        if not mine:
            return Refusal("you have no run to cancel", "Name one: `cancel RUN-ID` or `cancel ENV`.")
        if len(mine) > 1:
            ids = ", ".join(f"`{r.run_id}`" for r in mine)
            return Refusal(f"you have several runs: {ids}", "Name one: `cancel RUN-ID`.")
        return await self._cancel_one(mine[0].run_id, user, channel)

    def _gate(self, run: RunRequest) -> Gate:
        """The pause between batches of ``run``: it waits until someone allowed to deploy there answers."""

        async def gate(_: BatchGate) -> bool:
            answer: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
            self._paused[run.run_id] = answer
            try:
                return await answer
            finally:
                self._paused.pop(run.run_id, None)

        return gate

    async def resume(self, run_id: str, user: str, channel: str, go: bool) -> Reply:
        """The Continue (``go``) or Abort button of a run paused between batches."""
        answer = self._paused.get(run_id)
        run = self._running.get(run_id)
        if answer is None or run is None or answer.done():
            return Refusal(f"{run_id} is not waiting at a pause", "`status` shows what runs and waits.")
        actors = await self._actors(user)
        decision = decide_action(
            self.policies[run.app], actors[run.app], "deploy", run.environment, channel, utc(self.clock())
        )
        if not decision.allowed:
            return Refusal(decision.reason, f"Ask {run.user}, who started it, or someone who may deploy there.")
        self._audit_overrides(user, "resume", run.app, run.environment, decision.overrides)
        self._audit(user, "continue" if go else "abort", run, f"{'continued' if go else 'aborted'} {run.run_id}")
        answer.set_result(go)
        return Resumed(run, user, go)

    async def _cancel_one(self, run_id: str, user: str, channel: str) -> Reply:
        run: RunRequest | None = self._running.get(run_id)
        state = "running"
        if run is None:
            run = next((r for r in self.queue.waiting() if r.run_id == run_id), None)
            state = "queued"
        if run is None:
            pending = self.approvals.get(run_id)
            run = pending.run if pending else None
            state = "awaiting approval"
        if run is None:
            for engine in self.engines.values():
                if any(r.run_id == run_id and r.running for r in engine.history(None, 50)):
                    return Refusal(f"{run_id} was not started from chat", "Cancel it where it was started.")
            return Refusal(f"no run {run_id} is running, queued or waiting for approval", "`status` shows runs.")
        if run.user != user:
            actors = await self._actors(user)
            decision = decide_action(
                self.policies[run.app], actors[run.app], "cancel", run.environment, channel, utc(self.clock())
            )
            if not decision.allowed:
                return Refusal(decision.reason, f"Ask {run.user}, who started it.")
            self._audit_overrides(user, "cancel", run.app, run.environment, decision.overrides)
        self._audit(user, "cancel", run, f"cancelled {run.run_id} ({state}) by {run.user}: {run.what}")
        if state == "running":
            self.supervisor.cancel(run_id)
        elif state == "queued":
            self.queue.remove(run_id)
            await self._announce_positions(run.app, run.environment)
        else:
            self.approvals.pop(run_id)
        return Cancelled(run, state)

    # -------------------------------------------------------------------------------------- lock/unlock

    def _current_lock(self, app: str, environment: str) -> LockRecord | None:
        lock = self.stores[app].get_lock(environment)
        if lock is not None and lock.expired(self.clock()):
            return None
        return lock

    def _lock_refusal(self, app: str, environment: str, user: str) -> Refusal | None:
        lock = self._current_lock(app, environment)
        if lock is None or lock.owner == user:
            return None
        return Refusal(
            f"{environment} is locked by {lock.owner} since {when(lock.since)}: {lock.reason or 'no reason given'}",
            f"Ask {lock.owner} to `unlock {environment}`; an admin can `unlock {environment} --force` (recorded).",
        )

    async def _lock(self, command: Lock, user: str, channel: str) -> Reply:
        actors = await self._actors(user)
        decision = decide(self.policies, actors, command, channel, utc(self.clock()))
        if not decision.allowed:
            return Refusal(decision.reason, decision.hint)
        refusal = self._lock_refusal(command.app, command.environment, user)
        if refusal:
            return refusal
        store = self.stores[command.app]
        try:
            lock = store.lock(command.environment, user, command.reason)
        except EnvironmentLocked as err:
            return Refusal(str(err))
        self._audit_overrides(user, "lock", command.app, command.environment, decision.overrides)
        store.record_audit(user, "lock", command.environment, command.reason)
        return Locked(command.app, lock)

    async def _unlock(self, command: Unlock, user: str, channel: str) -> Reply:
        lock = self._current_lock(command.app, command.environment)
        if lock is None:
            return NotLocked(command.app, command.environment)
        actors = await self._actors(user)
        decision = decide_unlock(
            self.policies[command.app], actors[command.app], lock, command.force, channel, utc(self.clock())
        )
        if not decision.allowed:
            return Refusal(decision.reason, decision.hint)
        store = self.stores[command.app]
        forced = lock.owner != user
        store.unlock(command.environment, user, force=forced)
        store.record_audit(user, "unlock --force" if forced else "unlock", command.environment, lock.reason)
        self._audit_overrides(user, "unlock", command.app, command.environment, decision.overrides)
        return Unlocked(command.app, lock, forced)

    # ------------------------------------------------------------------------------------------- reading

    def _places(self, app: str | None, environment: str | None) -> list[tuple[str, str]]:
        return [
            (a, e)
            for a, engine in self.engines.items()
            if app in (None, a)
            for e in engine.config.environments
            if environment in (None, e)
        ]

    async def _status(self, command: Status) -> Reply:
        views = []
        for app, env in self._places(command.app, command.environment):
            try:
                status = await self.engines[app].status(env)
                error = ""
            except ShipbotError as err:
                status, error = None, str(err)
            views.append(
                EnvironmentView(
                    app,
                    env,
                    status,
                    error,
                    self._current_lock(app, env),
                    tuple(r for r in self._running.values() if (r.app, r.environment) == (app, env)),
                    self.queue.waiting(app, env),
                    tuple(p.run for p in self.approvals.waiting(app, env)),
                )
            )
        return StatusReply(tuple(views))

    def _history(self, command: History) -> Reply:
        entries = [
            HistoryEntry(app, command.environment, tuple(engine.history(command.environment, command.limit)))
            for app, engine in self.engines.items()
            if command.app in (None, app)
            and (command.environment is None or command.environment in engine.config.environments)
        ]
        return HistoryReply(tuple(entries))

    async def _where(self, command: WhereCanIDeploy, user: str, channel: str) -> Reply:
        actors = await self._actors(user)
        now = utc(self.clock())
        entries = []
        for app, env in self._places(command.app, None):
            decision = decide_action(self.policies[app], actors[app], "deploy", env, channel, now)
            entries.append(WhereEntry(app, env, decision.allowed, decision.reason))
        return WhereReply(tuple(entries))

    async def _help(self, command: Help, user: str, channel: str) -> Reply:
        actors = await self._actors(user)
        topics = allowed_topics(self.policies, actors, channel)
        if command.topic is not None:
            return HelpReply((SYNTAX[command.topic],), command.topic, command.topic in topics)
        return HelpReply(tuple(SYNTAX[word] for word in topics))

    # ------------------------------------------------------------------------------------------- helpers

    def _pending(self, run_id: str) -> PendingApproval | Refusal:
        pending = self.approvals.get(run_id) or self._expired.get(run_id)
        if pending is None:
            return Refusal(
                f"no deploy {run_id} is waiting for approval",
                "It was approved, rejected, cancelled or expired, or shipbot restarted (which forgets requests "
                "that wait). Ask for the deploy again.",
            )
        if pending.expired(self.clock()):
            return Refusal(
                f"the approval request for {run_id} expired at {when(pending.expires_at)}",
                f"Ask {pending.run.user} to ask for the deploy again.",
            )
        return pending

    def _audit(self, actor: str, action: str, run: RunRequest, detail: str) -> None:
        self.stores[run.app].record_audit(actor, action, run.environment, detail)

    def _audit_overrides(self, actor: str, action: str, app: str, environment: str, overrides: tuple[str, ...]) -> None:
        for override in overrides:
            self.stores[app].record_audit(actor, f"override {action}", environment, override)
