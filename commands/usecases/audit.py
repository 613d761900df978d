"""The audit trail the use cases write: who did what to which environment, in the words operators read back.

Every decision that changes something is recorded in the store of the app it concerns (``stores[app]``):
approvals and rejections, forced deploys, continue/abort at a pause, cancels, locks and unlocks, and each
policy override (an admin acting outside the rules, a deploy through a freeze) as ``override ACTION``. The
wording of each line is here, in one place.
"""

from __future__ import annotations

from collections.abc import Mapping

from commands.reply_texts import NO_REASON
from commands.runs import RunRequest
from deploy.store.ports import LockStore


class AuditTrail:
    def __init__(self, stores: Mapping[str, LockStore]) -> None:
        self._stores = dict(stores)

    async def record(self, actor: str, action: str, app: str, environment: str, detail: str) -> None:
        await self._stores[app].record_audit(actor, action, environment, detail)

    async def overrides(self, actor: str, action: str, app: str, environment: str, overrides: tuple[str, ...]) -> None:
        for override in overrides:
            await self.record(actor, f"override {action}", app, environment, override)

    async def _run(self, actor: str, action: str, run: RunRequest, detail: str) -> None:
        await self.record(actor, action, run.app, run.environment, detail)

    async def forced(self, run: RunRequest) -> None:
        """``deploy! main (3f2a9c1) (r7k2m9)`` or ``rollback! to 20260327120000 (r7k2m9)``."""
        what = f"deploy! {run.what}" if run.kind == "deploy" else f"{run.kind}! to {run.ref}"
        await self._run(run.user, "force", run, f"{what} ({run.run_id})")

    async def approved(self, actor: str, run: RunRequest) -> None:
        await self._run(actor, "approve", run, f"approved {run.run_id} by {run.user}: {run.what}")

    async def rejected(self, actor: str, run: RunRequest, reason: str) -> None:
        await self._run(actor, "reject", run, f"rejected {run.run_id} by {run.user}: {reason or NO_REASON}")

    async def resumed(self, actor: str, run: RunRequest, go: bool) -> None:
        await self._run(actor, "continue" if go else "abort", run, f"{'continued' if go else 'aborted'} {run.run_id}")

    async def cancelled(self, actor: str, run: RunRequest, state: str) -> None:
        await self._run(actor, "cancel", run, f"cancelled {run.run_id} ({state}) by {run.user}: {run.what}")

    async def locked(self, actor: str, app: str, environment: str, reason: str) -> None:
        await self.record(actor, "lock", app, environment, reason)

    async def unlocked(self, actor: str, app: str, environment: str, reason: str, *, forced: bool) -> None:
        await self.record(actor, "unlock --force" if forced else "unlock", app, environment, reason)
