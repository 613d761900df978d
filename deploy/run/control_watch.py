"""The lease holder's side of control requests (:mod:`deploy.store.control_requests`) for one run it drives, and the
hand-over of a run that waits for a person.

:class:`RunControl` is made by the engine for every run it drives (bot or command line alike). :meth:`RunControl.watch`
runs beside the lease heartbeat and looks at the run's control requests every
:data:`~deploy.store.control_requests.POLL_EVERY` seconds (a database that does not answer for a while only delays that;
the watch goes on until the run ends): ``cancel`` cancels the run's task (the runner stops what runs and puts every
switched host back, as for a local cancel); ``continue`` and ``abort`` answer the pause the run waits at
(:meth:`RunControl.gate` races the caller's own gate with that answer), and are dropped when the run waits at none. A
request is taken once (compare and set), and only by the process that holds the run's lease, in the same statement
(:mod:`deploy.store.fencing`): a holder whose lease was taken over takes nothing, and stops.

:meth:`RunControl.hand_over` is for a process that stops (an upgrade) while the run waits at a pause: the run stops
here without touching a host or recording an end (its lease guard says lost, so the runner does nothing more), and
the engine then deletes the lease so the next process's lease watch takes the run over at once and keeps it
waiting, instead of after the lease's TTL.
"""

from __future__ import annotations

import asyncio
from typing import Protocol

import structlog

from deploy.errors import LeaseLost
from deploy.events import BatchGate, Gate
from deploy.store.control_requests import CANCEL, CONTINUE, POLL_EVERY, ControlRequest, Controls
from deploy.store.door import Door
from deploy.store.leases import LeaseGuard
from deploy.store.statements import DatabaseError


class Taker(Protocol):
    def take(self, request: ControlRequest) -> bool: ...


log = structlog.get_logger("shipbot.engine")


class RunControl:
    def __init__(
        self,
        controls: Controls,
        run_id: str,
        guard: LeaseGuard,
        task: asyncio.Task[object] | None,
        taker: Taker | None = None,
        door: Door | None = None,
    ) -> None:
        self._controls = controls
        self._taker: Taker = taker or controls  # the run's fenced writes (deploy.store.fencing) when it has them
        self._door: Door = door or controls.door  # the run's fenced door with them
        self.run_id = run_id
        self._guard = guard
        self._task = task
        self._answer: asyncio.Future[bool] | None = None
        self.handed_over = False
        self.cancelled_by: str | None = None  # who asked, through a control request, when it cancelled the run

    @property
    def waiting(self) -> bool:
        """The run waits at a pause for a person now."""
        return self._answer is not None and not self._answer.done()

    def gate(self, gate: Gate | None) -> Gate | None:
        """``gate``, also answered by a Continue or Abort request from another process."""
        if gate is None:
            return None
        own = gate

        async def gated(batch: BatchGate) -> bool:
            answer: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
            self._answer = answer
            mine = asyncio.ensure_future(own(batch))
            try:
                await asyncio.wait([mine, answer], return_when=asyncio.FIRST_COMPLETED)
                return answer.result() if answer.done() else bool(mine.result())
            finally:
                self._answer = None
                mine.cancel()
                if not answer.done():
                    answer.cancel()

        return gated

    async def watch(self) -> None:
        """Act on the run's control requests until cancelled."""
        while True:
            await asyncio.sleep(POLL_EVERY)
            if self._guard.lost:
                return
            try:
                await self.poll()
            except LeaseLost:  # the guard knows, and stops the run
                return
            except DatabaseError as err:  # the store does not answer now: look again next time, for the whole run
                log.warning("control_poll_failed", run_id=self.run_id, error=str(err))

    async def poll(self) -> None:
        door = self._door
        for request in await door(self._controls.pending, [self.run_id]):
            if request.action == CANCEL:
                if await door(self._taker.take, request) and self._task is not None:
                    log.info("control_cancel", run_id=self.run_id, by=request.who)
                    self.cancelled_by = request.who
                    self._task.cancel()
                return
            answer = self._answer
            if await door(self._taker.take, request):
                if answer is not None and not answer.done():
                    log.info("control_resume", run_id=self.run_id, by=request.who, action=request.action)
                    answer.set_result(request.action == CONTINUE)
                else:
                    log.info("control_dropped", run_id=self.run_id, by=request.who, action=request.action)

    def hand_over(self) -> bool:
        """Stop driving the run if it waits at a pause (see the module doc); False when it does not wait."""
        if not self.waiting or self._task is None:
            return False
        self.handed_over = True
        self._guard.lost = True
        self._task.cancel()
        return True
