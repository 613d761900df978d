"""``converge: auto``: the bot's own converge, when discovery finds hosts that are behind the live release.

:meth:`AutoConverge.check` is called for an environment with ``converge: auto`` every ``converge_interval`` (the
composition root's loop). It reads the environment's status (which runs discovery), and when a host is behind and
nothing holds the environment (no run, nobody's lock, no freeze) it starts a converge as the bot itself, reported
like any run in the first channel of the environment's ``notify:`` list; the other channels there are told it
started and where it is reported.
It never forces: a lock or a freeze waits for the next look.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import structlog

from commands.access_config import AppPolicy
from commands.clock import Clock, utc
from commands.freeze import active_freeze
from commands.ports import EnginePort, RunAnnounced, RunReporter
from commands.runs import RunRequest
from commands.usecases.board import RunBoard
from commands.usecases.execution import RunExecution
from commands.usecases.locks import LockService
from deploy.errors import ShipbotError
from deploy.notify.sink_config import slack_channels

log = structlog.get_logger("shipbot.converge")


class AutoConverge:
    def __init__(
        self,
        engines: Mapping[str, EnginePort],
        policies: Mapping[str, AppPolicy],
        board: RunBoard,
        locks: LockService,
        execution: RunExecution,
        reporter: RunReporter,
        clock: Clock,
        run_ids: Callable[[], str],
        bot_user_id: str,
    ) -> None:
        self._engines = dict(engines)
        self._policies = dict(policies)
        self._board = board
        self._locks = locks
        self._execution = execution
        self._reporter = reporter
        self._clock = clock
        self._run_ids = run_ids
        self._bot = bot_user_id

    async def _held(self, app: str, environment: str) -> str:
        """Why the bot may not converge now ("" when it may)."""
        if await self._board.busy(app, environment) is not None:
            return "a run holds it"
        if await self._locks.current(app, environment) is not None:
            return "it is locked"
        access = self._policies[app].access
        if access is not None and active_freeze(access.freeze, environment, utc(self._clock())) is not None:
            return "it is frozen"
        return ""

    async def check(self, app: str, environment: str) -> RunRequest | None:
        """Start a converge when a host of ``app``'s ``environment`` is behind; the run started, if any."""
        held = await self._held(app, environment)
        if held:
            log.info("auto_converge_waits", app=app, environment=environment, reason=held)
            return None
        engine = self._engines[app]
        try:
            status = await engine.status(environment)
        except ShipbotError as err:
            log.warning("auto_converge_status_failed", app=app, environment=environment, error=str(err))
            return None
        if not status.behind or status.active_run is not None:
            return None
        channels = slack_channels(engine.config.environments[environment].notify)  # required with converge: auto
        where = channels[0] if channels else ""
        run = RunRequest(self._run_ids(), "converge", app, environment, self._bot, where, self._clock())
        log.info("auto_converge_started", app=app, environment=environment, run_id=run.run_id,
                 behind=[h.address for h in status.behind])  # fmt: skip
        self._execution.start(run)
        behind = tuple(h.address for h in status.behind)
        for channel in channels[1:]:
            await self._reporter.notify(RunAnnounced(run, channel, behind))
        return run
