"""The words that start runs: ``deploy`` (and ``deploy!``), ``rollback``/``roll back`` and ``run TASK`` (pure).

``deploy`` reads from the right: the last word is the environment (``ENV`` or ``ENV/TARGET``), an optional
``to``/``in``/``on`` before it, and what is left is ``[APP] [REF]``. With one app configured the first word
after ``deploy`` is the ref; with several, ``shop@ref``, ``shop/ref`` (hubot style) and ``shop ref`` name the
app, and an environment only one app has picks that app. A ``--force`` flag is refused: forcing is ``deploy!``.
"""

from __future__ import annotations

import re

from commands.command import Deploy, Rollback, RunTask
from commands.errors import CommandError
from commands.grammar.checks import FORCE_FLAGS, PREPOSITIONS, RELEASE, checked_ref
from commands.grammar.places import (
    all_env_words,
    checked_target,
    env_list,
    env_matches,
    locate,
    unknown_app,
    unknown_environment,
    which_app,
)
from commands.help_text import syntax, try_hint
from commands.suggest import did_you_mean, shown
from commands.vocabulary import AppVocabulary, GrammarContext
from deploy.refs import ref_problem


def _split_app_ref(rest: list[str], context: GrammarContext) -> tuple[str | None, str | None]:
    if not rest:
        return None, None
    single = context.single_app
    if len(rest) == 1:
        word = rest[0]
        if single is not None:
            prefix, at, ref = word.partition("@")
            if at and prefix.lower() == single.name.lower() and ref:
                return single.name, ref
            return None, word
        app = context.app(word)
        if app:
            return app, None
        for sep in ("@", "/"):
            prefix, found, ref = word.partition(sep)
            app = context.app(prefix) if found else None
            if app and ref:
                return app, ref
        return None, word
    if len(rest) == 2:
        app = context.app(rest[0])
        if app:
            return app, rest[1]
        if single is not None:
            raise CommandError(
                f"`{shown(' '.join(rest))}` is more than one word; a ref is one word without spaces",
                try_hint("deploy"),
            )
        raise unknown_app(rest[0], context, "deploy")
    raise CommandError("too many words for `deploy`", try_hint("deploy"))


def parse_deploy(args: list[str], context: GrammarContext, force: bool = False) -> Deploy:
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
    app, ref = _split_app_ref(rest, context)
    if ref is not None:
        checked_ref(ref, verb)
    matches = env_matches(env_word, context, app)
    if not matches:
        lone = not rest and not had_preposition
        if lone and not did_you_mean(env_word, all_env_words(context)) and ref_problem(last) is None:
            names = sorted({e for v in context.apps.values() for e in v.environments})
            first_env = "staging" if "staging" in names else names[0]
            raise CommandError(
                f"deploy `{shown(last)}` where?",
                f"Name the environment, like `deploy {shown(last)} to {first_env}`. Environments: {env_list(context)}.",
            )
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
    if ref is None:
        return Deploy(app, environment, env_vocab.default_ref, target, force, default_ref=True)
    return Deploy(app, environment, checked_ref(ref, verb), target, force)


def parse_rollback(args: list[str], context: GrammarContext) -> Rollback:
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
    return Rollback(app, environment, to)


def parse_run(args: list[str], context: GrammarContext) -> RunTask:
    if len(args) < 2:
        raise CommandError("run which task, where?", _tasks_hint(context, None))
    env_word, slash, target_word = args[-1].partition("/")
    rest = args[:-1]
    if rest and rest[-1].lower() in PREPOSITIONS:
        rest = rest[:-1]
    if len(rest) == 2:
        app = context.app(rest[0])
        if app is None:
            raise unknown_app(rest[0], context, "run")
        task_word = rest[1]
    elif len(rest) == 1:
        app, task_word = None, rest[0]
    else:
        raise CommandError("run which task, where?", _tasks_hint(context, None))
    matches = env_matches(env_word, context, app)
    if not matches:
        raise unknown_environment(env_word, context, app, "run")
    with_task = [(a, e) for a, e in matches if _task(context.apps[a], task_word)]
    if not with_task:
        apps = [a for a, _ in matches]
        tasks = [t for a in apps for t in context.apps[a].tasks]
        near = did_you_mean(task_word, tasks)
        hint = f"did you mean `{near}`? " + try_hint("run") if near else _tasks_hint(context, apps)
        raise CommandError(f"unknown task `{shown(task_word)}`", hint)
    if len(with_task) > 1:
        raise which_app(with_task[0][1], [a for a, _ in with_task], "run", f"TASK on {with_task[0][1]}")
    app, environment = with_task[0]
    task = _task(context.apps[app], task_word) or task_word
    target = checked_target(context, app, environment, target_word, "run") if slash else None
    return RunTask(app, task, environment, target)


def _task(vocab: AppVocabulary, word: str) -> str | None:
    for task in vocab.tasks:
        if task.lower() == word.lower():
            return task
    return None


def _tasks_hint(context: GrammarContext, apps: list[str] | None) -> str:
    names = sorted({t for a, v in context.apps.items() if apps is None or a in apps for t in v.tasks})
    listed = ", ".join(f"`{t}`" for t in names) if names else "none are configured (`tasks:` in the config)"
    return f"Tasks: {listed}. {try_hint('run')}"
