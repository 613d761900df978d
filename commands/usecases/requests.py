"""Asking for a run: ``deploy``, ``rollback``, ``run TASK`` and the "roll back" button, decided then admitted.

A deploy goes: policy -> someone else's lock (refused with who, why, since) -> ref resolved to a SHA (pinned
from here on) -> the promotion order (``promote_from``; ``deploy!`` goes past it) -> what it would ship (commits,
compare page, older than live) -> approval if required (:mod:`commands.usecases.approval_service`) or admitted now
(:mod:`commands.usecases.admission`). A dry run (``--dry-run``, ``plan``) is answered by
:mod:`commands.usecases.plans` and changes nothing. Forced deploys and every policy override are recorded. A
deploy's ``note`` (how an ambiguous word was read) goes on its run, or at the end of a refusal's hint.

A rollback to a chosen release (``rollback ENV to X``) takes the deploy's path: policy (freeze, force) -> lock ->
approval if required, else started now; a forced one (``rollback!``) is recorded like a forced deploy. A plain
rollback (the previous good release) and a task are decided by the policy and started now or refused. Rollbacks
and tasks never queue. Each request gets its run id when it is asked for, so buttons and queue positions can
name it before anything runs; a request from the bot's inbox brings the id it was given when it was received, so
a request answered again after a restart names the same run (:meth:`commands.usecases.ChatService.handle`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace

from commands.clock import Clock
from commands.command import Converge, Deploy, Rollback, RunTask
from commands.policy import Decision
from commands.ports import EnginePort
from commands.replies import Refusal, Reply
from commands.reply_texts import (
    did_not_go_out,
    no_deploy_in_history,
    not_a_deploy,
    promotion_refused,
    replaced_since,
    still_running,
    unresolved_ref,
)
from commands.runs import RunRequest
from commands.usecases.admission import Admission
from commands.usecases.approval_service import ApprovalService
from commands.usecases.audit import AuditTrail
from commands.usecases.locks import LockService
from commands.usecases.permissions import Permissions, refusal
from commands.usecases.plans import PlanService
from deploy.errors import ShipbotError, UsageError
from deploy.records import Shipment

COMMIT_LIMIT = 20  # commits listed in a deploy's reply and approval request
HISTORY_SEARCH = 200  # runs searched for the run a "roll back" button names


class RequestService:
    def __init__(
        self,
        engines: Mapping[str, EnginePort],
        permissions: Permissions,
        locks: LockService,
        admission: Admission,
        approvals: ApprovalService,
        audit: AuditTrail,
        clock: Clock,
        run_ids: Callable[[], str],
    ) -> None:
        self._engines = dict(engines)
        self._permissions = permissions
        self._locks = locks
        self._admission = admission
        self._approvals = approvals
        self._audit = audit
        self._clock = clock
        self._run_ids = run_ids
        self._plans = PlanService(engines, permissions, locks)

    async def deploy(self, command: Deploy, user: str, channel: str, run_id: str | None = None) -> Reply:
        """``run_id``: the id the request's run gets (a new one when None)."""
        if command.dry_run:
            return await self._plans.plan(command, user, channel)
        reply = await self._deploy(command, user, channel, run_id)
        if command.note and isinstance(reply, Refusal):
            return replace(reply, hint=f"{reply.hint} {command.note}".strip())
        return reply

    async def _deploy(self, command: Deploy, user: str, channel: str, run_id: str | None) -> Reply:
        decision = await self._gates(command, user, channel)
        if isinstance(decision, Refusal):
            return decision
        engine = self._engines[command.app]
        try:
            sha = await engine.resolve_ref(command.ref)
        except UsageError as err:
            return unresolved_ref(str(err), usage=True)
        except ShipbotError as err:
            return unresolved_ref(str(err), usage=False)
        block = await engine.promotion(command.environment, sha)
        if block is not None and not command.force:
            return promotion_refused(block, command.ref)
        run = self._request(
            "deploy", command.app, command.environment, user, channel, decision.overrides,
            ref=command.ref, sha=sha, target=command.target, forced=command.force, note=command.note, run_id=run_id,
        )  # fmt: skip
        await self._record(run, decision)
        shipment = await self._shipment(engine, run.environment, sha)
        commits = shipment.commits
        if decision.approval_required:
            return replace(await self._approvals.ask(run, command, decision, commits), shipment=shipment)
        return await self._admission.admit(run, decision.queue, commits)

    async def rollback(self, command: Rollback, user: str, channel: str, run_id: str | None = None) -> Reply:
        if command.to is None:
            return await self._decide_and_run(command, user, channel, "rollback", run_id=run_id)
        decision = await self._gates(command, user, channel)
        if isinstance(decision, Refusal):
            return decision
        run = self._request(
            "rollback", command.app, command.environment, user, channel, decision.overrides,
            ref=command.to, forced=command.force, run_id=run_id,
        )  # fmt: skip
        await self._record(run, decision)
        if decision.approval_required:
            return await self._approvals.ask(run, command, decision)
        return await self._admission.run_now(run, ())

    async def converge(self, command: Converge, user: str, channel: str, run_id: str | None = None) -> Reply:
        """Decided like a deploy (policy, freeze, lock), then started now or refused while the environment is busy;
        no approval: the release it puts out is the one already live."""
        decision = await self._gates(command, user, channel)
        if isinstance(decision, Refusal):
            return decision
        run = self._request(
            "converge", command.app, command.environment, user, channel, decision.overrides, run_id=run_id
        )
        await self._record(run, decision)
        return await self._admission.run_now(run, decision.overrides)

    async def _gates(self, command: Deploy | Rollback | Converge, user: str, channel: str) -> Decision | Refusal:
        """The policy, then someone else's lock: the decision when both let the request through."""
        decision = await self._permissions.command(command, user, channel)
        if not decision.allowed:
            return refusal(decision)
        return await self._locks.refusal(command.app, command.environment, user) or decision

    async def _record(self, run: RunRequest, decision: Decision) -> None:
        """The policy's overrides and a forced request, recorded when it is asked for."""
        await self._audit.overrides(run.user, run.kind, run.app, run.environment, decision.overrides)
        if run.forced:
            await self._audit.forced(run)

    async def task(self, command: RunTask, user: str, channel: str, run_id: str | None = None) -> Reply:
        return await self._decide_and_run(
            command, user, channel, "task", target=command.target, task=command.task, run_id=run_id
        )

    async def rollback_run(self, run_id: str, user: str, channel: str) -> Reply:
        """The "roll back" button under a finished deploy: put back what ran before it."""
        for app, engine in self._engines.items():
            for record in await engine.history(None, HISTORY_SEARCH):
                if record.run_id != run_id:
                    continue
                if record.kind != "deploy":
                    return not_a_deploy(run_id, record.kind)
                if record.running:
                    return still_running(run_id)
                if record.state != "success":
                    return did_not_go_out(run_id, record.state)
                if await engine.deployed_sha(record.environment) != record.sha:
                    return replaced_since(run_id, record.environment)
                return await self.rollback(Rollback(app, record.environment), user, channel)
        return no_deploy_in_history(run_id)

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
        run_id: str | None = None,
    ) -> Reply:
        """A rollback or a task: allowed here by this person, then started now (they never queue)."""
        decision = await self._permissions.command(command, user, channel)
        if not decision.allowed:
            return refusal(decision)
        run = self._request(
            kind, command.app, command.environment, user, channel, decision.overrides,
            ref=ref, target=target, task=task, run_id=run_id,
        )  # fmt: skip
        return await self._admission.run_now(run, decision.overrides)

    def _request(
        self,
        kind: str,
        app: str,
        environment: str,
        user: str,
        channel: str,
        overrides: tuple[str, ...],
        *,
        ref: str = "",
        sha: str | None = None,
        target: str | None = None,
        task: str | None = None,
        forced: bool = False,
        note: str = "",
        run_id: str | None = None,
    ) -> RunRequest:
        """A new request, with its run id (``run_id``, else a new one), asked for now."""
        now = self._clock()
        return RunRequest(
            run_id or self._run_ids(),
            kind,
            app,
            environment,
            user,
            channel,
            now,
            ref,
            sha,
            target,
            task,
            forced,
            overrides,
            note,
        )

    async def _shipment(self, engine: EnginePort, environment: str, sha: str) -> Shipment:
        """What a deploy of ``sha`` would ship (nothing listed when it cannot be read)."""
        live = await engine.deployed_sha(environment)
        try:
            return await engine.shipment(live, sha, COMMIT_LIMIT)
        except ShipbotError:
            return Shipment(live, sha)
