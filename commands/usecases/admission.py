"""Admission: a request the policy allowed either starts now, waits in line, or is refused naming who holds the place.

- :meth:`Admission.admit` (deploys): start when the environment is free and nobody waits; otherwise queue where
  the environment has ``queue: true`` (a forced deploy at the front), else refuse with who deploys what.
- :meth:`Admission.run_now` (rollbacks and tasks): they never queue; they start now or are refused, by a lock
  or by a busy environment.
- :meth:`Admission.recheck` (approved deploys and rollbacks to a chosen release): the approval may come minutes
  later, so before the run starts the policy (a freeze that began meanwhile) and the locks are asked again. An
  approved auto-deploy (its requester a push, :func:`commands.push_rules.from_push`) is asked what binds a push: a
  freeze and the locks.
"""

from __future__ import annotations

from commands.command import Deploy, Rollback
from commands.push_rules import from_push
from commands.replies import Queued, Refusal, RunAccepted
from commands.reply_texts import busy, cannot_start_now
from commands.runs import RunRequest
from commands.usecases.audit import AuditTrail
from commands.usecases.board import RunBoard
from commands.usecases.execution import RunExecution
from commands.usecases.locks import LockService
from commands.usecases.permissions import Permissions
from commands.usecases.queue_service import QueueService
from deploy.records import Commit

Admitted = RunAccepted | Queued | Refusal


class Admission:
    def __init__(
        self,
        permissions: Permissions,
        locks: LockService,
        board: RunBoard,
        queue: QueueService,
        execution: RunExecution,
        audit: AuditTrail,
    ) -> None:
        self._permissions = permissions
        self._locks = locks
        self._board = board
        self._queue = queue
        self._execution = execution
        self._audit = audit

    async def admit(self, run: RunRequest, queue: bool, commits: tuple[Commit, ...] = ()) -> Admitted:
        """A deploy: start it now, put it in line (``queue``), or refuse it because the environment is busy."""
        holder = await self._board.busy(run.app, run.environment)
        if holder is None and not await self._queue.waiting(run.app, run.environment):
            self._execution.start(run)
            return RunAccepted(run, commits)
        if queue:
            return Queued(run, await self._queue.add(run), holder)
        if holder is None:  # pragma: no cover - only queueing environments have a line
            self._execution.start(run)
            return RunAccepted(run, commits)
        return busy(run.environment, holder)

    async def run_now(self, run: RunRequest, overrides: tuple[str, ...]) -> RunAccepted | Refusal:
        """A rollback or a task: started now, or refused by someone else's lock or a busy environment."""
        locked = await self._locks.refusal(run.app, run.environment, run.user)
        if locked:
            return locked
        holder = await self._board.busy(run.app, run.environment)
        if holder is not None:
            return busy(run.environment, holder)
        await self._audit.overrides(run.user, run.kind, run.app, run.environment, overrides)
        self._execution.start(run)
        return RunAccepted(run)

    async def recheck(self, run: RunRequest, command: Deploy | Rollback) -> Refusal | None:
        """Before an approved request starts: is it still allowed (freeze, lock)?"""
        if from_push(run.user):
            decision = self._permissions.push(run.app, run.environment)
        else:
            decision = await self._permissions.command(command, run.user, run.channel)
        if not decision.allowed:
            return cannot_start_now(decision.reason, decision.hint, run.kind)
        return await self._locks.refusal(run.app, run.environment, run.user)
