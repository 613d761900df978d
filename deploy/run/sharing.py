"""What an engine does for runs shared with other processes on one store (bot replicas, ``shipbot deploy``).

:class:`SharedRuns` is a part of :class:`~deploy.run.engine.Engine`: finding a run another live process holds, asking
that process to cancel, continue or abort it (:mod:`deploy.store.control_requests`), taking the requests meant for the
waiting runs this process took over, and, when this process stops, handing every run that waits for a person to the next
one (:mod:`deploy.run.control_watch`).
"""

from __future__ import annotations

import asyncio

from deploy.config.models import Config
from deploy.errors import EnvironmentLocked, LeaseLost
from deploy.ids import utc_minute
from deploy.records import RunRecord
from deploy.run.control_watch import RunControl
from deploy.store.control_requests import ControlRequest
from deploy.store.leases import Lease
from deploy.store.tables import Store


class SharedRuns:
    config: Config
    store: Store
    _held: dict[str, asyncio.Task[None]]  # heartbeats of waiting runs taken over from another process
    _leases: dict[str, Lease]  # and their leases
    _controls: dict[str, RunControl]  # runs driven here
    cancelled_by: str | None = None  # who cancelled the last run that ended here through a control request

    async def check_lock(self, environment: str, user: str, forced: bool) -> None:
        lock = await self.store.door(self.store.get_lock, self.config.app, environment)
        if lock and lock.owner != user and not forced:
            since = utc_minute(lock.since)
            raise EnvironmentLocked(environment, lock.owner, lock.reason, since)

    async def waiting_run(self, run_id: str) -> RunRecord | None:
        """The run when this process took it over (:meth:`recover`) and it still waits for :meth:`resume`."""
        run = await self.store.door(self.store.get_run, run_id)
        return run if run is not None and run_id in self._held and run.state == "waiting" else None

    async def held_elsewhere(self, run_id: str) -> RunRecord | None:
        """The run when it is running or waiting for this app in another live process (a replica, the CLI)."""
        return await self.store.door(self._held_elsewhere, run_id)

    def _held_elsewhere(self, run_id: str) -> RunRecord | None:
        run = self.store.get_run(run_id)
        if run is None or run.app != self.config.app or run.state not in ("running", "waiting"):
            return None
        holder = self.store.lease_holder(run_id)
        return run if holder is not None and holder != self.store.owner else None

    async def ask(self, run_id: str, action: str, user: str) -> None:
        """Ask the process holding ``run_id`` to ``action`` (cancel, continue, abort) it for ``user``."""
        await self.store.door(self.store.controls.ask, run_id, action, user)

    async def running_elsewhere(self, environment: str) -> RunRecord | None:
        """The run holding ``environment``'s run slot when another live process drives it."""
        run = await self.store.door(self.store.active_run, self.config.app, environment)
        return await self.held_elsewhere(run.run_id) if run is not None else None

    async def held_requests(self) -> list[tuple[ControlRequest, str]]:
        """Control requests for the waiting runs this process took over, each returned (taken) once, with the
        channel the run is reported in ("" when unknown)."""
        door, out = self.store.door, []
        for request in await door(self.store.controls.pending, list(self._leases)):
            if await self._take(request):
                place = await door(self.store.ledger.place_of, request.run_id)
                out.append((request, (place or ("", ""))[0]))
        return out

    async def _take(self, request: ControlRequest) -> bool:
        """Take ``request`` while this process still holds its run (a run taken over since is let go here)."""
        lease = self._leases.get(request.run_id)
        try:
            return lease is not None and await self.store.door(self.store.writes(lease).take, request)
        except LeaseLost:
            self._leases.pop(request.run_id, None)
            if held := self._held.pop(request.run_id, None):
                held.cancel()
            return False

    async def hand_over(self) -> list[str]:
        """Stopping: leave every run that waits for a person to the next process; the ids handed over. A run
        driven here stops at its pause and frees its lease once its task has ended (await the task)."""
        handed = [c.run_id for c in list(self._controls.values()) if c.hand_over()]
        for run_id, heartbeat in list(self._held.items()):
            heartbeat.cancel()
            if lease := self._leases.get(run_id):
                await self.store.door(self.store.give_up_lease, lease)
            handed.append(run_id)
        self._held.clear()
        self._leases.clear()
        return handed
