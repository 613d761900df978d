"""Deploys (and rollbacks to a chosen release, and feature flag changes that raise exposure) waiting for a second
person: the approval book, kept in the store.

A pending approval holds the request, who may approve it, the commits it would ship and when it expires
(default 15 minutes, ``approval_timeout`` per environment). The book is a view of the store's waiting rows
(:mod:`deploy.store.waiting`), so a restart or a crash forgets nothing: an approval message pressed after a restart
still works, and an expiry still fires. Every decision is a compare-and-set on the row
(:meth:`ApprovalBook.decide`): of two people pressing Approve at once exactly one wins, and the row says who
(:meth:`ApprovalBook.row`). A request approved but not yet started, queued or dropped when its process died is
found by :meth:`ApprovalBook.approved`, for the next process to admit it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from commands.command import ChangeFlag, Deploy, Rollback
from commands.request_rows import RequestRow, decode, encode
from commands.runs import RunRequest
from deploy.records import Commit
from deploy.store.ports import APPROVED, AWAITING, EXPIRED, WaitingRow, WaitingStore


@dataclass(frozen=True)
class PendingApproval:
    run: RunRequest
    command: Deploy | Rollback | ChangeFlag
    approvers: tuple[str, ...]
    expires_at: float
    commits: tuple[Commit, ...] = ()
    queue: bool = False

    def expired(self, now: float) -> bool:
        return now >= self.expires_at


def pending_from(row: WaitingRow) -> PendingApproval | None:
    """The approval request a row holds (None for a row that only queued)."""
    request = decode(row.payload)
    if request.command is None or row.expires_at is None:
        return None
    return PendingApproval(
        request.run, request.command, request.approvers, row.expires_at, request.commits, request.queue
    )


def _asked(run: RunRequest) -> dict[str, Any]:
    """What the sinks are told of a request besides its place: which run it is, what it ships, who asked."""
    return {"kind": run.kind, "ref": run.ref or None, "sha": run.sha, "requested_by": run.user}


class ApprovalBook:
    def __init__(self, rows: WaitingStore) -> None:
        self._rows = rows

    async def add(self, pending: PendingApproval) -> None:
        run = pending.run
        payload = encode(RequestRow(run, pending.command, pending.approvers, pending.commits, pending.queue))
        event = {**_asked(run), "user": run.user, "requested_by": None}  # approval.requested, written with the row
        await self._rows.add(
            run.run_id, run.app, run.environment, AWAITING, payload, expires_at=pending.expires_at, event=event
        )

    async def row(self, run_id: str) -> WaitingRow | None:
        return await self._rows.get(run_id)

    async def get(self, run_id: str) -> PendingApproval | None:
        """The request ``run_id`` while it still waits for a decision."""
        row = await self._rows.get(run_id)
        return pending_from(row) if row is not None and row.state == AWAITING else None

    async def decide(self, run_id: str, outcome: str, by: str, run: RunRequest | None = None, reason: str = "") -> bool:
        """Compare and set: the request leaves ``awaiting`` for ``outcome`` if nobody decided it first; with ``run``
        (the request), the sinks hear of the decision (``approval.decided``, ``by`` its user) in the same
        transaction."""
        event = None if run is None else {**_asked(run), "user": by, "reason": reason or None}
        return await self._rows.move(run_id, AWAITING, outcome, by=by, event=event)

    async def settle(self, run_id: str, outcome: str) -> bool:
        """An approved request was started, queued or dropped."""
        return await self._rows.move(run_id, APPROVED, outcome)

    async def take_expired(self, now: float) -> list[PendingApproval]:
        """Requests whose time is up, each moved to ``expired`` by this call (never twice)."""
        taken = []
        for row in await self._rows.due(now):
            pending = pending_from(row)
            if pending is not None and await self._rows.move(row.run_id, AWAITING, EXPIRED, event=_asked(pending.run)):
                taken.append(pending)
        return taken

    async def waiting(self, app: str | None = None, environment: str | None = None) -> tuple[PendingApproval, ...]:
        found = (pending_from(row) for row in await self._rows.in_state(AWAITING, app, environment))
        return tuple(p for p in found if p is not None)

    async def approved(self) -> tuple[PendingApproval, ...]:
        """Requests approved whose admission never happened (their process stopped in between)."""
        found = (pending_from(row) for row in await self._rows.in_state(APPROVED))
        return tuple(p for p in found if p is not None)

    async def set_message(self, run_id: str, channel: str, ts: str) -> None:
        await self._rows.set_message(run_id, channel, ts)

    async def messages(self) -> tuple[tuple[str, str, str], ...]:
        """(run id, channel, ts) of every message still asking for an approval."""
        return tuple((r.run_id, r.channel, r.ts) for r in await self._rows.in_state(AWAITING) if r.ts)
