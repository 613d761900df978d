"""Running one admitted request: the engine call, owned by the supervisor, reported however it ends.

:meth:`RunExecution.start` puts the run on the :class:`~commands.usecases.board.RunBoard` and hands its
coroutine to the :class:`~commands.supervisor.RunSupervisor`, so no run is fire-and-forget. The coroutine calls
the engine for the run's kind (a deploy pinned to its SHA, with a pause gate between batches; a rollback; a
task; or the resume of a deploy a dead process left waiting at a pause, :mod:`commands.usecases.takeovers`) with
the reporter's sink for progress. However it ends (success, failure, cancel, a crash) the run leaves
the board, the reporter hears :class:`~commands.ports.RunEnded`, and ``after(run)`` is awaited, which the service
wires to starting the next queued request for that environment. A successful rollback locks the environment
(:meth:`~commands.usecases.locks.LockService.lock_after_rollback`) and the lock travels with the notice. The task
binds the run id, environment, app and user with structlog's contextvars, so every line logged on its behalf
carries them (and so do the Sentry events of errors it logs).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace

import structlog

from commands.ports import EnginePort, RunEnded, RunReporter
from commands.reply_texts import RUN_CANCELLED, STORE_NOT_ANSWERING, cancelled_by, run_failed_unexpectedly
from commands.runs import RunRequest
from commands.supervisor import RunSupervisor
from commands.usecases.board import RunBoard
from commands.usecases.locks import LockService
from commands.usecases.pauses import Pauses
from deploy.errors import HandedOver, NothingToConverge, ShipbotError, StoreUnavailable
from deploy.events import Event, EventSink, Outcome, RunFinished
from deploy.records import LockRecord

AfterRun = Callable[[RunRequest], Awaitable[None]]
Resume = tuple[bool, str]  # a taken-over run's answer: go on (True) or abort, and why it aborts

log = structlog.get_logger("shipbot.runs")


class RunExecution:
    def __init__(
        self,
        engines: Mapping[str, EnginePort],
        reporter: RunReporter,
        supervisor: RunSupervisor,
        board: RunBoard,
        locks: LockService,
        pauses: Pauses,
        after: AfterRun,
    ) -> None:
        self._engines = dict(engines)
        self._reporter = reporter
        self._supervisor = supervisor
        self._board = board
        self._locks = locks
        self._pauses = pauses
        self._after = after

    def start(self, run: RunRequest, resume: Resume | None = None) -> None:
        """Run ``run``; with ``resume``, continue or abort it where a dead process left it waiting at a pause."""
        self._board.add(run)
        self._supervisor.start(run.run_id, f"{run.app}/{run.environment}", self._execute(run, resume))

    async def _execute(self, run: RunRequest, resume: Resume | None) -> RunFinished | None:
        """The run's task: every line it logs (engine, reporter, the next queued start) carries the run's context."""
        with structlog.contextvars.bound_contextvars(
            run_id=run.run_id, environment=run.environment, app=run.app, user=run.user, kind=run.kind
        ):
            return await self._execute_bound(run, resume)

    async def _execute_bound(self, run: RunRequest, resume: Resume | None) -> RunFinished | None:
        finished: RunFinished | None = None
        error = idle = ""
        lock: LockRecord | None = None
        handed = False
        reported: list[RunFinished] = []  # the end the engine reported, also when the run's task is cancelled
        try:
            finished = await self._drive(run, self._told(run, reported), resume)
            if run.kind == "rollback" and finished.outcome is Outcome.SUCCESS:
                lock = await self._locks.lock_after_rollback(run)
        except asyncio.CancelledError:
            if reported:  # the run's report says it was cancelled, by whom, and where the hosts are
                finished = reported[-1]
            else:
                error = RUN_CANCELLED
            raise
        except NothingToConverge as err:
            idle = str(err)
        except HandedOver:  # stopping while it waits for a person: the next process reports it from now on
            handed = True
        except StoreUnavailable as err:  # the run could not be recorded, started or ended: said plainly in chat
            log.warning("run_store_not_answering", error=str(err))
            error = STORE_NOT_ANSWERING
        except ShipbotError as err:
            error = str(err)
        except Exception as err:
            error = run_failed_unexpectedly(err)
            raise
        finally:
            self._board.remove(run.run_id)
            await self._reporter.notify(RunEnded(run, finished, error, lock, idle, handed_over=handed))
            await self._after(run)
        return finished

    def _told(self, run: RunRequest, reported: list[RunFinished]) -> EventSink:
        """The reporter's sink for ``run``; a cancelled run's end names who cancelled it."""
        sink = self._reporter.sink_for(run)

        def told(event: Event) -> None:
            if isinstance(event, RunFinished):
                by = self._board.canceller(run.run_id)
                if event.outcome is Outcome.CANCELLED and by is not None:
                    event = replace(event, message=cancelled_by(by, event.message))
                reported.append(event)
            sink(event)

        return told

    async def _drive(self, run: RunRequest, sink: EventSink, resume: Resume | None) -> RunFinished:
        """The engine call for the run's kind (or the resume of a taken-over run)."""
        engine = self._engines[run.app]
        if resume is not None:
            go, reason = resume
            return await engine.resume(run.run_id, go, sink=sink, gate=self._pauses.gate(run), reason=reason)
        if run.kind == "deploy":
            return await engine.deploy(
                run.environment,
                run.ref,
                user=run.user,
                hosts_filter=run.target,
                sink=sink,
                run_id=run.run_id,
                sha=run.sha,
                forced=run.forced,
                gate=self._pauses.gate(run),
            )
        if run.kind == "converge":
            return await engine.converge(run.environment, user=run.user, sink=sink, run_id=run.run_id)
        if run.kind == "rollback":
            return await engine.rollback(
                run.environment, to=run.ref or None, user=run.user, sink=sink, run_id=run.run_id
            )
        return await engine.run_task(
            run.task or "", run.environment, user=run.user, hosts_filter=run.target, sink=sink, run_id=run.run_id
        )
