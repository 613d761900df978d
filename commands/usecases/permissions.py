"""Who is asking, as each app's policy sees them, and what the policy decides for them now.

:class:`Permissions` joins the pure policy (:mod:`commands.policy`) with the two things it cannot know by
itself: the asker's Slack user groups (through the :class:`~commands.ports.GroupResolver` port; a group that
cannot be read counts as empty) and the time (the injected clock, for freeze windows). Every service asks it
instead of resolving actors on its own, so a person's groups are looked up the same way everywhere.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from commands.access_config import AppPolicy
from commands.clock import Clock, utc
from commands.command import Command
from commands.identity import Actor, actor_for, slack_handles
from commands.policy import (
    Decision,
    allowed_topics,
    decide,
    decide_abort,
    decide_action,
    decide_approval,
    decide_preview,
    decide_push,
    decide_unlock,
)
from commands.ports import GroupResolver
from commands.replies import Refusal
from commands.runs import RunRequest
from deploy.errors import ShipbotError
from deploy.records import LockRecord


def refusal(decision: Decision) -> Refusal:
    """The policy's own reason and hint for a decision that does not allow."""
    return Refusal(decision.reason, decision.hint)


class Permissions:
    def __init__(self, policies: Mapping[str, AppPolicy], groups: GroupResolver, clock: Clock) -> None:
        self.policies = dict(policies)
        self._groups = groups
        self._clock = clock

    async def actors(self, user: str) -> dict[str, Actor]:
        """``user`` as each app's policy sees them (their groups resolved once for all apps)."""
        members: dict[str, frozenset[str]] = {}
        for policy in self.policies.values():
            for handle in slack_handles(policy):
                if handle not in members:
                    members[handle] = await self._members(handle)
        return {app: actor_for(policy, user, members) for app, policy in self.policies.items()}

    async def _members(self, handle: str) -> frozenset[str]:
        try:
            return await self._groups.members(handle)
        except (ShipbotError, OSError, LookupError):
            return frozenset()

    async def command(self, command: Command, user: str, channel: str) -> Decision:
        """May ``user`` give this parsed command in ``channel`` now?"""
        return decide(self.policies, await self.actors(user), command, channel, utc(self._clock()))

    async def action(self, app: str, user: str, action: str, environment: str, channel: str) -> Decision:
        """May ``user`` do ``action`` (deploy, cancel, ...) in ``app``'s ``environment`` now?"""
        actor = (await self.actors(user))[app]
        return decide_action(self.policies[app], actor, action, environment, channel, utc(self._clock()))

    def push(self, app: str, environment: str) -> Decision:
        """May a push the config follows deploy to ``app``'s ``environment`` now (a freeze, approval)?"""
        return decide_push(self.policies[app], environment, utc(self._clock()))

    async def approval(self, run: RunRequest, user: str, channel: str | None) -> Decision:
        """May ``user`` approve or reject ``run`` (never their own), here or in the channel it was asked in?"""
        actor = (await self.actors(user))[run.app]
        now = utc(self._clock())
        what = "flag change" if run.kind == "flag" else "deploy"
        policy, where = self.policies[run.app], channel or run.channel
        return decide_approval(policy, actor, run.user, run.environment, where, now, what)

    async def abort(self, run: RunRequest, user: str) -> Decision:
        """May ``user`` press Abort at a pause of ``run`` (no freeze applies)?"""
        actor = (await self.actors(user))[run.app]
        return decide_abort(self.policies[run.app], actor, run.user, run.environment)

    async def preview(self, app: str, user: str, action: str) -> Decision:
        """May ``user`` make (``preview``) or remove (``teardown``) previews of ``app`` in chat?"""
        return decide_preview(self.policies[app], (await self.actors(user))[app], action)

    async def unlock(self, app: str, user: str, lock: LockRecord, force: bool, channel: str) -> Decision:
        actor = (await self.actors(user))[app]
        return decide_unlock(self.policies[app], actor, lock, force, channel, utc(self._clock()))

    async def deploy_places(self, user: str, channel: str, places: Iterable[tuple[str, str]]) -> list[Decision]:
        """For each ``(app, environment)``: may ``user`` deploy there from ``channel`` now?"""
        actors = await self.actors(user)
        now = utc(self._clock())
        return [decide_action(self.policies[a], actors[a], "deploy", e, channel, now) for a, e in places]

    async def topics(self, user: str, channel: str) -> tuple[str, ...]:
        """The help topics ``user`` may act on in ``channel``."""
        return allowed_topics(self.policies, await self.actors(user), channel)
