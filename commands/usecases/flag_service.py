"""Feature flags from chat and from the command line: who may, when, how far, and the report of each change.

Reading (``flags``, ``flag NAME``, ``flag history``) is open, like ``status``. A change needs the ``flag`` right of
the environment (``access.environments.<env>.flag``, the ``deploy`` list by default; ``channels:`` applies) when it
comes from chat; the operator at the command line has the store and the config already. Then:

- a change that exposes the flag to more people (on, a higher ramp, keys added) follows the environment's freeze
  windows like a deploy, and its promotion order: with ``promote_from: staging`` a flag goes no further than it
  has ever been in staging. ``flag!`` (``--force``) goes past both where the asker may force (admins, the
  environment's ``force`` list, the operator): recorded in the audit and shown loudly;
- in chat, a raise where the environment's deploys need approval (``approval: required``) waits for an approver
  like a deploy (:meth:`commands.usecases.approval_service.ApprovalService.ask_flag`: the same buttons, approvers
  and expiry, kept in the store): nothing changes until it is approved, when it is checked again and applied
  (:meth:`FlagService.apply_approved`); rejected or expired, nothing changes. ``flag!`` forces past freezes and the
  promotion order, never past an approver. The command line does not wait, as ``shipbot deploy`` does not;
- a change that lowers exposure (off, a lower ramp, keys dropped, a revert that lowers) is the kill switch: the
  ``flag`` right alone, during freezes too, never waiting;
- ``off``, ``drop``, ``revert`` and ``history`` of a flag the app does not have answer "did you mean" (or list the
  flags); ``to`` too when the name is a near miss of a flag it has, else it makes the flag at that ramp.

Every change is written to the hosts (:class:`deploy.flags.app_flags.AppFlags`), audited, and told to the environment's
notify channels: from chat at once (``notify``), from the command line through the store's outbox, which a running
bot posts; its ``flag.changed`` event goes to the environment's other sinks in the change's own transaction.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from commands.access_config import AppPolicy
from commands.clock import Clock, utc
from commands.command import ChangeFlag, FlagHistory, ListFlags, ShowFlag
from commands.flag_replies import FlagChanged, FlagHistoryShown, FlagNotice, FlagShown, FlagsListed
from commands.freeze import active_freeze
from commands.identity import Actor
from commands.policy import Decision, decide_action, may_force
from commands.replies import AwaitingApproval, Refusal
from commands.runs import RunRequest
from commands.suggest import did_you_mean, shown
from commands.usecases.permissions import Permissions, refusal
from deploy.errors import ShipbotError
from deploy.flags.app_flags import AppFlags, Listing
from deploy.flags.flag_defs import FlagDef
from deploy.notify.sink_config import slack_channels

FlagNotify = Callable[[FlagNotice], Awaitable[None]]
_NEEDS_FLAG = ("off", "drop", "revert")  # and "ramp" when the name is a near miss of a flag that exists


class FlagApprovals(Protocol):
    """Files a raise that waits for an approver (:class:`commands.usecases.approval_service.ApprovalService`)."""

    async def ask_flag(self, run: RunRequest, command: ChangeFlag, decision: Decision) -> AwaitingApproval: ...


class FlagRefused(Exception):
    """A change the gates refuse, raised inside the store's transaction so nothing is written."""

    def __init__(self, reason: str, hint: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.hint = hint


@dataclass(frozen=True)
class Gate:
    """What a raise may go past, decided before the transaction (who asks, freezes, promotion)."""

    forced: bool
    overrides: tuple[str, ...]
    approval: Decision | None = None  # the environment needs an approver for it (chat only)


def next_definition(command: ChangeFlag, before: FlagDef | None, reverted: FlagDef | None) -> FlagDef:
    """The flag's definition after ``command`` (pure)."""
    current = before or FlagDef()
    match command.action:
        case "on":
            return FlagDef(1000, current.allow)
        case "off":
            return FlagDef(0)
        case "ramp":
            return FlagDef(command.tenths or 0, current.allow)
        case "allow":
            return current.with_keys(command.keys)
        case "drop":
            return current.without_keys(command.keys)
        case "revert":
            return reverted or FlagDef()
    raise AssertionError(command.action)  # pragma: no cover


def beyond(after: FlagDef, reached: FlagDef | None) -> str | None:
    """How ``after`` goes further than the flag ever went in the environment it is promoted from (pure)."""
    if reached is None:
        return "was never turned on there"
    if after.tenths > reached.tenths:
        return f"went no further than {reached.describe()} there"
    new_keys = sorted(set(after.allow) - set(reached.allow)) if not after.on and reached.tenths < 1000 else []
    if new_keys:
        return f"was never on for {', '.join(new_keys)} there"
    return None


def flag_decision(
    policy: AppPolicy,
    actor: Actor,
    command: ChangeFlag,
    before: FlagDef | None,
    after: FlagDef,
    channel: str,
    now: datetime,
) -> Decision:
    """How the policy takes a change from chat (pure): a raise passes a deploy's gates (freezes, ``flag!``, and
    ``approval_required`` where the environment's deploys need an approver, forced or not); a lowering needs the
    ``flag`` right alone and never waits."""
    raising = after.raises(before or FlagDef())
    env = command.environment
    return decide_action(policy, actor, "flag", env, channel, now, force=command.force, raising=raising)


class FlagService:
    def __init__(
        self,
        flags: Mapping[str, AppFlags],
        policies: Mapping[str, AppPolicy],
        permissions: Permissions | None,
        clock: Clock,
        notify: FlagNotify | None = None,
        approvals: FlagApprovals | None = None,
        run_ids: Callable[[], str] | None = None,
    ) -> None:
        """``permissions`` None: the operator at the command line (no Slack identity to check; ``notify`` None:
        the change's lines go to the notify channels through the outbox). ``approvals`` files the raises that wait
        for an approver, each with an id from ``run_ids``."""
        self._flags = dict(flags)
        self._policies = dict(policies)
        self._permissions = permissions
        self._clock = clock
        self._notify = notify
        self._approvals = approvals
        self._run_ids = run_ids

    def apps(self) -> list[str]:
        return list(self._flags)

    async def listing(self, command: ListFlags) -> FlagsListed | Refusal:
        """One environment, every environment of one app, or of every app."""
        listings: list[Listing] = []
        errors: list[tuple[str, str, str]] = []
        for app in [command.app] if command.app else list(self._flags):
            flags = self._flags[app]
            environments = [command.environment] if command.environment else list(flags.config.environments)
            for environment in environments:
                try:
                    listings.append(await flags.listing(environment))
                except ShipbotError as exc:
                    errors.append((app, environment, str(exc)))
        return FlagsListed(tuple(listings), tuple(errors))

    async def show(self, command: ShowFlag) -> FlagShown | Refusal:
        """The flag in every environment of the app that has it (the first, with several)."""
        for app, flags in self._flags.items():
            rows = await flags.rows(command.name)
            if rows:
                return FlagShown(app, command.name, tuple(rows))
        return await self._unknown(next(iter(self._flags)), command.name, "flag")

    async def history(self, command: FlagHistory) -> FlagHistoryShown | Refusal:
        app = command.app or next(iter(self._flags))
        if command.name not in await self._flags[app].names():
            return await self._unknown(app, command.name, "flag history")
        changes = await self._flags[app].history(command.name, command.environment)
        return FlagHistoryShown(app, command.name, command.environment, tuple(changes))

    async def change(
        self, command: ChangeFlag, user: str, channel: str, *, source: str, approved: bool = False
    ) -> FlagChanged | Refusal | AwaitingApproval:
        """``approved``: an approver let this change through (:meth:`apply_approved`)."""
        flags = self._flags[command.app]
        env = command.environment
        names = await flags.names()
        if command.name not in names and (
            command.action in _NEEDS_FLAG or (command.action == "ramp" and did_you_mean(command.name, names))
        ):
            return await self._unknown(command.app, command.name, f"flag {command.action}")
        if self._permissions is not None:
            allowed = await self._permissions.action(command.app, user, "flag", env, channel)
            if not allowed.allowed:
                return refusal(allowed)
        rows = await flags.rows(command.name)
        before = next((r.definition for r in rows if r.environment == env), None)
        reverted = await flags.before_last(env, command.name) if command.action == "revert" else None
        after = next_definition(command, before, reverted)
        gate = Gate(False, ())
        gated = after.raises(before or FlagDef())
        if gated:
            decided = await self._raise_gate(command, user, channel, before, after)
            if isinstance(decided, Refusal):
                return decided
            gate = decided
            if gate.approval is not None and not approved:
                return await self._ask(command, user, channel, before, after, gate)

        def compute(current: FlagDef | None) -> FlagDef:
            fresh = next_definition(command, current, reverted)
            if fresh.raises(current or FlagDef()) and not gated:  # raised by someone else meanwhile: not gated here
                raise FlagRefused(f"{command.name} in {env} changed meanwhile", "Look at `flags` and ask again.")
            return fresh

        channels = slack_channels(flags.config.environments[env].notify)
        try:
            changed = await flags.change(
                env, command.name, compute, actor=user, source=source, action=command.action,
                reason=command.reason, forced=gate.forced, slack=channels if self._notify is None else (),
            )  # fmt: skip
        except FlagRefused as err:
            return Refusal(err.reason, err.hint)
        detail = f"{command.name}: {_from(changed.change.before)} -> {changed.change.after.describe()}"
        await flags.audit(user, f"flag {command.action}" + (" (forced)" if gate.forced else ""), env, detail)
        for override in gate.overrides:
            await flags.audit(user, "override flag", env, f"{command.name}: {override}")
        reply = FlagChanged(changed.change, changed.written, gate.overrides)
        if self._notify is not None and channels:
            await self._notify(FlagNotice(channels, reply))
        return reply

    async def apply_approved(self, run: RunRequest, command: ChangeFlag) -> FlagChanged | Refusal:
        """A raise an approver let through: checked again (the requester's right, freezes, the promotion order)
        and applied as the requester's."""
        applied = await self.change(command, run.user, run.channel, source="chat", approved=True)
        assert not isinstance(applied, AwaitingApproval)  # approved: never asks again
        return applied

    async def _ask(
        self, command: ChangeFlag, user: str, channel: str, before: FlagDef | None, after: FlagDef, gate: Gate
    ) -> AwaitingApproval | Refusal:
        """The raise waits for an approver: filed with what it would do ("flag X to 10% in production, from
        0%"); nothing is written."""
        if self._approvals is None or self._run_ids is None or gate.approval is None:
            return Refusal(f"{command.environment} needs an approver for this, and approvals are not served here")
        what = f"flag {command.name} to {after.describe()} in {command.environment}, from {_from(before)}"
        run = RunRequest(
            self._run_ids(), "flag", command.app, command.environment, user, channel, self._clock(), ref=what,
            forced=gate.forced, overrides=gate.overrides,
        )  # fmt: skip
        return await self._approvals.ask_flag(run, command, gate.approval)

    async def _raise_gate(
        self, command: ChangeFlag, user: str, channel: str, before: FlagDef | None, after: FlagDef
    ) -> Gate | Refusal:
        """Freezes and the promotion order, for a change that raises exposure."""
        policy = self._policies[command.app]
        env = command.environment
        overrides: list[str] = []
        approval: Decision | None = None
        actor = (await self._permissions.actors(user))[command.app] if self._permissions is not None else None
        now = utc(self._clock())
        if actor is not None:
            decision = flag_decision(policy, actor, command, before, after, channel, now)
            if not decision.allowed:
                return refusal(decision)
            overrides.extend(decision.overrides)
            approval = decision if decision.approval_required else None
        elif policy.access is not None:
            hit = active_freeze(policy.access.freeze, env, now)
            if hit is not None and not command.force:
                return Refusal(f"{env} is frozen: {hit.reason}, {hit.until()}", "Wait until it ends, or --force.")
            if hit is not None:
                overrides.append(f"forced through a freeze: {hit.reason}, {hit.until()}")
        flags = self._flags[command.app]
        source = flags.config.environments[env].promote_from
        if source:
            problem = beyond(after, await flags.highest(source, command.name))
            if problem is not None:
                rule = f"{command.name} {problem} ({source} comes before {env})"
                if not command.force:
                    hint = f"Raise it in {source} first" + (
                        ", or use `flag!`." if may_force(policy, actor, env) else "."
                    )
                    return Refusal(f"{command.name} cannot go to {after.describe()} in {env}: it {problem}", hint)
                if not may_force(policy, actor, env):
                    return Refusal(f"you may not force flags in {env}", f"Raise it in {source} first.")
                overrides.append(f"forced past the promotion order: {rule}")
        return Gate(any(o.startswith("forced") for o in overrides), tuple(overrides), approval)

    async def _unknown(self, app: str, name: str, verb: str) -> Refusal:
        names = await self._flags[app].names()
        near = did_you_mean(name, names)
        hint = (
            f"did you mean `{near}`?"
            if near
            else (f"Flags: {', '.join(names)}." if names else "There are no flags yet.")
        )
        return Refusal(f"there is no flag `{shown(name)}` (`{verb}`)", hint + " `flag on NAME in ENV` makes one.")


def _from(before: FlagDef | None) -> str:
    return before.describe() if before is not None else "new"
