"""Pauses between batches of a staged deploy, and the Continue/Abort answer a person gives there.

:meth:`Pauses.gate` makes the engine's :data:`~deploy.events.Gate` for one run: it waits on a future that
:meth:`Pauses.resume` completes with ``True`` (continue) or ``False`` (abort and switch back). Whoever may deploy
to that environment may press Continue (a freeze refuses it); Abort is also open during a freeze to the person who
started the run, approvers and admins (:func:`~commands.policy.decide_abort`). Every answer is recorded.
"""

from __future__ import annotations

import asyncio

from commands.replies import Reply, Resumed
from commands.reply_texts import may_not_resume, not_paused
from commands.runs import RunRequest
from commands.usecases.audit import AuditTrail
from commands.usecases.board import RunBoard
from commands.usecases.permissions import Permissions
from deploy.events import BatchGate, Gate


class Pauses:
    def __init__(self, board: RunBoard, permissions: Permissions, audit: AuditTrail) -> None:
        self._board = board
        self._permissions = permissions
        self._audit = audit
        self._waiting: dict[str, asyncio.Future[bool]] = {}  # run id -> the answer its pause waits for

    def gate(self, run: RunRequest) -> Gate:
        """The pause between batches of ``run``: it waits until someone allowed to deploy there answers."""

        async def gate(_: BatchGate) -> bool:
            answer: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
            self._waiting[run.run_id] = answer
            try:
                return await answer
            finally:
                self._waiting.pop(run.run_id, None)

        return gate

    def waits(self, run_id: str) -> bool:
        """A pause of this process waits for ``run_id``'s answer."""
        answer = self._waiting.get(run_id)
        return answer is not None and not answer.done()

    async def resume(self, run_id: str, user: str, channel: str, go: bool) -> Reply:
        """The Continue (``go``) or Abort button of a run paused between batches."""
        answer = self._waiting.get(run_id)
        run = self._board.get(run_id)
        if answer is None or run is None or answer.done():
            return not_paused(run_id)
        if go:  # Continue sends the change further out: a deploy's gates, freeze included
            decision = await self._permissions.action(run.app, user, "deploy", run.environment, channel)
        else:  # Abort brings the previous release back: no freeze stops it
            decision = await self._permissions.abort(run, user)
        if not decision.allowed:
            return may_not_resume(decision.reason, run.user)
        await self._audit.overrides(user, "resume", run.app, run.environment, decision.overrides)
        await self._audit.resumed(user, run, go)
        answer.set_result(go)
        return Resumed(run, user, go)
