"""Deploys that wait for a second person: asking, approving or rejecting (one path), and expiry.

:meth:`ApprovalService.ask` files a request in the :class:`~commands.approvals.ApprovalBook` with its commits,
approvers and expiry. Approve and reject share one path (:meth:`ApprovalService._decide`): expire what is due,
find the request (an expired one is remembered a while, to say so to a late approver), and ask the policy
whether this person may decide it (never the requester). Then an approval is recorded and announced, rechecked
(a freeze or lock that came meanwhile drops it, telling the requester) and admitted (a rollback starts now or is
refused: it never queues); a rejection is recorded
and announced with its reason. :meth:`ApprovalService.sweep` expires requests whose time is up, telling each
requester; :meth:`ApprovalService.close` forgets every request on shutdown, telling each requester.
"""

from __future__ import annotations

from commands.approvals import ApprovalBook, PendingApproval
from commands.clock import Clock
from commands.command import Deploy, Rollback
from commands.policy import Decision
from commands.ports import ApprovalDecided, ApprovalExpired, RunDropped, RunReporter
from commands.replies import Approved, AwaitingApproval, Refusal, Rejected, Reply
from commands.reply_texts import approval_expired, dropped_on_restart, may_not_reject, not_waiting_for_approval
from commands.runs import RunRequest
from commands.usecases.admission import Admission, Admitted
from commands.usecases.audit import AuditTrail
from commands.usecases.permissions import Permissions, refusal
from deploy.records import Commit

REMEMBER_EXPIRED = 100  # expired requests kept to answer a late approve or reject


class ApprovalService:
    def __init__(
        self,
        permissions: Permissions,
        admission: Admission,
        audit: AuditTrail,
        reporter: RunReporter,
        clock: Clock,
    ) -> None:
        self._book = ApprovalBook()
        self._expired: dict[str, PendingApproval] = {}
        self._permissions = permissions
        self._admission = admission
        self._audit = audit
        self._reporter = reporter
        self._clock = clock

    def ask(
        self, run: RunRequest, command: Deploy | Rollback, decision: Decision, commits: tuple[Commit, ...] = ()
    ) -> AwaitingApproval:
        expires_at = self._clock() + decision.approval_timeout
        self._book.add(PendingApproval(run, command, decision.approvers, expires_at, commits, decision.queue))
        return AwaitingApproval(run, commits, decision.approvers, expires_at)

    def waiting(self, app: str | None = None, environment: str | None = None) -> tuple[RunRequest, ...]:
        return tuple(pending.run for pending in self._book.waiting(app, environment))

    def find(self, run_id: str) -> RunRequest | None:
        pending = self._book.get(run_id)
        return pending.run if pending else None

    def withdraw(self, run_id: str) -> None:
        self._book.pop(run_id)

    async def approve(self, run_id: str, user: str, channel: str | None = None) -> Reply:
        """The approve button, or ``approve RUN-ID``."""
        decided = await self._decide(run_id, user, channel)
        if isinstance(decided, Refusal):
            return decided
        pending, decision = decided
        if not decision.allowed:
            return refusal(decision)
        run = self._book_out(pending)
        self._audit.approved(user, run)
        self._audit.overrides(user, "approve", run.app, run.environment, decision.overrides)
        await self._reporter.notify(ApprovalDecided(run, user, approved=True))
        return Approved(run, user, await self._admit(pending))

    async def reject(self, run_id: str, user: str, reason: str = "", channel: str | None = None) -> Reply:
        """The reject button, or ``reject RUN-ID [REASON]``; ends the request with the reason."""
        decided = await self._decide(run_id, user, channel)
        if isinstance(decided, Refusal):
            return decided
        pending, decision = decided
        if not decision.allowed:
            return may_not_reject(decision.reason, decision.hint, own=user == pending.run.user)
        run = self._book_out(pending)
        self._audit.rejected(user, run, reason)
        await self._reporter.notify(ApprovalDecided(run, user, approved=False, reason=reason))
        return Rejected(run, user, reason)

    async def _decide(self, run_id: str, user: str, channel: str | None) -> tuple[PendingApproval, Decision] | Refusal:
        """The request ``run_id`` if it still waits, and whether ``user`` may decide it."""
        await self.sweep()
        pending = self._book.get(run_id) or self._expired.get(run_id)
        if pending is None:
            return not_waiting_for_approval(run_id)
        if pending.expired(self._clock()):
            return approval_expired(run_id, pending.expires_at, pending.run.user)
        return pending, await self._permissions.approval(pending.run, user, channel)

    def _book_out(self, pending: PendingApproval) -> RunRequest:
        """A decided request leaves the book."""
        self._book.pop(pending.run.run_id)
        return pending.run

    async def _admit(self, pending: PendingApproval) -> Admitted:
        refused = await self._admission.recheck(pending.run, pending.command)
        if refused is None and isinstance(pending.command, Rollback):
            return self._admission.run_now(pending.run, ())
        if refused is None:
            return await self._admission.admit(pending.run, pending.queue, pending.commits)
        await self._reporter.notify(RunDropped(pending.run, refused.reason, refused.hint))
        return refused

    async def sweep(self) -> None:
        """Expire pending approvals whose time is up, telling each requester."""
        for pending in self._book.take_expired(self._clock()):
            self._expired[pending.run.run_id] = pending
            while len(self._expired) > REMEMBER_EXPIRED:
                del self._expired[next(iter(self._expired))]
            await self._reporter.notify(ApprovalExpired(pending.run, pending.expires_at))

    async def close(self) -> None:
        """Forget every pending request (shipbot is going down), telling each requester."""
        for pending in self._book.clear():
            await self._reporter.notify(dropped_on_restart(pending.run))
