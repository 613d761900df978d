"""Who may do what, where, and when: an actor and a command in, a :class:`Decision` out (pure).

Order of checks for an action in an environment (the first refusal wins, and says why and what to do):

1. No ``access`` section: everyone may do everything (documented default for demos and small teams).
2. An environment without rules under ``access.environments`` is for admins only.
3. The actor must match the action's list (``*``, their user ID, or an ``@group`` they belong to).
4. ``channels`` limits where deploys, rollbacks and tasks to the environment may be asked for.
5. ``deploy!`` needs the ``force`` list; a freeze window refuses a deploy unless it is forced.

A plain rollback (to the previous good release) is one step for those with the ``rollback`` right: no freeze
stops a release coming back, no approval waits. A rollback to a chosen release (``rollback ENV to X``) puts
something new live, so after the ``rollback`` right it passes the gates of a deploy to that environment: step 5
(``rollback!`` forces where ``deploy!`` may) and approval where the environment requires it.

Admins pass 2-4; each check they pass only as admins is named in ``Decision.overrides`` so the caller records
it. Admins do not pass a freeze silently either: they force like anyone allowed to. Approval is a two-person
rule nobody skips, admins included: ``Decision.approval_required`` tells the caller to wait for an approver who
is not the requester (:func:`decide_approval`). Unlocking someone else's lock is :func:`decide_unlock`. Abort at a
pause (:func:`decide_abort`) passes no freeze: a freeze stops changes going out, never one coming back.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from commands.access_config import DEFAULT_APPROVAL_TIMEOUT, AccessConfig, AppPolicy, EnvironmentAccess
from commands.command import (
    Approve,
    Cancel,
    ChangeFlag,
    Command,
    Converge,
    Deploy,
    FlagHistory,
    Help,
    History,
    ListFlags,
    ListPreviews,
    Lock,
    Preview,
    Reject,
    Rollback,
    RunTask,
    ShowFlag,
    Status,
    Teardown,
    Unlock,
    WhereCanIDeploy,
)
from commands.freeze import active_freeze
from commands.help_text import SYNTAX, syntax
from commands.identity import Actor
from commands.reply_texts import lock_held
from deploy.records import LockRecord

OPEN_REASON = "no access rules are configured, so everyone may do everything"
_DOING = {
    "deploy": "deploy to {env}",
    "force": "force deploys to {env}",
    "rollback": "roll back {env}",
    "cancel": "cancel runs in {env}",
    "lock": "lock {env}",
    "unlock": "unlock someone else's lock on {env}",
    "task": "run tasks in {env}",
    "approve": "approve deploys to {env}",
    "flag": "change feature flags in {env}",
}
_CHANNEL_BOUND = ("deploy", "rollback", "task", "flag")
_FORCING = {"deploy": ("deploys to", "deploy"), "rollback": ("rollbacks of", "roll back"), "flag": ("flags in", "flag")}


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str
    overrides: tuple[str, ...] = ()
    hint: str = ""
    approval_required: bool = False
    approvers: tuple[str, ...] = ()
    approval_timeout: float = DEFAULT_APPROVAL_TIMEOUT
    queue: bool = False
    forced: bool = False


def describe(principals: Iterable[str]) -> str:
    """``@deployers, @sre or U0CAROL``; ``everyone`` for ``*``; ``admins only`` for none."""
    names = ["everyone" if p == "*" else p for p in principals]
    if not names:
        return "admins only"
    if len(names) == 1:
        return names[0]
    return ", ".join(names[:-1]) + " or " + names[-1]


def matches(principals: Iterable[str], actor: Actor) -> bool:
    for principal in principals:
        if principal in ("*", actor.user_id):
            return True
        if principal.startswith("@") and principal[1:] in actor.groups:
            return True
    return False


def is_admin(access: AccessConfig | None, actor: Actor) -> bool:
    return access is None or matches(access.admins, actor)


def _rules(policy: AppPolicy, environment: str) -> EnvironmentAccess | None:
    return None if policy.access is None else policy.access.environments.get(environment)


def may(policy: AppPolicy, actor: Actor, action: str, environment: str, channel: str | None = None) -> bool:
    """Membership (and, with ``channel``, the channel rule) only: no freeze, no overrides reported."""
    if policy.access is None or is_admin(policy.access, actor):
        return True
    rules = _rules(policy, environment)
    if rules is None or not matches(rules.principals(action), actor):
        return False
    return not (channel is not None and action in _CHANNEL_BOUND and rules.channels and channel not in rules.channels)


def may_force(policy: AppPolicy, actor: Actor | None, environment: str) -> bool:
    """Admins and the environment's ``force`` list; ``actor`` None is the operator at the command line."""
    if policy.access is None or actor is None or is_admin(policy.access, actor):
        return True
    rules = _rules(policy, environment)
    return rules is not None and matches(rules.force, actor)


def decide_action(
    policy: AppPolicy,
    actor: Actor,
    action: str,
    environment: str,
    channel: str,
    now: datetime,
    *,
    force: bool = False,
    chosen_release: bool = False,
    raising: bool = False,
) -> Decision:
    """May ``actor`` do ``action`` (deploy, rollback, cancel, lock, unlock, task, approve, flag) in ``environment``?

    ``chosen_release``: a rollback to a release the asker chose, which passes a deploy's gates too. ``raising``: a
    flag change that exposes the flag to more people, which passes a deploy's gates too (lowering is the kill
    switch: the ``flag`` right alone, freezes or not).
    """
    doing = _DOING[action].format(env=environment)
    if policy.access is None:
        return Decision(True, OPEN_REASON, forced=force)
    access = policy.access
    admin = is_admin(access, actor)
    overrides: list[str] = []
    rules = access.environments.get(environment)
    if rules is None:
        if not admin:
            return Decision(
                False,
                f"{environment} has no rules under access.environments, so only admins may {doing}",
                hint="An admin can add rules for it to the config.",
            )
        overrides.append(f"admin: {environment} has no access rules")
        rules = EnvironmentAccess()
    listed = rules.principals(action)
    if matches(listed, actor):
        reason = f"{actor.user_id} may {doing} ({describe(listed)})"
    elif admin:
        reason = f"{actor.user_id} may {doing} as an admin"
        if not overrides:
            overrides.append(f"admin: not in {environment}'s {action} list ({describe(listed)})")
    else:
        return Decision(
            False,
            f"{actor.user_id} may not {doing}: that is for {describe(listed)}",
            hint="`where can I deploy` lists what you may do; an admin can change access in the config.",
        )
    if action in _CHANNEL_BOUND and rules.channels and channel not in rules.channels:
        allowed_in = describe(rules.channels)
        if not admin:
            return Decision(
                False,
                f"{environment} may only be changed from channel {allowed_in}, not {channel or 'from here'}",
                hint=f"Ask again in {allowed_in}.",
            )
        overrides.append(f"admin: asked from {channel}, outside {environment}'s channels ({allowed_in})")
    gated = action == "deploy" or (action == "rollback" and chosen_release) or (action == "flag" and raising)
    if gated:
        refused = _force_and_freeze(access, rules, actor, action, environment, now, force, overrides)
        if refused is not None:
            return refused
    return Decision(
        True,
        reason,
        tuple(overrides),
        approval_required=gated and rules.approval == "required",
        approvers=rules.principals("approve"),
        approval_timeout=rules.approval_timeout,
        queue=rules.queue,
        forced=force,
    )


def _force_and_freeze(
    access: AccessConfig,
    rules: EnvironmentAccess,
    actor: Actor,
    action: str,
    environment: str,
    now: datetime,
    force: bool,
    overrides: list[str],
) -> Decision | None:
    """Step 5 for a deploy or a rollback to a chosen release: the refusal, or ``None`` (a forced pass through a
    freeze is added to ``overrides``)."""
    may_force = is_admin(access, actor) or matches(rules.force, actor)
    forcing, doing = _FORCING[action]
    if force and not may_force:
        return Decision(
            False,
            f"{actor.user_id} may not force {forcing} {environment}: that is for {describe(rules.force)}",
            hint=f"Drop the `!` to {doing} normally.",
        )
    hit = active_freeze(access.freeze, environment, now)
    if hit is None:
        return None
    if not force:
        tip = f"You may force it with {syntax(action + '!')}." if may_force else "Wait until it ends."
        return Decision(False, f"{environment} is frozen: {hit.reason}, {hit.until()}", hint=tip)
    overrides.append(f"forced through a freeze: {hit.reason}, {hit.until()}")
    return None


def decide(
    policies: Mapping[str, AppPolicy], actors: Mapping[str, Actor], command: Command, channel: str, now: datetime
) -> Decision:
    """Decide a parsed command. ``actors`` maps app -> the asker as that app's policy sees them.

    Commands whose environment is only known later (approve/reject/cancel by run id, unlock without
    ``--force``) are allowed here with a reason saying what will be checked; the service checks them against
    the run or the lock with :func:`decide_action`, :func:`decide_approval` and :func:`decide_unlock`.
    """
    match command:
        case Deploy(app=app, environment=env, force=force):
            return decide_action(policies[app], actors[app], "deploy", env, channel, now, force=force)
        case Rollback(app=app, environment=env, to=to, force=force):
            chosen = to is not None
            return decide_action(
                policies[app], actors[app], "rollback", env, channel, now, force=force, chosen_release=chosen
            )
        case Converge(app=app, environment=env):  # the live release going out again: decided like a deploy
            return decide_action(policies[app], actors[app], "deploy", env, channel, now)
        case RunTask(app=app, environment=env):
            return decide_action(policies[app], actors[app], "task", env, channel, now)
        case Lock(app=app, environment=env):
            return decide_action(policies[app], actors[app], "lock", env, channel, now)
        case Unlock(app=app, environment=env, force=True):
            return decide_action(policies[app], actors[app], "unlock", env, channel, now)
        case Unlock():
            return Decision(True, "the lock's owner may unlock it; anyone else needs --force and the right to")
        case Cancel(app=str(app), environment=str(env)):
            return decide_action(policies[app], actors[app], "cancel", env, channel, now)
        case Cancel():
            return Decision(True, "anyone may cancel their own run; others' runs need the cancel right there")
        case Approve() | Reject():
            places = [
                f"{app} {env}"
                for app, policy in policies.items()
                for env in policy.environments
                if may(policy, actors[app], "approve", env)
            ]
            if not places:
                return Decision(False, "you may not approve deploys anywhere", hint="Ask someone who may.")
            return Decision(True, f"approvers there may decide, never the requester; you may in {', '.join(places)}")
        case Preview(app=app) | Teardown(app=app):
            apps = [app] if app is not None else list(policies)
            decisions = [decide_preview(policies[a], actors[a], command.verb) for a in apps]
            return next((d for d in decisions if d.allowed), decisions[0])
        case ListPreviews():
            return Decision(True, "everyone may list previews")
        case ChangeFlag(app=app, environment=env):  # raising or lowering is the service's to tell (it reads the store)
            return decide_action(policies[app], actors[app], "flag", env, channel, now)
        case ListFlags() | ShowFlag() | FlagHistory():
            return Decision(True, "everyone may read feature flags")
        case Status() | History() | WhereCanIDeploy() | Help():
            return Decision(True, "everyone may read status, history and help")
    raise AssertionError(f"unhandled command {command!r}")  # pragma: no cover


PREVIEW_ACTIONS = ("preview", "teardown")
PREVIEW_WORDS = ("preview", "teardown", "previews")  # shown in help only when an app has previews


def decide_preview(policy: AppPolicy, actor: Actor, action: str) -> Decision:
    """May ``actor`` make (``preview``) or remove (``teardown``) previews of the app in chat? Those on
    ``access.preview`` / ``access.teardown`` when the list is given, otherwise whoever may deploy to any environment
    of the app; admins always. No channel rule or freeze applies: a preview is no environment."""
    doing = f"{'make' if action == 'preview' else 'remove'} previews of {policy.app}"
    if policy.access is None:
        return Decision(True, OPEN_REASON)
    access = policy.access
    if is_admin(access, actor):
        return Decision(True, f"{actor.user_id} may {doing} as an admin")
    listed: list[str] | None = getattr(access, action)
    if listed is not None:
        if matches(listed, actor):
            return Decision(True, f"{actor.user_id} may {doing} ({describe(listed)})")
        return Decision(
            False, f"{actor.user_id} may not {doing}: that is for {describe(listed)}", hint="Ask someone who may."
        )
    deployable = [env for env in policy.environments if may(policy, actor, "deploy", env)]
    if deployable:
        return Decision(True, f"{actor.user_id} may deploy to {deployable[0]}, so may {doing}")
    return Decision(
        False,
        f"{actor.user_id} may not {doing}: that is for whoever may deploy to one of its environments",
        hint="`where can I deploy` lists what you may do; an admin can add you to access.preview.",
    )


def decide_push(policy: AppPolicy, environment: str, now: datetime) -> Decision:
    """An auto-deploy (a push the config's ``auto_deploy`` follows): the config itself is the permission to deploy,
    so who may deploy and from which channel do not apply; a freeze does (an auto-deploy never forces) and so does
    approval."""
    if policy.access is None:
        return Decision(True, OPEN_REASON)
    rules = policy.access.environments.get(environment) or EnvironmentAccess()
    hit = active_freeze(policy.access.freeze, environment, now)
    if hit is not None:
        return Decision(
            False, f"{environment} is frozen: {hit.reason}, {hit.until()}", hint="It deploys when the freeze ends."
        )
    return Decision(
        True,
        f"environments.{environment}.auto_deploy follows this push",
        approval_required=rules.approval == "required",
        approvers=rules.principals("approve"),
        approval_timeout=rules.approval_timeout,
    )


def decide_approval(
    policy: AppPolicy, actor: Actor, requester: str, environment: str, channel: str, now: datetime, what: str = "deploy"
) -> Decision:
    """May ``actor`` approve (or reject) ``requester``'s deploy (``what``)? Never their own, whoever they are."""
    if actor.user_id == requester:
        rules = _rules(policy, environment)
        who = describe(rules.principals("approve")) if rules else "an admin"
        return Decision(False, f"you cannot approve your own {what}", hint=f"Ask someone else: {who}.")
    return decide_action(policy, actor, "approve", environment, channel, now)


def decide_abort(policy: AppPolicy, actor: Actor, requester: str, environment: str) -> Decision:
    """May ``actor`` press Abort at a pause of ``requester``'s run? The requester, admins, and whoever may approve or
    deploy there: no freeze and no channel rule, since aborting puts the previous release back."""
    if actor.user_id == requester:
        return Decision(True, f"{actor.user_id} started this run")
    if policy.access is None:
        return Decision(True, OPEN_REASON)
    if is_admin(policy.access, actor):
        return Decision(True, f"{actor.user_id} may abort runs in {environment} as an admin")
    rules = _rules(policy, environment)
    for action in ("approve", "deploy"):
        if rules is not None and matches(rules.principals(action), actor):
            return Decision(
                True, f"{actor.user_id} may abort runs in {environment} ({describe(rules.principals(action))})"
            )
    who = describe(rules.principals("approve") + rules.principals("deploy")) if rules is not None else "admins"
    return Decision(
        False,
        f"{actor.user_id} may not abort this run: that is for the person who started it, {who} and admins",
        hint="Ask the person who started it.",
    )


def decide_unlock(
    policy: AppPolicy, actor: Actor, lock: LockRecord, force: bool, channel: str, now: datetime
) -> Decision:
    """The owner unlocks; anyone else needs ``--force`` and to be an admin or on the ``unlock`` list."""
    if lock.owner == actor.user_id:
        return Decision(True, f"{actor.user_id} holds the lock")
    held = lock_held(lock)
    can_force = policy.access is None or decide_action(policy, actor, "unlock", lock.environment, channel, now).allowed
    if not force:
        hint = (
            f"You may override it with `unlock {lock.environment} --force` (recorded)."
            if can_force
            else f"Ask {lock.owner} to unlock it, or an admin."
        )
        return Decision(False, f"{held}; only they can unlock it", hint=hint)
    if not can_force:
        return Decision(False, f"{held}; only they or an admin can unlock it", hint=f"Ask {lock.owner} or an admin.")
    return Decision(
        True, f"{actor.user_id} may remove others' locks", (f"unlocked {lock.owner}'s lock ({lock.reason})",)
    )


def _needs(policy: AppPolicy, action: str, environment: str) -> bool:
    """Approving only means something where approval is required."""
    if action != "approve" or policy.access is None:
        return True
    rules = _rules(policy, environment)
    return rules is not None and rules.approval == "required"


def allowed_topics(policies: Mapping[str, AppPolicy], actors: Mapping[str, Actor], channel: str) -> tuple[str, ...]:
    """The command words ``help`` shows: read-only ones always, the others where the actor may use them here
    (approve and reject only where approval is required)."""
    words = []
    previews = any(policy.previews for policy in policies.values())
    for word, info in SYNTAX.items():
        if word in PREVIEW_WORDS and not previews:
            continue
        if info.action is None:
            words.append(word)
            continue
        if info.action in PREVIEW_ACTIONS:
            if any(decide_preview(policy, actors[app], info.action).allowed for app, policy in policies.items()):
                words.append(word)
            continue
        if any(
            may(policy, actors[app], info.action, env, channel) and _needs(policy, info.action, env)
            for app, policy in policies.items()
            for env in policy.environments
        ):
            words.append(word)
    return tuple(words)
