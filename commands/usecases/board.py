"""The runs chat started that are running now, and who holds an environment (from chat or from outside).

:class:`RunBoard` is the one place that knows which :class:`~commands.runs.RunRequest` are running: the run
execution puts a run on the board when it starts and takes it off when it ends; status, cancel, pauses and the
queue read it. :meth:`RunBoard.busy` also asks the engine's history, so a run started from the CLI makes an
environment busy too.
"""

from __future__ import annotations

from collections.abc import Mapping

from commands.ports import EnginePort
from commands.runs import Busy, RunRequest


class RunBoard:
    def __init__(self, engines: Mapping[str, EnginePort]) -> None:
        self._engines = dict(engines)
        self._running: dict[str, RunRequest] = {}
        self._cancelled_by: dict[str, str] = {}  # run id -> who cancelled it, while it winds down

    def add(self, run: RunRequest) -> None:
        self._running[run.run_id] = run

    def remove(self, run_id: str) -> None:
        self._running.pop(run_id, None)
        self._cancelled_by.pop(run_id, None)

    def cancelling(self, run_id: str, user: str) -> None:
        """``user`` cancelled the running ``run_id``: its end report names them."""
        self._cancelled_by.setdefault(run_id, user)

    def canceller(self, run_id: str) -> str | None:
        return self._cancelled_by.get(run_id)

    def get(self, run_id: str) -> RunRequest | None:
        return self._running.get(run_id)

    def running(self, app: str | None = None, environment: str | None = None) -> tuple[RunRequest, ...]:
        """Runs started from chat, in start order; only those in ``app`` and ``environment`` when given."""
        return tuple(
            run for run in self._running.values() if app in (None, run.app) and environment in (None, run.environment)
        )

    def serves(self, app: str) -> bool:
        """Whether ``app`` is one of this process's apps (a waiting row may name one no longer configured)."""
        return app in self._engines

    async def busy(self, app: str, environment: str) -> Busy | None:
        """Who deploys what in ``app``'s ``environment`` right now, or ``None`` when nothing runs there."""
        for run in self.running(app, environment):
            return Busy(run.run_id, run.user, run.what)
        for record in await self._engines[app].history(environment, 1):
            if record.running:
                return Busy(record.run_id, record.user, f"{record.ref} ({record.sha[:7]})", record.stalled)
        return None
