"""People's locks on environments: ``lock``, ``unlock``, the refusal a lock causes, and the lock after a rollback.

Locks are kept per (app, environment) in the store given for that app (``stores[app]``; several apps may share
one store). A lock that has expired
(:meth:`deploy.records.LockRecord.expired`, the same rule the store applies) counts as no lock. A lock held by
someone else refuses deploys, rollbacks, tasks and other locks with who holds it, why and since when
(:func:`commands.reply_texts.locked_by`); its owner is never refused by their own lock. After a successful
rollback the environment is locked by whoever rolled back, so nobody redeploys the bad commit by accident.
"""

from __future__ import annotations

from collections.abc import Mapping

from commands.clock import Clock
from commands.command import Lock, Unlock
from commands.replies import Locked, NotLocked, Refusal, Reply, Unlocked
from commands.reply_texts import locked_by, rollback_lock_reason
from commands.runs import RunRequest
from commands.usecases.audit import AuditTrail
from commands.usecases.permissions import Permissions, refusal
from deploy.errors import EnvironmentLocked
from deploy.records import LockRecord
from deploy.store.ports import LockStore


class LockService:
    def __init__(
        self, stores: Mapping[str, LockStore], clock: Clock, permissions: Permissions, audit: AuditTrail
    ) -> None:
        self._stores = dict(stores)
        self._clock = clock
        self._permissions = permissions
        self._audit = audit

    async def current(self, app: str, environment: str) -> LockRecord | None:
        """The lock on ``app``'s ``environment`` now, or ``None`` (no lock, or an expired one)."""
        lock = await self._stores[app].get_lock(app, environment)
        if lock is not None and lock.expired(self._clock()):
            return None
        return lock

    async def refusal(self, app: str, environment: str, user: str) -> Refusal | None:
        """Why ``user`` may not act on ``environment`` because someone else holds its lock, or ``None``."""
        lock = await self.current(app, environment)
        if lock is None or lock.owner == user:
            return None
        return locked_by(lock)

    async def lock(self, command: Lock, user: str, channel: str) -> Reply:
        decision = await self._permissions.command(command, user, channel)
        if not decision.allowed:
            return refusal(decision)
        held = await self.refusal(command.app, command.environment, user)
        if held:
            return held
        try:
            lock = await self._stores[command.app].lock(command.app, command.environment, user, command.reason)
        except EnvironmentLocked as err:
            return Refusal(str(err))
        await self._audit.overrides(user, "lock", command.app, command.environment, decision.overrides)
        await self._audit.locked(user, command.app, command.environment, command.reason)
        return Locked(command.app, lock)

    async def unlock(self, command: Unlock, user: str, channel: str) -> Reply:
        lock = await self.current(command.app, command.environment)
        if lock is None:
            return NotLocked(command.app, command.environment)
        decision = await self._permissions.unlock(command.app, user, lock, command.force, channel)
        if not decision.allowed:
            return refusal(decision)
        forced = lock.owner != user
        await self._stores[command.app].unlock(command.app, command.environment, user, force=forced)
        await self._audit.unlocked(user, command.app, command.environment, lock.reason, forced=forced)
        await self._audit.overrides(user, "unlock", command.app, command.environment, decision.overrides)
        return Unlocked(command.app, lock, forced)

    async def lock_after_rollback(self, run: RunRequest) -> LockRecord | None:
        """Lock the environment ``run`` rolled back for its requester; someone else's lock already there stays."""
        store = self._stores[run.app]
        reason = rollback_lock_reason(run.user)
        try:
            lock = await store.lock(run.app, run.environment, run.user, reason)
        except EnvironmentLocked:
            return await store.get_lock(run.app, run.environment)
        await self._audit.locked(run.user, run.app, run.environment, reason)
        return lock
