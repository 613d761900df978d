"""Deploys that wait for a second person: asking, approving or rejecting (one path), expiry, and pick-up after a
restart.

:meth:`ApprovalService.ask` files a request in the :class:`~commands.approval_book.ApprovalBook` (rows in the store)
with its commits, approvers and expiry. Approve and reject share one path (:meth:`ApprovalService._decide`):
expire what is due, find the request, and ask the policy whether this person may decide it (never the
requester). Then the decision is a compare-and-set on the request's row: of two people pressing at once exactly
one wins; the other is told who was first (:class:`~commands.replies.AlreadyDecided`), as is anyone pressing a
decided request's button later. An approval is then recorded and announced, rechecked (a freeze or lock that came
meanwhile drops it, telling the requester) and admitted (a rollback starts now or is refused: it never queues);
a rejection is recorded and announced with its reason. A feature flag change that raises exposure waits the same
way (:meth:`ApprovalService.ask_flag`, a request of kind ``flag``); approved, it is applied by the flag service
(:class:`FlagApplier`, which checks freezes and the promotion order again) instead of admitted.

:meth:`ApprovalService.sweep` expires requests whose time is up, telling each requester (a request that expired
while shipbot was down is told at the first sweep after). :meth:`ApprovalService.pick_up` admits requests that
were approved but never admitted because their process died in between. Nothing is forgotten on shutdown.
"""

from __future__ import annotations

from typing import Protocol

from commands.approval_book import ApprovalBook, PendingApproval, pending_from
from commands.clock import Clock
from commands.command import ChangeFlag, Deploy, Rollback
from commands.flag_replies import FlagChanged
from commands.policy import Decision
from commands.ports import ApprovalDecided, ApprovalExpired, RunDropped, RunReporter
from commands.replies import AlreadyDecided, Approved, AwaitingApproval, Refusal, Rejected, Reply, RunAccepted
from commands.reply_texts import approval_expired, may_not_reject, not_waiting_for_approval
from commands.runs import RunRequest
from commands.usecases.admission import Admission, Admitted
from commands.usecases.audit import AuditTrail
from commands.usecases.permissions import Permissions, refusal
from deploy.records import Commit
from deploy.store.ports import (
    APPROVED,
    AWAITING,
    CANCELLED,
    DROPPED,
    EXPIRED,
    REJECTED,
    STARTED,
    WaitingRow,
    WaitingStore,
)


class FlagApplier(Protocol):
    async def apply_approved(self, run: RunRequest, command: ChangeFlag) -> FlagChanged | Refusal: ...


class ApprovalService:
    flags: FlagApplier | None = None  # applies approved flag changes (the chat service sets it)

    def __init__(
        self,
        rows: WaitingStore,
        permissions: Permissions,
        admission: Admission,
        audit: AuditTrail,
        reporter: RunReporter,
        clock: Clock,
    ) -> None:
        self._book = ApprovalBook(rows)
        self._permissions = permissions
        self._admission = admission
        self._audit = audit
        self._reporter = reporter
        self._clock = clock

    async def ask(
        self, run: RunRequest, command: Deploy | Rollback, decision: Decision, commits: tuple[Commit, ...] = ()
    ) -> AwaitingApproval:
        expires_at = self._clock() + decision.approval_timeout
        await self._book.add(PendingApproval(run, command, decision.approvers, expires_at, commits, decision.queue))
        return AwaitingApproval(run, commits, decision.approvers, expires_at)

    async def ask_flag(self, run: RunRequest, command: ChangeFlag, decision: Decision) -> AwaitingApproval:
        """A flag change that raises exposure where approval is required: filed like a deploy, applied once
        approved (nothing changes before)."""
        expires_at = self._clock() + decision.approval_timeout
        await self._book.add(PendingApproval(run, command, decision.approvers, expires_at))
        return AwaitingApproval(run, (), decision.approvers, expires_at)

    async def waiting(self, app: str | None = None, environment: str | None = None) -> tuple[RunRequest, ...]:
        return tuple(pending.run for pending in await self._book.waiting(app, environment))

    async def find(self, run_id: str) -> RunRequest | None:
        pending = await self._book.get(run_id)
        return pending.run if pending else None

    async def withdraw(self, run_id: str, by: str) -> bool:
        """A cancelled request leaves the book; False if someone decided it first."""
        return await self._book.decide(run_id, CANCELLED, by)

    async def posted(self, run_id: str, channel: str, ts: str) -> None:
        """Where the message asking to approve ``run_id`` is, kept with the request."""
        await self._book.set_message(run_id, channel, ts)

    async def messages(self) -> tuple[tuple[str, str, str], ...]:
        """(run id, channel, ts) of every message still asking for an approval, for the bot after a restart."""
        return await self._book.messages()

    async def approve(self, run_id: str, user: str, channel: str | None = None) -> Reply:
        """The approve button, or ``approve RUN-ID``."""
        decided = await self._decide(run_id, user, channel)
        if not isinstance(decided, tuple):
            return decided
        pending, decision = decided
        if not decision.allowed:
            return refusal(decision)
        if not await self._book.decide(run_id, APPROVED, user, pending.run):
            return await self._too_late(run_id)
        run = pending.run
        await self._audit.approved(user, run)
        await self._audit.overrides(user, "approve", run.app, run.environment, decision.overrides)
        await self._reporter.notify(ApprovalDecided(run, user, approved=True, message=await self._message(run_id)))
        return Approved(run, user, await self._admit(pending))

    async def reject(self, run_id: str, user: str, reason: str = "", channel: str | None = None) -> Reply:
        """The reject button, or ``reject RUN-ID [REASON]``; ends the request with the reason."""
        decided = await self._decide(run_id, user, channel)
        if not isinstance(decided, tuple):
            return decided
        pending, decision = decided
        if not decision.allowed:
            return may_not_reject(decision.reason, decision.hint, own=user == pending.run.user)
        if not await self._book.decide(run_id, REJECTED, user, pending.run, reason):
            return await self._too_late(run_id)
        run = pending.run
        await self._audit.rejected(user, run, reason)
        notice = ApprovalDecided(run, user, approved=False, reason=reason, message=await self._message(run_id))
        await self._reporter.notify(notice)
        return Rejected(run, user, reason)

    async def _decide(
        self, run_id: str, user: str, channel: str | None
    ) -> tuple[PendingApproval, Decision] | Refusal | AlreadyDecided:
        """The request ``run_id`` if it still waits, and whether ``user`` may decide it."""
        await self.sweep()
        row = await self._book.row(run_id)
        pending = pending_from(row) if row is not None else None
        if pending is None:
            return not_waiting_for_approval(run_id)
        if row is not None and row.state != AWAITING:
            return self._answer_late(row, pending)
        return pending, await self._permissions.approval(pending.run, user, channel)

    async def decided(self, run_ids: list[str]) -> list[tuple[str, str, str]]:
        """(run id, verdict, by) of those of ``run_ids`` no longer awaiting a decision: approved, rejected,
        cancelled or expired, here or in another process."""
        out = []
        for run_id in run_ids:
            row = await self._book.row(run_id)
            if row is not None and row.state != AWAITING:
                verdict = row.state if row.state in (REJECTED, CANCELLED, EXPIRED) else "approved"
                out.append((run_id, verdict, row.decided_by))
        return out

    async def _message(self, run_id: str) -> tuple[str, str] | None:
        """Where the message asking to approve ``run_id`` is (posted by this replica or another), if known."""
        row = await self._book.row(run_id)
        return (row.channel, row.ts) if row is not None and row.channel and row.ts else None

    async def _too_late(self, run_id: str) -> Refusal | AlreadyDecided:
        """Someone decided ``run_id`` between our reading it and our deciding it."""
        row = await self._book.row(run_id)
        pending = pending_from(row) if row is not None else None
        if row is None or pending is None:  # pragma: no cover - rows are only pruned long after
            return not_waiting_for_approval(run_id)
        return self._answer_late(row, pending)

    @staticmethod
    def _answer_late(row: WaitingRow, pending: PendingApproval) -> Refusal | AlreadyDecided:
        if row.state == EXPIRED or not row.decided_by:
            return approval_expired(row.run_id, pending.expires_at, pending.run.user)
        verdict = row.state if row.state in (REJECTED, CANCELLED) else "approved"
        return AlreadyDecided(pending.run, row.decided_by, verdict)

    async def _admit(self, pending: PendingApproval, *, tell: bool = False) -> Admitted | FlagChanged:
        """Start, queue or drop an approved request; its row says which, so a restart never admits it twice.
        A request dropped by a freeze or lock that came meanwhile is told so; with ``tell`` (nobody pressed a
        button to hear the reply) any other refusal too."""
        admitted = await self._admission_of(pending, tell)
        if isinstance(admitted, RunAccepted | FlagChanged):
            await self._book.settle(pending.run.run_id, STARTED)
        elif isinstance(admitted, Refusal):
            await self._book.settle(pending.run.run_id, DROPPED)
        return admitted

    async def _admission_of(self, pending: PendingApproval, tell: bool) -> Admitted | FlagChanged:
        if isinstance(pending.command, ChangeFlag):
            return await self._apply_flag(pending, pending.command)
        refused = await self._admission.recheck(pending.run, pending.command)
        if refused is not None:
            await self._reporter.notify(RunDropped(pending.run, refused.reason, refused.hint))
            return refused
        if isinstance(pending.command, Rollback):
            admitted: Admitted = await self._admission.run_now(pending.run, ())
        else:
            admitted = await self._admission.admit(pending.run, pending.queue, pending.commits)
        if tell and isinstance(admitted, Refusal):
            await self._reporter.notify(RunDropped(pending.run, admitted.reason, admitted.hint))
        return admitted

    async def _apply_flag(self, pending: PendingApproval, command: ChangeFlag) -> FlagChanged | Refusal:
        """An approved flag change, applied now; one a freeze or the promotion order now refuses is dropped,
        telling the requester."""
        if self.flags is None:  # pragma: no cover - the chat service always sets it
            applied: FlagChanged | Refusal = Refusal("feature flags are not served here")
        else:
            applied = await self.flags.apply_approved(pending.run, command)
        if isinstance(applied, Refusal):
            await self._reporter.notify(RunDropped(pending.run, applied.reason, applied.hint))
        return applied

    async def sweep(self) -> None:
        """Expire pending approvals whose time is up, telling each requester."""
        for pending in await self._book.take_expired(self._clock()):
            message = await self._message(pending.run.run_id)
            await self._reporter.notify(ApprovalExpired(pending.run, pending.expires_at, message))

    async def pick_up(self) -> None:
        """Admit requests approved in a process that stopped before it could start, queue or drop them (apply the
        flag changes)."""
        for pending in await self._book.approved():
            await self._admit(pending, tell=True)
