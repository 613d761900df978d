"""The words that ship or bring back a release: ``deploy`` (and ``deploy!``), ``rollback``/``roll back`` (and
``rollback!``) (pure).

``deploy`` reads from the right: the last word is the environment (``ENV`` or ``ENV/TARGET``), an optional
``to``/``in``/``on`` before it, and what is left is ``[APP] [REF]``. ``shop@ref``, ``shop/ref`` (hubot-deploy's
form) and ``shop ref`` name the app; so does ``shop`` alone (the environment's default ref). With one app
configured any other single word is the ref, and when the app's name wins over a branch of that name the
command's ``note`` says so (``deploy shop shop to ENV`` deploys the branch). With several, an environment only
one app has picks that app. No environment is ever assumed: ``deploy shop`` asks where. A ``--force`` flag is
refused: forcing is ``deploy!``. ``--dry-run`` anywhere (and ``plan`` in place of ``deploy``) asks what the deploy
would do, changing nothing. ``rollback!`` forces only a rollback to a chosen release.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import NamedTuple

from commands.command import Converge, Deploy, Rollback
from commands.errors import CommandError
from commands.grammar.checks import DRY_RUN_FLAGS, FORCE_FLAGS, PREPOSITIONS, RELEASE, checked_ref
from commands.grammar.places import (
    all_env_words,
    checked_target,
    env_list,
    env_matches,
    locate,
    unknown_app,
    unknown_environment,
)
from commands.help_text import syntax, try_hint
from commands.suggest import did_you_mean, shown
from commands.vocabulary import GrammarContext
from deploy.delivery.refs import ref_problem


class AppRef(NamedTuple):
    """What the words before the environment name: the app, the ref, and the word read as the app when it could
    also have been a branch (with one app configured)."""

    app: str | None
    ref: str | None
    app_word: str | None = None


def _single_app_word(word: str, app: str) -> AppRef | None:
    """``APP``, ``APP@REF`` or ``APP/REF`` (hubot-deploy's form) with one app: the app name wins over a branch."""
    prefix, at, ref = word.partition("@")
    if at and prefix.lower() == app.lower() and ref:
        return AppRef(app, ref)
    prefix, slash, ref = word.partition("/")
    if prefix.lower() != app.lower() or (slash and not ref):
        return None
    return AppRef(app, ref or None, word)


def _split_app_ref(rest: list[str], context: GrammarContext) -> AppRef:
    if not rest:
        return AppRef(None, None)
    single = context.single_app
    if len(rest) == 1:
        word = rest[0]
        if single is not None:
            return _single_app_word(word, single.name) or AppRef(None, word)
        app = context.app(word)
        if app:
            return AppRef(app, None)
        for sep in ("@", "/"):
            prefix, found, ref = word.partition(sep)
            app = context.app(prefix) if found else None
            if app and ref:
                return AppRef(app, ref)
        return AppRef(None, word)
    if len(rest) == 2:
        app = context.app(rest[0])
        if app:
            return AppRef(app, rest[1])
        if single is not None:
            raise CommandError(
                f"`{shown(' '.join(rest))}` is more than one word; a ref is one word without spaces",
                try_hint("deploy"),
            )
        raise unknown_app(rest[0], context, "deploy")
    raise CommandError("too many words for `deploy`", try_hint("deploy"))


def _read_as_app(found: AppRef, verb: str, environment: str) -> str:
    """The note for a word that named the app where a branch of that name was possible."""
    if found.app_word is None:
        return ""
    word = shown(found.app_word)
    reading = f"the app {found.app} and the ref `{shown(found.ref or '')}`" if found.ref else f"the app {found.app}"
    return (
        f"`{word}` was read as {reading}, not a branch; "
        f"for a branch named `{word}`, write `{verb} {found.app} {word} to {environment}`."
    )


def _where(word: str, verb: str, context: GrammarContext) -> CommandError:
    """``deploy APP`` with no environment: shipbot never picks one (hubot-deploy would take production)."""
    app_word = re.split(r"[@/]", word, maxsplit=1)[0]
    app = context.app(app_word)
    names = sorted(
        context.apps[app].environments if app else {e for v in context.apps.values() for e in v.environments}
    )
    first_env = "staging" if "staging" in names else names[0]
    return CommandError(
        f"{verb} `{shown(word)}` where?",
        f"Name the environment, like `{verb} {shown(word)} to {first_env}`; shipbot never picks one for you. "
        f"Environments: {env_list(context, app)}.",
    )


def parse_plan(args: list[str], context: GrammarContext) -> Deploy:
    """``plan [APP] [REF] [to] ENV``: ``deploy ... --dry-run``."""
    return parse_deploy([*args, "--dry-run"], context)


def parse_deploy(args: list[str], context: GrammarContext, force: bool = False) -> Deploy:
    dry_run = any(a.lower() in DRY_RUN_FLAGS for a in args)
    if dry_run:
        args = [a for a in args if a.lower() not in DRY_RUN_FLAGS]
    found = _parse_deploy(args, context, force)
    return replace(found, dry_run=True) if dry_run else found


def _parse_deploy(args: list[str], context: GrammarContext, force: bool) -> Deploy:
    verb = "deploy!" if force else "deploy"
    for arg in args:
        if arg.lower() in FORCE_FLAGS - {"force"}:
            raise CommandError("`deploy` has no --force flag", f"Force with `deploy!`: {syntax('deploy!')}")
    if not args:
        raise CommandError("deploy what, where?", f"Environments: {env_list(context)}. {try_hint(verb)}")
    last = args[-1]
    rest = args[:-1]
    if last.lower() in PREPOSITIONS:
        what = f" `{shown(rest[-1])}`" if rest else ""
        raise CommandError(f"deploy{what} {last.lower()} where?", f"Environments: {env_list(context)}.")
    env_word, slash, target_word = last.partition("/")
    had_preposition = bool(rest) and rest[-1].lower() in PREPOSITIONS
    if had_preposition:
        rest = rest[:-1]
    if len(rest) > 2 and not env_matches(env_word, context, None):
        raise unknown_environment(env_word, context, None, verb)
    found = _split_app_ref(rest, context)
    app, ref = found.app, found.ref
    if ref is not None:
        checked_ref(ref, verb)
    matches = env_matches(env_word, context, app)
    if not matches:
        lone = not rest and not had_preposition
        if lone and not did_you_mean(env_word, all_env_words(context)) and ref_problem(last) is None:
            raise _where(last, verb, context)
        if app is None and ref and len(context.apps) > 1:
            prefix = re.split(r"[@/]", ref, maxsplit=1)[0]
            near_app = did_you_mean(prefix, list(context.apps))
            if near_app and prefix.lower() != near_app.lower() and ("@" in ref or "/" in ref):
                raise unknown_app(prefix, context, verb)
        raise unknown_environment(env_word, context, app, verb)
    if len(matches) > 1:
        if ref:
            prefix = re.split(r"[@/]", ref, maxsplit=1)[0]
            near_app = did_you_mean(prefix, list(context.apps))
            if near_app and ("@" in ref or "/" in ref):
                raise unknown_app(prefix, context, verb)
        owners = [a for a, _ in matches]
        listed = ", ".join(f"`{a}`" for a in owners)
        env_name = matches[0][1]
        example = f"{verb} {owners[0]}@{ref} to {env_name}" if ref else f"{verb} {owners[0]} to {env_name}"
        raise CommandError(
            f"which app? `{env_name}` is an environment of {listed}",
            f"Name the app, like `{example}`. {try_hint(verb)}",
        )
    app, environment = matches[0]
    target = checked_target(context, app, environment, target_word, verb) if slash else None
    env_vocab = context.apps[app].environments[environment]
    note = _read_as_app(found, verb, environment)
    if ref is None:
        return Deploy(app, environment, env_vocab.default_ref, target, force, default_ref=True, note=note)
    return Deploy(app, environment, checked_ref(ref, verb), target, force, note=note)


def parse_rollback(args: list[str], context: GrammarContext, force: bool = False) -> Rollback:
    lowered = [a.lower() for a in args]
    to: str | None = None
    if "to" in lowered:
        at = lowered.index("to")
        after = args[at + 1 :]
        args = args[:at]
        if len(after) != 1:
            raise CommandError("roll back to which release or commit?", try_hint("rollback"))
        to = after[0]
        if not RELEASE.fullmatch(to) or ref_problem(to) is not None:
            raise CommandError(
                f"`{shown(to)}` is not a release or commit id",
                "Release ids and SHAs are letters, digits, '.', '_' and '-'; `history ENV` lists them. "
                + try_hint("rollback"),
            )
    app, environment = locate(args, context, "rollback", unique=True)
    if app is None or environment is None:
        raise CommandError(
            "roll back which environment?", f"Environments: {env_list(context)}. " + try_hint("rollback")
        )
    if force and to is None:
        raise CommandError(
            "a rollback to the previous release needs no `!`",
            "Nothing stops it coming back, not even a freeze: drop the `!`. `rollback! ENV to RELEASE` forces a "
            "chosen release.",
        )
    return Rollback(app, environment, to, force)


def parse_converge(args: list[str], context: GrammarContext) -> Converge:
    """``converge [APP] ENV``."""
    app, environment = locate(args, context, "converge", unique=True)
    if app is None or environment is None or len(args) > 2:
        raise CommandError("converge which environment?", f"Environments: {env_list(context)}. " + try_hint("converge"))
    return Converge(app, environment)
