"""Who may change a preview: one lease per (app, branch) in the store, as a run has one (:mod:`deploy.store.leases`).

Making, updating and removing the preview of a branch happen under its lease (key
:func:`deploy.store.leases.preview_key`), so two replicas (or a replica and the command line) on one database never work
on one preview at once. :meth:`PreviewLeases.hold` takes the lease in one conditional statement (of two takers one
wins); while another live owner holds it, it waits, looking again every :data:`POLL` seconds, up to ``wait``
seconds, then refuses (:class:`PreviewBusy`, naming the holder). A lease whose owner died expires after its TTL and
is taken over like a run's. While held it is renewed every third of the TTL; it is given up at the end only while
this process still holds it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from functools import partial
from typing import TYPE_CHECKING

import structlog

from deploy.previews.layout import PreviewRefused
from deploy.store import leases
from deploy.store.statements import DatabaseError

if TYPE_CHECKING:
    from deploy.store.database import Database

log = structlog.get_logger("shipbot.previews")

POLL = 0.5  # seconds between two looks at a lease another process holds
WAIT = 900.0  # how long a change waits for the preview's lease before it is refused


class PreviewBusy(PreviewRefused):
    """Another shipbot held the preview's lease for longer than this one would wait; nothing was changed."""


class PreviewLeases:
    """The preview leases of one store: ``owner`` is this process's lease owner id (``Store.owner``), ``ttl`` how
    long a lease lives without renewal (SHIPBOT_LEASE_TTL)."""

    def __init__(self, db: Database, owner: str | None = None, ttl: float = 30.0, wait: float = WAIT) -> None:
        self._db = db
        self._door = db.door
        self.owner = owner or leases.new_owner()
        self.ttl = ttl
        self.wait = wait

    def holder(self, app: str, branch: str) -> str | None:
        """The live owner of the preview's lease, or None."""
        return leases.holder(self._db, leases.preview_key(app, branch))

    @contextlib.asynccontextmanager
    async def hold(self, app: str, branch: str) -> AsyncIterator[None]:
        """Hold the lease of ``app``'s preview of ``branch`` for the body (waiting for another holder, bounded)."""
        key = leases.preview_key(app, branch)
        bound = log.bind(app=app, branch=branch, owner=self.owner)
        deadline = time.monotonic() + self.wait
        said = False
        door = self._door
        while not await door(leases.take_over, self._db, key, self.owner, self.ttl):
            holder = await door(leases.holder, self._db, key)
            if time.monotonic() >= deadline:
                bound.warning("preview_busy", holder=holder)
                who = holder or "a process that just finished"
                raise PreviewBusy(
                    f"the preview of `{branch}` is being changed by another shipbot ({who}) for more than "
                    f"{self.wait:g}s; nothing was done. Push again or retry once it is done"
                )
            if not said:
                bound.info("preview_lease_waiting", holder=holder)
                said = True
            await asyncio.sleep(POLL)
        guard = leases.LeaseGuard(partial(door, leases.renew, self._db, key, self.owner, self.ttl), self.ttl)
        beat = asyncio.create_task(guard.heartbeat(lambda: bound.error("preview_lease_lost")))
        try:
            yield
        finally:
            beat.cancel()
            try:
                await asyncio.shield(door(leases.release_own, self._db, key, self.owner))
            except DatabaseError:  # it expires by itself after its TTL
                bound.warning("preview_lease_not_released", exc_info=True)
