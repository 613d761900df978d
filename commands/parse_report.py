"""``shipbot parse TEXT --json``: how shipbot reads a message and whether a user may run it there (pure).

The result is a plain dict with exactly these keys, a contract for operators checking their policy and for
outside checks::

    {"command": "deploy", "app": "shop", "ref": "main", "environment": "production", "target": null,
     "force": false, "allowed": true, "reason": "U0ALICE may deploy to production (@deployers)"}

A ``run`` (named task) command adds ``"task"``, the task's name (``deploy:migrate shop to production`` reads as
``{"command": "run", ..., "task": "migrate"}``); no other command has that key.
Or, when the text is not a command, ``{"error": "unknown environment `stagin`", "hint": "did you mean ..."}``.
``ref`` is the ref a deploy ships (the environment's default when none was typed), a rollback's target, or the
branch of a ``preview`` or ``teardown``;
``target`` the role or host filter. Without ``user`` the answer is for a person in no list and no group (only
``*`` rules let them). Slack user groups cannot be asked from here: pass ``group_members`` (handle -> IDs) to
count them, otherwise they count as empty. An invalid ``access`` section raises
:class:`deploy.errors.ConfigError` for the CLI to print.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from commands.access_config import policy_for
from commands.command import (
    Cancel,
    ChangeFlag,
    Command,
    Converge,
    Deploy,
    FlagHistory,
    History,
    ListFlags,
    ListPreviews,
    Lock,
    Preview,
    Rollback,
    RunTask,
    Status,
    Teardown,
    Unlock,
    WhereCanIDeploy,
)
from commands.errors import CommandError
from commands.grammar import parse
from commands.identity import actor_for, is_user_id
from commands.policy import decide
from commands.vocabulary import GrammarContext
from deploy.config.models import Config

ANYONE = "anyone"


def _fields(command: Command) -> dict[str, object]:
    app: str | None = None
    ref: str | None = None
    environment: str | None = None
    target: str | None = None
    force = False
    match command:
        case Deploy():
            app, ref, environment, target, force = (
                command.app,
                command.ref,
                command.environment,
                command.target,
                command.force,
            )
        case Rollback():
            app, ref, environment, force = command.app, command.to, command.environment, command.force
        case RunTask():
            app, environment, target = command.app, command.environment, command.target
        case Unlock():
            app, environment, force = command.app, command.environment, command.force
        case Cancel() | Status() | History() | Lock() | Converge() | ListFlags() | FlagHistory():
            app, environment = command.app, command.environment
        case ChangeFlag():  # the flag's name is not a ref: it stays out of the contract's keys
            app, environment, force = command.app, command.environment, command.force
        case WhereCanIDeploy() | ListPreviews():
            app = command.app
        case Preview() | Teardown():
            app, ref = command.app, command.branch
        case _:
            pass
    fields: dict[str, object] = {
        "command": command.verb,
        "app": app,
        "ref": ref,
        "environment": environment,
        "target": target,
        "force": force,
    }
    if isinstance(command, RunTask):
        fields["task"] = command.task
    return fields


def parse_report(
    text: str,
    configs: Sequence[Config],
    user: str | None = None,
    channel: str | None = None,
    *,
    now: datetime | None = None,
    bot_user_id: str | None = None,
    group_members: Mapping[str, frozenset[str]] | None = None,
    slash: bool = False,
) -> dict[str, object]:
    """The ``shipbot parse --json`` dict for ``text`` as ``user`` would send it in ``channel`` (after ``/deploy``
    when ``slash``)."""
    if user is not None and not is_user_id(user):
        return {
            "error": f"{user!r} is not a Slack user ID",
            "hint": "Pass the immutable ID (U… or W…) from the person's Slack profile, not a display name.",
        }
    policies = {config.app: policy_for(config) for config in configs}
    context = GrammarContext.from_configs(configs, bot_user_id)
    try:
        command = parse(text, context, slash=slash)
    except CommandError as err:
        return {"error": err.message, "hint": err.hint}
    actors = {app: actor_for(policy, user or ANYONE, group_members) for app, policy in policies.items()}
    decision = decide(policies, actors, command, channel or "", now or datetime.now(UTC))
    reason = decision.reason
    if decision.hint and not decision.allowed:
        reason = f"{reason}. {decision.hint}"
    if decision.overrides:
        reason = f"{reason} (overrides: {'; '.join(decision.overrides)})"
    if decision.allowed and decision.approval_required:
        reason = f"{reason}; waits for approval by someone else"
    return {**_fields(command), "allowed": decision.allowed, "reason": reason}
