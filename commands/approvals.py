"""Deploys (and rollbacks to a chosen release) waiting for a second person: the approval book, kept in the store.

A pending approval holds the request, who may approve it, the commits it would ship and when it expires
(default 15 minutes, ``approval_timeout`` per environment). The book is a view of the store's waiting rows
(:mod:`deploy.waiting`), so a restart or a crash forgets nothing: an approval message pressed after a restart
still works, and an expiry still fires. Every decision is a compare-and-set on the row
(:meth:`ApprovalBook.decide`): of two people pressing Approve at once exactly one wins, and the row says who
(:meth:`ApprovalBook.row`). A request approved but not yet started, queued or dropped when its process died is
found by :meth:`ApprovalBook.approved`, for the next process to admit it.
"""

from __future__ import annotations

from dataclasses import dataclass

from commands.command import Deploy, Rollback
from commands.ports import WaitingStore
from commands.request_rows import RequestRow, decode, encode
from commands.runs import RunRequest
from deploy.records import Commit
from deploy.waiting import APPROVED, AWAITING, EXPIRED, WaitingRow


@dataclass(frozen=True)
class PendingApproval:
    run: RunRequest
    command: Deploy | Rollback
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


class ApprovalBook:
    def __init__(self, rows: WaitingStore) -> None:
        self._rows = rows

    def add(self, pending: PendingApproval) -> None:
        run = pending.run
        payload = encode(RequestRow(run, pending.command, pending.approvers, pending.commits, pending.queue))
        self._rows.add(run.run_id, run.app, run.environment, AWAITING, payload, expires_at=pending.expires_at)

    def row(self, run_id: str) -> WaitingRow | None:
        return self._rows.get(run_id)

    def get(self, run_id: str) -> PendingApproval | None:
        """The request ``run_id`` while it still waits for a decision."""
        row = self._rows.get(run_id)
        return pending_from(row) if row is not None and row.state == AWAITING else None

    def decide(self, run_id: str, outcome: str, by: str) -> bool:
        """Compare and set: the request leaves ``awaiting`` for ``outcome`` if nobody decided it first."""
        return self._rows.move(run_id, AWAITING, outcome, by=by)

    def settle(self, run_id: str, outcome: str) -> bool:
        """An approved request was started, queued or dropped."""
        return self._rows.move(run_id, APPROVED, outcome)

    def take_expired(self, now: float) -> list[PendingApproval]:
        """Requests whose time is up, each moved to ``expired`` by this call (never twice)."""
        taken = []
        for row in self._rows.due(now):
            pending = pending_from(row)
            if pending is not None and self._rows.move(row.run_id, AWAITING, EXPIRED):
                taken.append(pending)
        return taken

    def waiting(self, app: str | None = None, environment: str | None = None) -> tuple[PendingApproval, ...]:
        found = (pending_from(row) for row in self._rows.in_state(AWAITING, app, environment))
        return tuple(p for p in found if p is not None)

    def approved(self) -> tuple[PendingApproval, ...]:
        """Requests approved whose admission never happened (their process stopped in between)."""
        found = (pending_from(row) for row in self._rows.in_state(APPROVED))
        return tuple(p for p in found if p is not None)

    def set_message(self, run_id: str, channel: str, ts: str) -> None:
        self._rows.set_message(run_id, channel, ts)

    def messages(self) -> tuple[tuple[str, str, str], ...]:
        """(run id, channel, ts) of every message still asking for an approval."""
        return tuple((r.run_id, r.channel, r.ts) for r in self._rows.in_state(AWAITING) if r.ts)
