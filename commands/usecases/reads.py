"""The commands that only read: ``status``, ``history``, ``where can I deploy`` and ``help``.

Status joins, per environment, what the engine reads from the hosts (or why it could not), the lock, the runs
chat started there, the queue and the requests waiting for approval. ``where`` asks the policy for every
environment of the apps named; ``help`` lists only the commands the asker may use in this channel (``help
TOPIC`` always answers, saying whether they may use it here).
"""

from __future__ import annotations

from collections.abc import Mapping

from commands.command import Help, History, Status, WhereCanIDeploy
from commands.help_text import SYNTAX
from commands.ports import EnginePort
from commands.replies import (
    EnvironmentView,
    HelpReply,
    HistoryEntry,
    HistoryReply,
    Reply,
    StatusReply,
    WhereEntry,
    WhereReply,
)
from commands.runs import RunRequest
from commands.usecases.approval_service import ApprovalService
from commands.usecases.board import RunBoard
from commands.usecases.locks import LockService
from commands.usecases.permissions import Permissions
from commands.usecases.queue_service import QueueService
from deploy.capistrano.cap_entries import CapEntry, timeline
from deploy.errors import ShipbotError
from deploy.records import RunRecord


class ReadService:
    def __init__(
        self,
        engines: Mapping[str, EnginePort],
        permissions: Permissions,
        locks: LockService,
        board: RunBoard,
        queue: QueueService,
        approvals: ApprovalService,
    ) -> None:
        self._engines = dict(engines)
        self._permissions = permissions
        self._locks = locks
        self._board = board
        self._queue = queue
        self._approvals = approvals

    def _places(self, app: str | None, environment: str | None) -> list[tuple[str, str]]:
        return [
            (a, e)
            for a, engine in self._engines.items()
            if app in (None, a)
            for e in engine.config.environments
            if environment in (None, e)
        ]

    async def status(self, command: Status) -> Reply:
        return StatusReply(tuple([await self._view(a, e) for a, e in self._places(command.app, command.environment)]))

    async def _view(self, app: str, environment: str) -> EnvironmentView:
        try:
            status = await self._engines[app].status(environment)
            error = ""
        except ShipbotError as err:
            status, error = None, str(err)
        return EnvironmentView(
            app,
            environment,
            status,
            error,
            await self._locks.current(app, environment),
            (*self._board.running(app, environment), *await self._elsewhere(app, environment)),
            await self._queue.waiting(app, environment),
            await self._approvals.waiting(app, environment),
        )

    async def _elsewhere(self, app: str, environment: str) -> tuple[RunRequest, ...]:
        """The run another process (a replica, the command line) drives there, as a running request."""
        r = await self._engines[app].running_elsewhere(environment)
        if r is None:
            return ()
        task = r.ref if r.kind == "task" else None
        ref = "" if r.kind == "rollback" and r.ref == "previous" else r.ref
        return (RunRequest(r.run_id, r.kind, r.app, r.environment, r.user, "", r.started_at, ref, r.sha, task=task),)

    async def history(self, command: History) -> Reply:
        """The newest runs of each app, with the Capistrano deploys and rollbacks shipbot has read from its hosts'
        revisions.log, in time order (no host is reached)."""
        entries = []
        for app, engine in self._engines.items():
            if command.app not in (None, app) or command.environment not in (None, *engine.config.environments):
                continue
            runs = await engine.history(command.environment, command.limit)
            shown = timeline(runs, await engine.capistrano_history(command.environment, command.limit), command.limit)
            runs_shown = tuple(r for r in shown if isinstance(r, RunRecord))
            cap_shown = tuple(e for e in shown if isinstance(e, CapEntry))
            entries.append(HistoryEntry(app, command.environment, runs_shown, cap_shown))
        return HistoryReply(tuple(entries))

    async def where(self, command: WhereCanIDeploy, user: str, channel: str) -> Reply:
        places = self._places(command.app, None)
        decisions = await self._permissions.deploy_places(user, channel, places)
        return WhereReply(
            tuple(WhereEntry(app, env, d.allowed, d.reason) for (app, env), d in zip(places, decisions, strict=True))
        )

    async def help(self, command: Help, user: str, channel: str) -> Reply:
        topics = await self._permissions.topics(user, channel)
        if command.topic is not None:
            return HelpReply((SYNTAX[command.topic],), command.topic, command.topic in topics)
        return HelpReply(tuple(SYNTAX[word] for word in topics))
