"""The words that act on runs and locks without starting one: ``cancel``, ``lock``, ``unlock``, ``approve``,
``reject`` (pure).
"""

from __future__ import annotations

from commands.command import Approve, Cancel, Lock, Reject, Unlock
from commands.errors import CommandError
from commands.grammar.checks import FORCE_FLAGS, RUN_ID, checked_reason, checked_run_id
from commands.grammar.places import all_env_words, env_list, env_matches, locate
from commands.help_text import try_hint
from commands.suggest import did_you_mean, shown
from commands.vocabulary import GrammarContext


def parse_cancel(args: list[str], context: GrammarContext) -> Cancel:
    if not args:
        return Cancel()
    if len(args) == 1:
        word = args[0]
        matches = env_matches(word, context, None)
        if len(matches) == 1:
            return Cancel(app=matches[0][0], environment=matches[0][1])
        if matches:
            return Cancel(environment=matches[0][1])
        lowered = word.lower()
        near_env = did_you_mean(word, all_env_words(context))
        if RUN_ID.fullmatch(lowered) and not (near_env and not any(c.isdigit() for c in lowered)):
            return Cancel(run_id=lowered)
        if near_env:
            raise CommandError(
                f"unknown environment `{shown(word)}`", f"did you mean `{near_env}`? " + try_hint("cancel")
            )
        raise CommandError(
            f"`{shown(word)}` is neither a run id nor an environment",
            "`status` shows running deploys and their ids. " + try_hint("cancel"),
        )
    app, environment = locate(args, context, "cancel", unique=True)
    return Cancel(app=app, environment=environment)


def parse_lock(args: list[str], context: GrammarContext) -> Lock:
    if not args:
        raise CommandError("lock which environment?", f"Environments: {env_list(context)}. " + try_hint("lock"))
    if len(args) >= 2 and context.app(args[0]) and context.apps[context.app(args[0]) or ""].environment(args[1]):
        place, reason = args[:2], args[2:]
    else:
        place, reason = args[:1], args[1:]
    place = [*place[:-1], place[-1].removesuffix(":")]
    app, environment = locate(place, context, "lock", unique=True)
    if app is None or environment is None:
        raise CommandError("lock which environment?", try_hint("lock"))
    return Lock(app, environment, checked_reason(reason, "lock"))


def parse_unlock(args: list[str], context: GrammarContext) -> Unlock:
    force = any(a.lower() in FORCE_FLAGS for a in args)
    place = [a for a in args if a.lower() not in FORCE_FLAGS]
    if not place:
        raise CommandError("unlock which environment?", try_hint("unlock"))
    app, environment = locate(place, context, "unlock", unique=True)
    if app is None or environment is None:
        raise CommandError("unlock which environment?", try_hint("unlock"))
    return Unlock(app, environment, force)


def parse_approve(args: list[str], context: GrammarContext) -> Approve:
    run_id = checked_run_id(args, "approve")
    if len(args) > 1:
        raise CommandError("`approve` takes only the run id", try_hint("approve"))
    return Approve(run_id)


def parse_reject(args: list[str], context: GrammarContext) -> Reject:
    run_id = checked_run_id(args, "reject")
    reason = args[1:]
    return Reject(run_id, checked_reason(reason, "reject"))
