"""``deploy REF to ENV --dry-run`` and ``plan REF to ENV``: what the deploy would do, changing nothing.

The policy and the locks are asked as for the deploy itself, but a refusal does not stop the answer: the plan is
shown with the reason it would be refused (the policy's, someone's lock, or the promotion order). A ``deploy!``
dry run by someone who may force shows the plan forced past the promotion order. The engine reads the hosts
read-only (:meth:`deploy.run.engine.Engine.dry_run`); no run slot, history row or audit line is written.
"""

from __future__ import annotations

from collections.abc import Mapping

from commands.command import Deploy
from commands.ports import EnginePort
from commands.replies import DryRunReply, Refusal
from commands.reply_texts import promotion_refused, unresolved_ref
from commands.usecases.locks import LockService
from commands.usecases.permissions import Permissions, refusal
from deploy.errors import ShipbotError, UsageError


class PlanService:
    def __init__(self, engines: Mapping[str, EnginePort], permissions: Permissions, locks: LockService) -> None:
        self._engines = dict(engines)
        self._permissions = permissions
        self._locks = locks

    async def plan(self, command: Deploy, user: str, channel: str) -> DryRunReply | Refusal:
        decision = await self._permissions.command(command, user, channel)
        refused = None if decision.allowed else refusal(decision)
        refused = refused or await self._locks.refusal(command.app, command.environment, user)
        forced = command.force and decision.allowed
        try:
            dry = await self._engines[command.app].dry_run(
                command.environment, command.ref, user=user, hosts_filter=command.target, forced=forced
            )
        except UsageError as err:
            return unresolved_ref(str(err), usage=True)
        except ShipbotError as err:
            return unresolved_ref(str(err), usage=False)
        if refused is None and dry.promotion is not None:
            refused = promotion_refused(dry.promotion, command.ref)
        return DryRunReply(command.app, dry, refused, forced)
