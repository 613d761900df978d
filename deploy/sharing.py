"""What an engine does for runs shared with other processes on one store (bot replicas, ``shipbot deploy``).

:class:`SharedRuns` is a part of :class:`~deploy.engine.Engine`: finding a run another live process holds, asking that
process to cancel, continue or abort it (:mod:`deploy.controls`), taking the requests meant for the waiting runs this
process took over, and, when this process stops, handing every run that waits for a person to the next one
(:mod:`deploy.run_control`).
"""

from __future__ import annotations

import asyncio

from deploy.config import Config
from deploy.controls import ControlRequest
from deploy.records import RunRecord
from deploy.run_control import RunControl
from deploy.store import Store


class SharedRuns:
    config: Config
    store: Store
    _held: dict[str, asyncio.Task[None]]  # heartbeats of waiting runs taken over from another process
    _controls: dict[str, RunControl]  # runs driven here
    cancelled_by: str | None = None  # who cancelled the last run that ended here through a control request

    def held_elsewhere(self, run_id: str) -> RunRecord | None:
        """The run when it is running or waiting for this app in another live process (a replica, the CLI)."""
        run = self.store.get_run(run_id)
        if run is None or run.app != self.config.app or run.state not in ("running", "waiting"):
            return None
        holder = self.store.lease_holder(run_id)
        return run if holder is not None and holder != self.store.owner else None

    def ask(self, run_id: str, action: str, user: str) -> None:
        """Ask the process holding ``run_id`` to ``action`` (cancel, continue, abort) it for ``user``."""
        self.store.controls.ask(run_id, action, user)

    def running_elsewhere(self, environment: str) -> RunRecord | None:
        """The run holding ``environment``'s run slot when another live process drives it."""
        run = self.store.active_run(self.config.app, environment)
        return self.held_elsewhere(run.run_id) if run is not None else None

    def held_requests(self) -> list[tuple[ControlRequest, str]]:
        """Control requests for the waiting runs this process took over, each returned (taken) once, with the
        channel the run is reported in ("" when unknown)."""
        taken = [r for r in self.store.controls.pending(list(self._held)) if self.store.controls.take(r)]
        return [(r, (self.store.ledger.place_of(r.run_id) or ("", ""))[0]) for r in taken]

    def hand_over(self) -> list[str]:
        """Stopping: leave every run that waits for a person to the next process; the ids handed over. A run
        driven here stops at its pause and frees its lease once its task has ended (await the task)."""
        handed = [c.run_id for c in list(self._controls.values()) if c.hand_over()]
        for run_id, heartbeat in list(self._held.items()):
            heartbeat.cancel()
            self.store.give_up_lease(run_id)
            handed.append(run_id)
        self._held.clear()
        return handed
