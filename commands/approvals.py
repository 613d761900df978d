"""Deploys (and rollbacks to a chosen release) waiting for a second person, kept in memory (the approval book).

A pending approval holds the request, who may approve it, the commits it would ship and when it expires
(default 15 minutes, ``approval_timeout`` per environment). It leaves the book when it is approved, rejected,
cancelled or found expired (:meth:`ApprovalBook.take_expired`, which the service calls on every message and
the bot may call on a timer). The book is not persisted: a restart forgets pending approvals, and the service
tells each requester so before it stops; an approve button pressed after a restart gets "no deploy rXXXX is
waiting for approval ... ask for the deploy again".
"""

from __future__ import annotations

from dataclasses import dataclass

from commands.command import Deploy, Rollback
from commands.runs import RunRequest
from deploy.records import Commit


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


class ApprovalBook:
    def __init__(self) -> None:
        self._pending: dict[str, PendingApproval] = {}

    def add(self, pending: PendingApproval) -> None:
        self._pending[pending.run.run_id] = pending

    def get(self, run_id: str) -> PendingApproval | None:
        return self._pending.get(run_id)

    def pop(self, run_id: str) -> PendingApproval | None:
        return self._pending.pop(run_id, None)

    def take_expired(self, now: float) -> list[PendingApproval]:
        expired = [p for p in self._pending.values() if p.expired(now)]
        for pending in expired:
            del self._pending[pending.run.run_id]
        return expired

    def waiting(self, app: str | None = None, environment: str | None = None) -> tuple[PendingApproval, ...]:
        return tuple(
            p
            for p in self._pending.values()
            if (app is None or p.run.app == app) and (environment is None or p.run.environment == environment)
        )

    def clear(self) -> list[PendingApproval]:
        pending = list(self._pending.values())
        self._pending.clear()
        return pending
