"""The Continue/Abort buttons of a deploy a dead process left paused between batches, after this process took it over.

At start-up the engines repair dead runs; a deploy that was waiting for a person keeps waiting, now held by this
process (``EnginePort.waiting_run``). Its run message still shows Continue and Abort. :meth:`Takeovers.resume`
answers them when :class:`~commands.usecases.pauses.Pauses` has no pause in memory for the run: the same rules as
an in-memory pause (Continue is a deploy decision, freeze included; Abort is :func:`~commands.policy.decide_abort`),
the same audit line, and then ``EnginePort.resume`` runs under the supervisor like any run
(:meth:`~commands.usecases.execution.RunExecution.start`), reported to the run's channel; a later pause in the
resumed run gets its gate from :meth:`Pauses.gate`, so its buttons work as usual. A run is answered once: the first
answer claims it.

The pause's timeout still ends it when nobody answers: :meth:`Takeovers.expire_after` waits ``timeout`` seconds
counted from the takeover (the ledger does not record when the pause began, so a takeover gives the waiting run a
full timeout again) and then aborts the run, switching back what its first batches switched.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping

from commands.clock import Clock
from commands.ports import EnginePort
from commands.replies import Reply, Resumed
from commands.reply_texts import may_not_resume
from commands.runs import RunRequest
from commands.usecases.audit import AuditTrail
from commands.usecases.execution import RunExecution
from commands.usecases.permissions import Permissions
from deploy.config.durations import format_duration
from deploy.records import RunRecord


def request_for(run: RunRecord, channel: str, requested_at: float) -> RunRequest:
    """The chat side's request for a run the store recorded (a taken-over deploy)."""
    return RunRequest(
        run.run_id, "deploy", run.app, run.environment, run.user, channel, requested_at, ref=run.ref, sha=run.sha,
        forced=run.forced,
    )  # fmt: skip


class Takeovers:
    def __init__(
        self,
        engines: Mapping[str, EnginePort],
        permissions: Permissions,
        audit: AuditTrail,
        execution: RunExecution,
        clock: Clock,
    ) -> None:
        self._engines = dict(engines)
        self._permissions = permissions
        self._audit = audit
        self._execution = execution
        self._clock = clock
        self._claimed: set[str] = set()  # runs already answered here (an answer is given once)
        self._timers: set[asyncio.Task[None]] = set()

    async def waiting(self, run_id: str) -> tuple[EnginePort, RunRecord] | None:
        """The engine holding ``run_id`` and its record, when it is a taken-over run still waiting for an answer."""
        if run_id in self._claimed:
            return None
        for engine in self._engines.values():
            run = await engine.waiting_run(run_id)
            if run is not None:
                return engine, run
        return None

    async def resume(self, run_id: str, user: str, channel: str, go: bool) -> Reply | None:
        """Continue (``go``) or Abort a taken-over run; ``None`` when no engine holds ``run_id`` waiting."""
        found = await self.waiting(run_id)
        if found is None:
            return None
        run = request_for(found[1], channel, self._clock())
        if go:  # Continue sends the change further out: a deploy's gates, freeze included
            decision = await self._permissions.action(run.app, user, "deploy", run.environment, channel)
        else:  # Abort brings the previous release back: no freeze stops it
            decision = await self._permissions.abort(run, user)
        if not decision.allowed:
            return may_not_resume(decision.reason, run.user)
        if run_id in self._claimed:  # answered by someone else while the permissions were checked
            return None
        self._claimed.add(run_id)
        await self._audit.overrides(user, "resume", run.app, run.environment, decision.overrides)
        await self._audit.resumed(user, run, go)
        self._execution.start(run, (go, "a person chose Abort"))
        return Resumed(run, user, go)

    def expire_after(self, run_id: str, channel: str, timeout: float) -> None:
        """Abort ``run_id`` (reported in ``channel``) when nobody answered within ``timeout`` seconds from now."""
        task = asyncio.get_running_loop().create_task(self._expire(run_id, channel, timeout), name=f"pause-{run_id}")
        self._timers.add(task)
        task.add_done_callback(self._timers.discard)

    async def _expire(self, run_id: str, channel: str, timeout: float) -> None:
        await asyncio.sleep(timeout)
        found = await self.waiting(run_id)
        if found is None:
            return
        self._claimed.add(run_id)
        reason = f"nobody answered within {format_duration(timeout)}"
        self._execution.start(request_for(found[1], channel, self._clock()), (False, reason))

    async def close(self) -> None:
        """Stop the timers (the runs keep waiting for the next start)."""
        for task in list(self._timers):
            task.cancel()
        for task in list(self._timers):
            with contextlib.suppress(asyncio.CancelledError):
                await task
