"""Owns every run task: nothing the chat side starts is fire-and-forget.

``start(run_id, environment, coroutine)`` wraps the coroutine in a task it keeps until the task ends;
``cancel`` cancels one run (by id) or every run in an environment (the engine reverts and records the run as
cancelled, then ``CancelledError`` ends the task); ``wait`` and ``drain`` await runs; ``shutdown(cancel=True)``
cancels everything and waits, ``shutdown(cancel=False)`` lets runs finish. An exception a task ends with is
kept in ``failures`` (run id -> exception) rather than lost; the service reports run errors before raising.
A cancel that arrives before a task took its first step is delivered as soon as it does, so the run's own
cleanup and reporting always happen.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ActiveRun:
    run_id: str
    environment: str
    task: asyncio.Task[Any]


class RunSupervisor:
    def __init__(self) -> None:
        self._runs: dict[str, ActiveRun] = {}
        self.failures: dict[str, BaseException] = {}
        self._closed = False
        self._started: set[str] = set()
        self._cancel_early: set[str] = set()

    def start(self, run_id: str, environment: str, coroutine: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        if self._closed:
            coroutine.close()
            raise RuntimeError("the run supervisor is shut down")
        if run_id in self._runs:
            coroutine.close()
            raise ValueError(f"run {run_id} is already running")
        task = asyncio.get_running_loop().create_task(self._guarded(run_id, coroutine), name=f"run-{run_id}")
        self._runs[run_id] = ActiveRun(run_id, environment, task)
        task.add_done_callback(lambda done: self._finished(run_id, done))
        return task

    async def _guarded(self, run_id: str, coroutine: Coroutine[Any, Any, Any]) -> Any:
        # A task cancelled before its first step would never run the coroutine's own cleanup (its finally
        # blocks); so a cancel that comes that early is delivered once the coroutine is under way instead.
        self._started.add(run_id)
        if run_id in self._cancel_early:
            task = asyncio.current_task()
            if task is not None:
                task.cancel()
        return await coroutine

    def _finished(self, run_id: str, task: asyncio.Task[Any]) -> None:
        self._runs.pop(run_id, None)
        self._started.discard(run_id)
        self._cancel_early.discard(run_id)
        if not task.cancelled() and task.exception() is not None:
            self.failures[run_id] = task.exception()  # type: ignore[assignment]

    def active(self, environment: str | None = None) -> tuple[ActiveRun, ...]:
        return tuple(r for r in self._runs.values() if environment is None or r.environment == environment)

    def get(self, run_id: str) -> ActiveRun | None:
        return self._runs.get(run_id)

    def cancel(self, run_id: str | None = None, *, environment: str | None = None) -> tuple[str, ...]:
        """Cancel the run ``run_id``, or every run in ``environment``; returns the ids cancelled."""
        targets = [
            r for r in self._runs.values() if r.run_id == run_id or (environment and r.environment == environment)
        ]
        for run in targets:
            self._cancel(run)
        return tuple(r.run_id for r in targets)

    def _cancel(self, run: ActiveRun) -> None:
        if run.run_id in self._started:
            run.task.cancel()
        else:
            self._cancel_early.add(run.run_id)

    async def wait(self, run_id: str) -> None:
        """Wait until ``run_id`` ends, however it ends."""
        run = self._runs.get(run_id)
        if run is not None:
            await asyncio.wait([run.task])

    async def drain(self) -> None:
        """Wait until no run is left, including runs started while waiting (a queue moving on)."""
        while self._runs:
            await asyncio.wait([r.task for r in self._runs.values()])

    async def shutdown(self, *, cancel: bool) -> None:
        if cancel:
            self._closed = True
            for run in list(self._runs.values()):
                self._cancel(run)
        await self.drain()
        self._closed = True
