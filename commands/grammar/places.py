"""Where a command points: an app, an environment, a role or host in it, and the errors that name the options (pure).

An environment word may belong to several apps; :func:`locate` reads ``[APP] ENV`` (or just ``APP`` where a
command allows it) and asks "which app?" when the word alone does not decide. Every error lists what the config
offers, or the near miss ("did you mean `staging`?"), with the command's syntax.
"""

from __future__ import annotations

from collections.abc import Sequence

from commands.errors import CommandError
from commands.help_text import try_hint
from commands.suggest import did_you_mean, shown
from commands.vocabulary import GrammarContext


def env_list(context: GrammarContext, app: str | None = None) -> str:
    apps = [context.apps[app]] if app else list(context.apps.values())
    names = sorted({name for vocab in apps for name in vocab.environments})
    return ", ".join(f"`{n}`" for n in names)


def all_env_words(context: GrammarContext, app: str | None = None) -> list[str]:
    apps = [context.apps[app]] if app else list(context.apps.values())
    seen: dict[str, None] = {}
    for vocab in apps:
        for word in vocab.words():
            seen[word] = None
    return list(seen)


def env_matches(word: str, context: GrammarContext, app: str | None) -> list[tuple[str, str]]:
    apps = [context.apps[app]] if app else list(context.apps.values())
    found = []
    for vocab in apps:
        env = vocab.environment(word)
        if env:
            found.append((vocab.name, env))
    return found


def unknown_environment(word: str, context: GrammarContext, app: str | None, verb: str) -> CommandError:
    if not word:
        return CommandError("which environment?", f"Environments: {env_list(context, app)}. {try_hint(verb)}")
    near = did_you_mean(word, all_env_words(context, app))
    where = f" in {app}" if app and len(context.apps) > 1 else ""
    message = f"unknown environment `{shown(word)}`{where}"
    if near:
        return CommandError(message, f"did you mean `{near}`? {try_hint(verb)}")
    other = [a for a in context.apps if a != app and context.apps[a].environment(word)] if app else []
    if other:
        return CommandError(message, f"`{shown(word)}` is an environment of {', '.join(other)}. {try_hint(verb)}")
    return CommandError(message, f"Environments: {env_list(context, app)}. {try_hint(verb)}")


def unknown_app(word: str, context: GrammarContext, verb: str) -> CommandError:
    near = did_you_mean(word, list(context.apps))
    apps = ", ".join(f"`{a}`" for a in context.apps)
    hint = f"did you mean `{near}`? " if near else f"Apps: {apps}. "
    return CommandError(f"unknown app `{shown(word)}`", hint + try_hint(verb))


def which_app(environment: str, apps: Sequence[str], verb: str, example: str) -> CommandError:
    names = ", ".join(f"`{a}`" for a in apps)
    return CommandError(
        f"which app? `{environment}` is an environment of {names}",
        f"Name the app first, like `{verb} {apps[0]} {example}`. {try_hint(verb)}",
    )


def checked_target(context: GrammarContext, app: str, environment: str, word: str, verb: str) -> str:
    env = context.apps[app].environments[environment]
    found = env.target(word)
    if found:
        return found
    options = [*env.roles, *env.hosts]
    near = did_you_mean(word, options) if word else None
    listed = ", ".join(f"`{o}`" for o in options) or "none"
    hint = f"did you mean `{near}`? " if near else f"Roles and hosts of {environment}: {listed}. "
    raise CommandError(f"{environment} has no role or host `{shown(word)}`", hint + try_hint(verb))


def locate(
    tokens: list[str], context: GrammarContext, verb: str, *, unique: bool, example: str = "ENV"
) -> tuple[str | None, str | None]:
    """``[APP] ENV`` (or just ``APP`` when ``not unique``) from up to two words."""
    if not tokens:
        return None, None
    if len(tokens) == 1:
        word = tokens[0]
        matches = env_matches(word, context, None)
        if matches:
            if len(matches) == 1:
                return matches[0]
            if unique:
                raise which_app(matches[0][1], [a for a, _ in matches], verb, example)
            return None, matches[0][1]
        app = context.app(word)
        if app and not unique and len(context.apps) > 1:
            return app, None
        near_app = did_you_mean(word, list(context.apps)) if len(context.apps) > 1 else None
        if near_app and not did_you_mean(word, all_env_words(context)):
            raise unknown_app(word, context, verb)
        raise unknown_environment(word, context, None, verb)
    if len(tokens) == 2:
        app = context.app(tokens[0])
        if app is None:
            if len(context.apps) == 1:
                raise CommandError(f"too many words for `{verb}`", try_hint(verb))
            raise unknown_app(tokens[0], context, verb)
        env = context.apps[app].environment(tokens[1])
        if env is None:
            raise unknown_environment(tokens[1], context, app, verb)
        return app, env
    raise CommandError(f"too many words for `{verb}`", try_hint(verb))
