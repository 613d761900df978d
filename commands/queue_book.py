"""Deploys waiting for a busy environment, first come first served, kept in the store.

Only environments with ``queue: true`` queue; elsewhere a deploy to a busy environment is refused naming who
deploys what. A forced deploy (``deploy!``, for those allowed to force) goes to the front of the line; it never
interrupts the run in progress. Positions are 1-based: position 1 starts when the current run ends.

The line is a view of the store's waiting rows in state ``queued`` (:mod:`deploy.store.waiting`), ordered by their
``seq``: a restart or a crash keeps every place. An approved request joins the line by moving its own row; a new
one adds a row. Taking a request out of line (to start it, drop it or cancel it) is a compare-and-set, so two
processes never start the same request.
"""

from __future__ import annotations

from commands.request_rows import RequestRow, decode, encode
from commands.runs import RunRequest
from deploy.store.ports import APPROVED, CANCELLED, QUEUED, WaitingStore


class RunQueue:
    def __init__(self, rows: WaitingStore) -> None:
        self._rows = rows

    async def add(self, run: RunRequest, *, front: bool = False) -> int:
        """Queue ``run`` (an approved request moves its row into line); returns its position (1 = next)."""
        if not await self._rows.move(run.run_id, APPROVED, QUEUED, front=front):
            await self._rows.add(run.run_id, run.app, run.environment, QUEUED, encode(RequestRow(run)), front=front)
        return await self.position(run)

    async def position(self, run: RunRequest) -> int:
        ids = [row.run_id for row in await self._rows.in_state(QUEUED, run.app, run.environment)]
        return ids.index(run.run_id) + 1 if run.run_id in ids else 0

    async def first(self, app: str, environment: str) -> RunRequest | None:
        rows = await self._rows.in_state(QUEUED, app, environment)
        return decode(rows[0].payload).run if rows else None

    async def take(self, run_id: str, outcome: str) -> bool:
        """Compare and set: the request leaves the line for ``outcome`` (started, dropped) unless it already left."""
        return await self._rows.move(run_id, QUEUED, outcome)

    async def remove(self, run_id: str) -> RunRequest | None:
        """A cancelled request leaves the line; None if it was not (or no longer) in it."""
        row = await self._rows.get(run_id)
        if row is None or not await self._rows.move(run_id, QUEUED, CANCELLED):
            return None
        return decode(row.payload).run

    async def waiting(self, app: str | None = None, environment: str | None = None) -> tuple[RunRequest, ...]:
        return tuple(decode(row.payload).run for row in await self._rows.in_state(QUEUED, app, environment))

    async def places(self) -> list[tuple[str, str]]:
        """Every (app, environment) with someone in line."""
        return await self._rows.places(QUEUED)
