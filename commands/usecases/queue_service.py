"""The line of deploys waiting for a busy environment: positions, starting the next, and the line kept across restarts.

The line itself is a :class:`~commands.queue_book.RunQueue`, rows in the store; this service moves it. It moves
on two occasions:

- a run this process started ends: the execution calls :meth:`QueueService.start_next` for its environment;
- :meth:`QueueService.advance`, which the bot calls on a timer (every couple of seconds): for every environment
  with someone in line, the next request starts if the environment is free. That is how a run that ended in
  another process (``shipbot deploy`` from the CLI, or a bot that died) moves the line, and how a line left by a
  restart starts again: the store is polled, nothing more clever.

The first request in line starts unless someone else's lock now holds the environment, in which case its requester
hears :class:`~commands.ports.RunDropped` and the next one is tried. Taking a request out of line is a
compare-and-set on its row, so it starts once even if two processes look at the same line. (Should the CLI take
the environment in the instant between that look and the engine's start, the engine refuses the run as busy and
its requester is told so in the run's report.) Whenever the line
moves, every waiting requester hears their new position (:class:`~commands.ports.QueueMoved`).
:meth:`QueueService.close` stops the line moving in this process (shipbot is going down); the requests keep
their places for the next one.
"""

from __future__ import annotations

from commands.ports import QueueMoved, RunDropped, RunReporter
from commands.queue_book import RunQueue
from commands.runs import RunRequest
from commands.usecases.board import RunBoard
from commands.usecases.execution import RunExecution
from commands.usecases.locks import LockService
from deploy.store.ports import DROPPED, STARTED, WaitingStore


class QueueService:
    def __init__(
        self,
        rows: WaitingStore,
        board: RunBoard,
        execution: RunExecution,
        locks: LockService,
        reporter: RunReporter,
    ) -> None:
        self._line = RunQueue(rows)
        self._board = board
        self._execution = execution
        self._locks = locks
        self._reporter = reporter
        self._closing = False

    async def waiting(self, app: str | None = None, environment: str | None = None) -> tuple[RunRequest, ...]:
        return await self._line.waiting(app, environment)

    async def find(self, run_id: str) -> RunRequest | None:
        return next((run for run in await self._line.waiting() if run.run_id == run_id), None)

    async def add(self, run: RunRequest) -> int:
        """Put ``run`` in line (a forced one at the front, telling the others); returns its position."""
        position = await self._line.add(run, front=run.forced)
        if run.forced:
            await self.announce_positions(run.app, run.environment, skip=run.run_id)
        return position

    async def withdraw(self, run_id: str) -> bool:
        """Take a cancelled request out of line and tell the others their new places; False if it had left."""
        run = await self._line.remove(run_id)
        if run is not None:
            await self.announce_positions(run.app, run.environment)
        return run is not None

    async def start_next(self, app: str, environment: str) -> None:
        """Start the first request in line that may start, if the environment is free."""
        while not self._closing and self._board.serves(app) and await self._board.busy(app, environment) is None:
            run = await self._line.first(app, environment)
            if run is None:
                return
            refusal = await self._locks.refusal(app, environment, run.user)
            if refusal is not None:
                if await self._line.take(run.run_id, DROPPED):
                    await self._reporter.notify(RunDropped(run, refusal.reason, refusal.hint))
                continue
            if not await self._line.take(run.run_id, STARTED):
                continue  # another process started it
            self._execution.start(run)
            await self.announce_positions(app, environment)
            return

    async def advance(self) -> None:
        """Every line whose environment is free moves on (runs that ended in another process, lines left by a
        restart); the bot calls this on a timer."""
        for app, environment in await self._line.places():
            await self.start_next(app, environment)

    async def announce_positions(self, app: str, environment: str, skip: str = "") -> None:
        busy = await self._board.busy(app, environment)
        for position, waiting in enumerate(await self._line.waiting(app, environment), start=1):
            if waiting.run_id != skip:
                await self._reporter.notify(QueueMoved(waiting, position, busy))

    def close(self) -> None:
        """No request starts from the line in this process any more; each keeps its place for the next one."""
        self._closing = True
