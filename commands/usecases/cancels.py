"""Cancelling a request, wherever it is: running (the engine reverts), queued, or waiting for approval.

``cancel RUN-ID`` names one; ``cancel ENV`` the run shipbot started there; a bare ``cancel`` the asker's only
request. Anyone may cancel their own request; someone else's needs the ``cancel`` right in that environment
(recorded as an override where it is one). A run another live shipbot drives (a replica, or ``shipbot deploy``)
is cancelled by asking it through the store (:mod:`commands.usecases.elsewhere`). Every cancel is recorded.
"""

from __future__ import annotations

from collections.abc import Mapping

from commands.command import Cancel
from commands.ports import EnginePort
from commands.replies import Cancelled, Reply
from commands.reply_texts import (
    may_not_cancel,
    no_such_run,
    not_started_from_chat,
    nothing_running_in,
    nothing_to_cancel,
    several_to_cancel,
)
from commands.runs import RunRequest
from commands.supervisor import RunSupervisor
from commands.usecases.approval_service import ApprovalService
from commands.usecases.audit import AuditTrail
from commands.usecases.board import RunBoard
from commands.usecases.elsewhere import HeldElsewhere
from commands.usecases.permissions import Permissions
from commands.usecases.queue_service import QueueService

HISTORY_SEARCH = 50  # recent runs searched for a run started outside chat


class CancelService:
    def __init__(
        self,
        engines: Mapping[str, EnginePort],
        board: RunBoard,
        queue: QueueService,
        approvals: ApprovalService,
        supervisor: RunSupervisor,
        permissions: Permissions,
        audit: AuditTrail,
        elsewhere: HeldElsewhere,
    ) -> None:
        self._engines = dict(engines)
        self._board = board
        self._queue = queue
        self._approvals = approvals
        self._supervisor = supervisor
        self._permissions = permissions
        self._audit = audit
        self._elsewhere = elsewhere

    async def cancel(self, command: Cancel, user: str, channel: str) -> Reply:
        if command.run_id is not None:
            return await self._cancel_one(command.run_id, user, channel)
        if command.environment is not None:
            running = self._board.running(command.app, command.environment)
            if not running:
                other = await self._elsewhere.find_in(command.app, command.environment)
                if other is not None:
                    return await self._cancel_one(other.run_id, user, channel)
                return nothing_running_in(command.environment)
            return await self._cancel_one(running[0].run_id, user, channel)
        mine = [
            *(r for r in self._board.running() if r.user == user),
            *(r for r in await self._queue.waiting() if r.user == user),
            *(r for r in await self._approvals.waiting() if r.user == user),
            *await self._elsewhere.mine(user, channel),
        ]
        if not mine:
            return nothing_to_cancel()
        if len(mine) > 1:
            return several_to_cancel([r.run_id for r in mine])
        return await self._cancel_one(mine[0].run_id, user, channel)

    async def _find(self, run_id: str) -> tuple[RunRequest, str] | None:
        """The request ``run_id`` and where it is: running, queued or awaiting approval."""
        running = self._board.get(run_id)
        if running is not None:
            return running, "running"
        for state, find in (("queued", self._queue.find), ("awaiting approval", self._approvals.find)):
            run = await find(run_id)
            if run is not None:
                return run, state
        return None

    async def _cancel_one(self, run_id: str, user: str, channel: str) -> Reply:
        found = await self._find(run_id)
        if found is None:
            asked = await self._elsewhere.cancel(run_id, user, channel)
            if asked is not None:
                return asked
            for engine in self._engines.values():
                if any(r.run_id == run_id and r.running for r in await engine.history(None, HISTORY_SEARCH)):
                    return not_started_from_chat(run_id)
            return no_such_run(run_id)
        run, state = found
        if run.user != user:
            decision = await self._permissions.action(run.app, user, "cancel", run.environment, channel)
            if not decision.allowed:
                return may_not_cancel(decision.reason, run.user)
            await self._audit.overrides(user, "cancel", run.app, run.environment, decision.overrides)
        if state == "queued" and not await self._queue.withdraw(run_id):
            return await self._cancel_one(run_id, user, channel)  # it left the line meanwhile: look again
        if state == "awaiting approval" and not await self._approvals.withdraw(run_id, user):
            return await self._cancel_one(run_id, user, channel)  # decided meanwhile: look again
        if state == "running":
            self._board.cancelling(run_id, user)
            self._supervisor.cancel(run_id)
        await self._audit.cancelled(user, run, state)
        return Cancelled(run, state)
