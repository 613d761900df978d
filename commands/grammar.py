"""The chat grammar: message text in, a typed :data:`~commands.command.Command` or a :class:`CommandError` out (pure).

Design:

- :func:`commands.tokens.words` turns Slack text into plain words (bot mention, ``/deploy``, markup, escapes).
- The first word picks a parser from ``_PARSERS`` (case-insensitive). Each parser reads its arguments from the
  right where that is unambiguous: for ``deploy`` the last word is the environment (``ENV`` or ``ENV/TARGET``),
  an optional ``to``/``in``/``on`` before it, and what is left is ``[APP] [REF]``. With one app configured the
  first word after ``deploy`` is the ref; with several, ``shop@ref``, ``shop/ref`` (hubot style) and
  ``shop ref`` name the app, and an environment only one app has picks that app.
- Every name is checked against the config (:class:`~commands.vocabulary.GrammarContext`), every ref against
  git's ``check-ref-format`` rules (:func:`deploy.refs.ref_problem`), run ids and release ids against strict
  patterns, free-text reasons against :func:`reason_problem`. A command carries nothing unchecked.
- Nothing is ever silently ignored: an unknown word gets "did you mean ...?" when it is a near miss, otherwise
  the closest command and its syntax. A message with only the bot mention is ``help``.

:func:`parse` raises only :class:`CommandError`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from commands.command import (
    Approve,
    Cancel,
    Command,
    Deploy,
    Help,
    History,
    Lock,
    Reject,
    Rollback,
    RunTask,
    Status,
    Unlock,
    WhereCanIDeploy,
)
from commands.errors import CommandError
from commands.help_text import COMMAND_WORDS, SYNTAX, syntax, try_hint
from commands.suggest import closest, did_you_mean, shown
from commands.tokens import words
from commands.vocabulary import AppVocabulary, GrammarContext
from deploy.refs import ref_problem

RUN_ID = re.compile(r"[a-z0-9][a-z0-9_-]{2,39}")
RELEASE = re.compile(r"[0-9A-Za-z][0-9A-Za-z._-]{0,63}")
PREPOSITIONS = frozenset({"to", "in", "on", "into", "onto"})
FORCE_FLAGS = frozenset({"--force", "-f", "\u2014force", "\u2013force", "force"})
MAX_HISTORY = 100
MAX_REASON = 200
_REASON_FORBIDDEN = set("<>`$|\\{}")
_BROADCAST_WORDS = re.compile(r"@(channel|here|everyone)\b", re.IGNORECASE)

GREETINGS = frozenset({"hi", "hello", "hey", "hallo", "yo", "thanks", "thx", "ty", "morning", "ping"})

Parser = Callable[[list[str], GrammarContext], Command]


_CHARACTER_NAMES = {"<": "angle brackets", ">": "angle brackets", "`": "backticks"}


def reason_problem(reason: str) -> str | None:
    """Why ``reason`` (a lock or rejection reason) cannot be kept and shown, or ``None`` when it can."""
    if len(reason) > MAX_REASON:
        return f"a reason may be at most {MAX_REASON} characters"
    for ch in reason:
        if not ch.isprintable():
            return "a reason may not contain control characters"
        if ch in _REASON_FORBIDDEN:
            return f"a reason may not contain {_CHARACTER_NAMES.get(ch, repr(ch))}"
    if _BROADCAST_WORDS.search(reason):
        return "a reason may not contain @channel, @here or @everyone"
    return None


def parse(text: str, context: GrammarContext) -> Command:
    """Read one message addressed to the bot; raises :class:`CommandError` with a hint when it is not a command."""
    message = words(text, context.bot_user_id)
    tokens = list(message.words)
    if not tokens:
        return Help()
    head = tokens[0].lower()
    if message.slash and head not in _PARSERS and head not in ("roll", "deploy!"):
        tokens = ["deploy", *tokens]
    return _parse_tokens(tokens, context)


def _parse_tokens(tokens: list[str], context: GrammarContext) -> Command:
    head, args = tokens[0].lower(), tokens[1:]
    if head == "roll" and args and args[0].lower() == "back":
        return _rollback(args[1:], context)
    if head == "deploy!" or (head == "deploy" and args[:1] == ["!"]):
        return _deploy(args[1:] if head == "deploy" else args, context, force=True)
    parser = _PARSERS.get(head)
    if parser is None:
        raise _unknown_command(tokens, context)
    return parser(args, context)


# ---------------------------------------------------------------------------------------------------- helpers


def _env_list(context: GrammarContext, app: str | None = None) -> str:
    apps = [context.apps[app]] if app else list(context.apps.values())
    names = sorted({name for vocab in apps for name in vocab.environments})
    return ", ".join(f"`{n}`" for n in names)


def _all_env_words(context: GrammarContext, app: str | None = None) -> list[str]:
    apps = [context.apps[app]] if app else list(context.apps.values())
    seen: dict[str, None] = {}
    for vocab in apps:
        for word in vocab.words():
            seen[word] = None
    return list(seen)


def _env_matches(word: str, context: GrammarContext, app: str | None) -> list[tuple[str, str]]:
    apps = [context.apps[app]] if app else list(context.apps.values())
    found = []
    for vocab in apps:
        env = vocab.environment(word)
        if env:
            found.append((vocab.name, env))
    return found


def _unknown_environment(word: str, context: GrammarContext, app: str | None, verb: str) -> CommandError:
    if not word:
        return CommandError("which environment?", f"Environments: {_env_list(context, app)}. {try_hint(verb)}")
    near = did_you_mean(word, _all_env_words(context, app))
    where = f" in {app}" if app and len(context.apps) > 1 else ""
    message = f"unknown environment `{shown(word)}`{where}"
    if near:
        return CommandError(message, f"did you mean `{near}`? {try_hint(verb)}")
    other = [a for a in context.apps if a != app and context.apps[a].environment(word)] if app else []
    if other:
        return CommandError(message, f"`{shown(word)}` is an environment of {', '.join(other)}. {try_hint(verb)}")
    return CommandError(message, f"Environments: {_env_list(context, app)}. {try_hint(verb)}")


def _unknown_app(word: str, context: GrammarContext, verb: str) -> CommandError:
    near = did_you_mean(word, list(context.apps))
    apps = ", ".join(f"`{a}`" for a in context.apps)
    hint = f"did you mean `{near}`? " if near else f"Apps: {apps}. "
    return CommandError(f"unknown app `{shown(word)}`", hint + try_hint(verb))


def _which_app(environment: str, apps: Sequence[str], verb: str, example: str) -> CommandError:
    names = ", ".join(f"`{a}`" for a in apps)
    return CommandError(
        f"which app? `{environment}` is an environment of {names}",
        f"Name the app first, like `{verb} {apps[0]} {example}`. {try_hint(verb)}",
    )


def _pick_one(
    matches: list[tuple[str, str]], word: str, context: GrammarContext, verb: str, example: str
) -> tuple[str, str]:
    if not matches:
        raise _unknown_environment(word, context, None, verb)
    if len(matches) > 1:
        raise _which_app(matches[0][1], [a for a, _ in matches], verb, example)
    return matches[0]


def _checked_ref(ref: str, verb: str) -> str:
    problem = ref_problem(ref)
    if problem:
        hint = "Refs follow git's rules: a branch, tag or commit like `feature/x`, `v1.4.2` or `3f2a9c1`. "
        raise CommandError(f"`{shown(ref)}` is not a ref shipbot accepts: {problem}", hint + try_hint(verb))
    return ref


def _checked_reason(words_: Sequence[str], verb: str) -> str:
    reason = " ".join(words_)
    problem = reason_problem(reason)
    if problem:
        raise CommandError(f"that reason cannot be kept: {problem}", try_hint(verb))
    return reason


def _target(context: GrammarContext, app: str, environment: str, word: str, verb: str) -> str:
    env = context.apps[app].environments[environment]
    found = env.target(word)
    if found:
        return found
    options = [*env.roles, *env.hosts]
    near = did_you_mean(word, options) if word else None
    listed = ", ".join(f"`{o}`" for o in options) or "none"
    hint = f"did you mean `{near}`? " if near else f"Roles and hosts of {environment}: {listed}. "
    raise CommandError(f"{environment} has no role or host `{shown(word)}`", hint + try_hint(verb))


def _locate(
    tokens: list[str], context: GrammarContext, verb: str, *, unique: bool, example: str = "ENV"
) -> tuple[str | None, str | None]:
    """``[APP] ENV`` (or just ``APP`` when ``not unique``) from up to two words."""
    if not tokens:
        return None, None
    if len(tokens) == 1:
        word = tokens[0]
        matches = _env_matches(word, context, None)
        if matches:
            if len(matches) == 1:
                return matches[0]
            if unique:
                raise _which_app(matches[0][1], [a for a, _ in matches], verb, example)
            return None, matches[0][1]
        app = context.app(word)
        if app and not unique and len(context.apps) > 1:
            return app, None
        near_app = did_you_mean(word, list(context.apps)) if len(context.apps) > 1 else None
        if near_app and not did_you_mean(word, _all_env_words(context)):
            raise _unknown_app(word, context, verb)
        raise _unknown_environment(word, context, None, verb)
    if len(tokens) == 2:
        app = context.app(tokens[0])
        if app is None:
            if len(context.apps) == 1:
                raise CommandError(f"too many words for `{verb}`", try_hint(verb))
            raise _unknown_app(tokens[0], context, verb)
        env = context.apps[app].environment(tokens[1])
        if env is None:
            raise _unknown_environment(tokens[1], context, app, verb)
        return app, env
    raise CommandError(f"too many words for `{verb}`", try_hint(verb))


# ---------------------------------------------------------------------------------------------------- deploy


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
        raise _unknown_app(rest[0], context, "deploy")
    raise CommandError("too many words for `deploy`", try_hint("deploy"))


def _deploy(args: list[str], context: GrammarContext, force: bool = False) -> Deploy:
    verb = "deploy!" if force else "deploy"
    for arg in args:
        if arg.lower() in FORCE_FLAGS - {"force"}:
            raise CommandError("`deploy` has no --force flag", f"Force with `deploy!`: {syntax('deploy!')}")
    if not args:
        raise CommandError("deploy what, where?", f"Environments: {_env_list(context)}. {try_hint(verb)}")
    last = args[-1]
    rest = args[:-1]
    if last.lower() in PREPOSITIONS:
        what = f" `{shown(rest[-1])}`" if rest else ""
        raise CommandError(f"deploy{what} {last.lower()} where?", f"Environments: {_env_list(context)}.")
    env_word, slash, target_word = last.partition("/")
    had_preposition = bool(rest) and rest[-1].lower() in PREPOSITIONS
    if had_preposition:
        rest = rest[:-1]
    if len(rest) > 2 and not _env_matches(env_word, context, None):
        raise _unknown_environment(env_word, context, None, verb)
    app, ref = _split_app_ref(rest, context)
    if ref is not None:
        _checked_ref(ref, verb)
    matches = _env_matches(env_word, context, app)
    if not matches:
        lone = not rest and not had_preposition
        if lone and not did_you_mean(env_word, _all_env_words(context)) and ref_problem(last) is None:
            names = sorted({e for v in context.apps.values() for e in v.environments})
            first_env = "staging" if "staging" in names else names[0]
            raise CommandError(
                f"deploy `{shown(last)}` where?",
                f"Name the environment, like `deploy {shown(last)} to {first_env}`. "
                f"Environments: {_env_list(context)}.",
            )
        if app is None and ref and len(context.apps) > 1:
            prefix = re.split(r"[@/]", ref, maxsplit=1)[0]
            near_app = did_you_mean(prefix, list(context.apps))
            if near_app and prefix.lower() != near_app.lower() and ("@" in ref or "/" in ref):
                raise _unknown_app(prefix, context, verb)
        raise _unknown_environment(env_word, context, app, verb)
    if len(matches) > 1:
        if ref:
            prefix = re.split(r"[@/]", ref, maxsplit=1)[0]
            near_app = did_you_mean(prefix, list(context.apps))
            if near_app and ("@" in ref or "/" in ref):
                raise _unknown_app(prefix, context, verb)
        owners = [a for a, _ in matches]
        listed = ", ".join(f"`{a}`" for a in owners)
        env_name = matches[0][1]
        example = f"{verb} {owners[0]}@{ref} to {env_name}" if ref else f"{verb} {owners[0]} to {env_name}"
        raise CommandError(
            f"which app? `{env_name}` is an environment of {listed}",
            f"Name the app, like `{example}`. {try_hint(verb)}",
        )
    app, environment = matches[0]
    target = _target(context, app, environment, target_word, verb) if slash else None
    env_vocab = context.apps[app].environments[environment]
    if ref is None:
        return Deploy(app, environment, env_vocab.default_ref, target, force, default_ref=True)
    return Deploy(app, environment, _checked_ref(ref, verb), target, force)


# ---------------------------------------------------------------------------------------------------- others


def _rollback(args: list[str], context: GrammarContext) -> Rollback:
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
    app, environment = _locate(args, context, "rollback", unique=True)
    if app is None or environment is None:
        raise CommandError(
            "roll back which environment?", f"Environments: {_env_list(context)}. " + try_hint("rollback")
        )
    return Rollback(app, environment, to)


def _cancel(args: list[str], context: GrammarContext) -> Cancel:
    if not args:
        return Cancel()
    if len(args) == 1:
        word = args[0]
        matches = _env_matches(word, context, None)
        if len(matches) == 1:
            return Cancel(app=matches[0][0], environment=matches[0][1])
        if matches:
            return Cancel(environment=matches[0][1])
        lowered = word.lower()
        near_env = did_you_mean(word, _all_env_words(context))
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
    app, environment = _locate(args, context, "cancel", unique=True)
    return Cancel(app=app, environment=environment)


def _status(args: list[str], context: GrammarContext) -> Status:
    app, environment = _locate(args, context, "status", unique=False)
    return Status(app, environment)


def _history(args: list[str], context: GrammarContext) -> History:
    limit = 10
    if args and args[-1].isdecimal() and args[-1].isascii():
        limit = int(args[-1][:6])
        args = args[:-1]
        if not 1 <= limit <= MAX_HISTORY:
            raise CommandError(f"history shows 1 to {MAX_HISTORY} runs", try_hint("history"))
    app, environment = _locate(args, context, "history", unique=False)
    return History(app, environment, limit)


def _lock(args: list[str], context: GrammarContext) -> Lock:
    if not args:
        raise CommandError("lock which environment?", f"Environments: {_env_list(context)}. " + try_hint("lock"))
    if len(args) >= 2 and context.app(args[0]) and context.apps[context.app(args[0]) or ""].environment(args[1]):
        place, reason = args[:2], args[2:]
    else:
        place, reason = args[:1], args[1:]
    place = [*place[:-1], place[-1].removesuffix(":")]
    app, environment = _locate(place, context, "lock", unique=True)
    if app is None or environment is None:
        raise CommandError("lock which environment?", try_hint("lock"))
    if reason and reason[0].lower() in ("for", "because", "-", ":", "\u2014"):
        reason = reason[1:]
    return Lock(app, environment, _checked_reason(reason, "lock"))


def _unlock(args: list[str], context: GrammarContext) -> Unlock:
    force = any(a.lower() in FORCE_FLAGS for a in args)
    place = [a for a in args if a.lower() not in FORCE_FLAGS]
    if not place:
        raise CommandError("unlock which environment?", try_hint("unlock"))
    app, environment = _locate(place, context, "unlock", unique=True)
    if app is None or environment is None:
        raise CommandError("unlock which environment?", try_hint("unlock"))
    return Unlock(app, environment, force)


def _where(args: list[str], context: GrammarContext) -> WhereCanIDeploy:
    rest = list(args)
    for expected in ("can", "i", "deploy"):
        if rest and rest[0].lower() == expected:
            rest = rest[1:]
    if rest and rest[0].lower() == "to":
        rest = rest[1:]
    if not rest:
        return WhereCanIDeploy()
    if len(rest) == 1:
        app = context.app(rest[0])
        if app:
            return WhereCanIDeploy(app)
        raise _unknown_app(rest[0], context, "where")
    raise CommandError("too many words for `where can I deploy`", try_hint("where"))


def _run(args: list[str], context: GrammarContext) -> RunTask:
    if len(args) < 2:
        raise CommandError("run which task, where?", _tasks_hint(context, None))
    env_word, slash, target_word = args[-1].partition("/")
    rest = args[:-1]
    if rest and rest[-1].lower() in PREPOSITIONS:
        rest = rest[:-1]
    if len(rest) == 2:
        app = context.app(rest[0])
        if app is None:
            raise _unknown_app(rest[0], context, "run")
        task_word = rest[1]
    elif len(rest) == 1:
        app, task_word = None, rest[0]
    else:
        raise CommandError("run which task, where?", _tasks_hint(context, None))
    matches = _env_matches(env_word, context, app)
    if not matches:
        raise _unknown_environment(env_word, context, app, "run")
    with_task = [(a, e) for a, e in matches if _task(context.apps[a], task_word)]
    if not with_task:
        apps = [a for a, _ in matches]
        tasks = [t for a in apps for t in context.apps[a].tasks]
        near = did_you_mean(task_word, tasks)
        hint = f"did you mean `{near}`? " + try_hint("run") if near else _tasks_hint(context, apps)
        raise CommandError(f"unknown task `{shown(task_word)}`", hint)
    if len(with_task) > 1:
        raise _which_app(with_task[0][1], [a for a, _ in with_task], "run", f"TASK on {with_task[0][1]}")
    app, environment = with_task[0]
    task = _task(context.apps[app], task_word) or task_word
    target = _target(context, app, environment, target_word, "run") if slash else None
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


def _run_id(args: list[str], verb: str) -> str:
    if not args:
        raise CommandError(f"{verb} which run?", "The run id is in the message asking for approval. " + try_hint(verb))
    run_id = args[0].lower()
    if not RUN_ID.fullmatch(run_id):
        raise CommandError(f"`{shown(args[0])}` is not a run id", try_hint(verb))
    return run_id


def _approve(args: list[str], context: GrammarContext) -> Approve:
    run_id = _run_id(args, "approve")
    if len(args) > 1:
        raise CommandError("`approve` takes only the run id", try_hint("approve"))
    return Approve(run_id)


def _reject(args: list[str], context: GrammarContext) -> Reject:
    run_id = _run_id(args, "reject")
    reason = args[1:]
    if reason and reason[0].lower() in ("for", "because", "-", ":", "\u2014"):
        reason = reason[1:]
    return Reject(run_id, _checked_reason(reason, "reject"))


def _help(args: list[str], context: GrammarContext) -> Help:
    if not args:
        return Help()
    word = args[0].lower()
    if word in SYNTAX:
        return Help(word)
    if word in COMMAND_WORDS:
        return Help(COMMAND_WORDS[word])
    if word == "roll":
        return Help("rollback")
    near = did_you_mean(word, list(SYNTAX))
    hint = f"did you mean `help {near}`?" if near else "`help` lists the commands."
    raise CommandError(f"there is no command `{shown(args[0])}`", hint)


_PARSERS: dict[str, Parser] = {
    "deploy": _deploy,
    "rollback": _rollback,
    "cancel": _cancel,
    "status": _status,
    "history": _history,
    "lock": _lock,
    "unlock": _unlock,
    "where": _where,
    "environments": _where,
    "envs": _where,
    "run": _run,
    "approve": _approve,
    "reject": _reject,
    "help": _help,
}


def _unknown_command(tokens: list[str], context: GrammarContext) -> CommandError:
    word = tokens[0]
    candidates = [w for w in SYNTAX if w != "deploy!"]
    bare = word.lower().rstrip("!")
    near = did_you_mean(bare, candidates)
    if near:
        attempt = [near + ("!" if word.endswith("!") and near == "deploy" else ""), *tokens[1:]]
        try:
            _parse_tokens(attempt, context)
        except CommandError:
            return CommandError(f"I don't know the command `{shown(word)}`", f"did you mean `{near}`? {try_hint(near)}")
        return CommandError(f"I don't know the command `{shown(word)}`", f"did you mean `{shown(' '.join(attempt))}`?")
    try:
        _deploy(tokens, context)
    except CommandError:
        pass
    else:
        return CommandError(
            f"I don't know the command `{shown(word)}`", f"did you mean `deploy {shown(' '.join(tokens))}`?"
        )
    nearest = "help" if bare in GREETINGS else closest(bare, candidates) or "help"
    return CommandError(
        f"I don't know the command `{shown(word)}`",
        f"The closest command is {syntax(nearest)}; `help` lists what you may do.",
    )
