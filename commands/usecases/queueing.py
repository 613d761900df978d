"""The line of deploys waiting for a busy environment: positions, starting the next, forgetting on restart.

The line itself is a :class:`~commands.run_queue.RunQueue`; this service moves it. When a run ends, the
execution calls :meth:`QueueService.start_next`: the first waiting request starts unless someone else's lock
now holds the environment, in which case its requester hears :class:`~commands.ports.RunDropped` and the next
one is tried. Whenever the line moves, every waiting requester hears their new position
(:class:`~commands.ports.QueueMoved`). :meth:`QueueService.close` stops the line for good (shipbot is going down)
and tells each waiting requester that nothing of their request ran.
"""

from __future__ import annotations

from commands.ports import QueueMoved, RunDropped, RunReporter
from commands.reply_texts import dropped_on_restart
from commands.run_queue import RunQueue
from commands.runs import RunRequest
from commands.usecases.board import RunBoard
from commands.usecases.execution import RunExecution
from commands.usecases.locks import LockService


class QueueService:
    def __init__(self, board: RunBoard, execution: RunExecution, locks: LockService, reporter: RunReporter) -> None:
        self._line = RunQueue()
        self._board = board
        self._execution = execution
        self._locks = locks
        self._reporter = reporter
        self._closing = False

    def waiting(self, app: str | None = None, environment: str | None = None) -> tuple[RunRequest, ...]:
        return self._line.waiting(app, environment)

    def find(self, run_id: str) -> RunRequest | None:
        return next((run for run in self._line.waiting() if run.run_id == run_id), None)

    async def add(self, run: RunRequest) -> int:
        """Put ``run`` in line (a forced one at the front, telling the others); returns its position."""
        position = self._line.add(run, front=run.forced)
        if run.forced:
            await self.announce_positions(run.app, run.environment, skip=run.run_id)
        return position

    async def withdraw(self, run_id: str) -> None:
        """Take a cancelled request out of line and tell the others their new places."""
        run = self._line.remove(run_id)
        if run is not None:
            await self.announce_positions(run.app, run.environment)

    async def start_next(self, app: str, environment: str) -> None:
        """Start the first request in line that may start, if the environment is free."""
        while not self._closing and self._board.busy(app, environment) is None:
            run = self._line.pop_next(app, environment)
            if run is None:
                return
            refusal = self._locks.refusal(app, environment, run.user)
            if refusal is not None:
                await self._reporter.notify(RunDropped(run, refusal.reason, refusal.hint))
                continue
            self._execution.start(run)
            await self.announce_positions(app, environment)
            return

    async def announce_positions(self, app: str, environment: str, skip: str = "") -> None:
        busy = self._board.busy(app, environment)
        for position, waiting in enumerate(self._line.waiting(app, environment), start=1):
            if waiting.run_id != skip:
                await self._reporter.notify(QueueMoved(waiting, position, busy))

    async def close(self) -> None:
        """No request starts from the line any more; each one waiting hears it was dropped."""
        self._closing = True
        for run in self._line.clear():
            await self._reporter.notify(dropped_on_restart(run))
