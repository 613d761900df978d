"""The words that only read: ``status``, ``history``, ``where can I deploy`` and ``help`` (pure).

``deploys APP [in ENV] [N]`` is hubot-deploy's word for ``history``; its ``APP/BRANCH`` filter is refused, since
the history lists every ref.
"""

from __future__ import annotations

from commands.command import Help, History, Status, WhereCanIDeploy
from commands.errors import CommandError
from commands.grammar.checks import PREPOSITIONS
from commands.grammar.places import locate, unknown_app
from commands.help_text import COMMAND_WORDS, SYNTAX, try_hint
from commands.suggest import did_you_mean, shown
from commands.vocabulary import GrammarContext

MAX_HISTORY = 100


def parse_status(args: list[str], context: GrammarContext) -> Status:
    app, environment = locate(args, context, "status", unique=False)
    return Status(app, environment)


def parse_history(args: list[str], context: GrammarContext) -> History:
    limit = 10
    if args and args[-1].isdecimal() and args[-1].isascii():
        limit = int(args[-1][:6])
        args = args[:-1]
        if not 1 <= limit <= MAX_HISTORY:
            raise CommandError(f"history shows 1 to {MAX_HISTORY} runs", try_hint("history"))
    app, environment = locate(args, context, "history", unique=False)
    return History(app, environment, limit)


def parse_deploys(args: list[str], context: GrammarContext) -> History:
    """hubot-deploy's ``deploys APP [in ENV]``: the history, of one app when it is named."""
    app = context.app(args[0].partition("/")[0]) if args else None
    if app is not None and "/" in args[0]:
        raise CommandError(
            "the history lists every ref; it cannot be limited to one branch",
            f"Leave out `/{shown(args[0].partition('/')[2])}`, like `deploys {app} in ENV`. {try_hint('history')}",
        )
    words = [word for word in args if word.lower() not in PREPOSITIONS]
    if app is not None and context.single_app is not None:
        found = parse_history(words[1:], context)
        return History(app, found.environment, found.limit)
    return parse_history(words, context)


def parse_where(args: list[str], context: GrammarContext) -> WhereCanIDeploy:
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
        raise unknown_app(rest[0], context, "where")
    raise CommandError("too many words for `where can I deploy`", try_hint("where"))


def parse_help(args: list[str], context: GrammarContext) -> Help:
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
