"""From message text to the parser of its first word, and the answer to a word that is no command (pure).

:func:`commands.tokens.words` turns Slack text into plain words; a message with only the bot mention is
``help``; a slash command without a command word is a ``deploy``. The first word picks a parser from
:data:`PARSERS` (case-insensitive). An unknown word gets "did you mean ...?" when it is a near miss (the whole
message retried with the near word), a ``deploy`` suggestion when the words read as one, otherwise the closest
command and its syntax.
"""

from __future__ import annotations

from collections.abc import Callable

from commands.command import Command, Help
from commands.errors import CommandError
from commands.grammar.control import parse_approve, parse_cancel, parse_lock, parse_reject, parse_unlock
from commands.grammar.deploys import parse_deploy, parse_rollback, parse_run
from commands.grammar.reads import parse_help, parse_history, parse_status, parse_where
from commands.help_text import SYNTAX, syntax, try_hint
from commands.suggest import closest, did_you_mean, shown
from commands.tokens import words
from commands.vocabulary import GrammarContext

GREETINGS = frozenset({"hi", "hello", "hey", "hallo", "yo", "thanks", "thx", "ty", "morning", "ping"})

Parser = Callable[[list[str], GrammarContext], Command]

PARSERS: dict[str, Parser] = {
    "deploy": parse_deploy,
    "rollback": parse_rollback,
    "cancel": parse_cancel,
    "status": parse_status,
    "history": parse_history,
    "lock": parse_lock,
    "unlock": parse_unlock,
    "where": parse_where,
    "environments": parse_where,
    "envs": parse_where,
    "run": parse_run,
    "approve": parse_approve,
    "reject": parse_reject,
    "help": parse_help,
}


def parse(text: str, context: GrammarContext) -> Command:
    """Read one message addressed to the bot; raises :class:`CommandError` with a hint when it is not a command."""
    message = words(text, context.bot_user_id)
    tokens = list(message.words)
    if not tokens:
        return Help()
    head = tokens[0].lower()
    if message.slash and head not in PARSERS and head not in ("roll", "deploy!"):
        tokens = ["deploy", *tokens]
    return parse_tokens(tokens, context)


def parse_tokens(tokens: list[str], context: GrammarContext) -> Command:
    head, args = tokens[0].lower(), tokens[1:]
    if head == "roll" and args and args[0].lower() == "back":
        return parse_rollback(args[1:], context)
    if head == "deploy!" or (head == "deploy" and args[:1] == ["!"]):
        return parse_deploy(args[1:] if head == "deploy" else args, context, force=True)
    parser = PARSERS.get(head)
    if parser is None:
        raise _unknown_command(tokens, context)
    return parser(args, context)


def _unknown_command(tokens: list[str], context: GrammarContext) -> CommandError:
    word = tokens[0]
    candidates = [w for w in SYNTAX if w != "deploy!"]
    bare = word.lower().rstrip("!")
    near = did_you_mean(bare, candidates)
    if near:
        attempt = [near + ("!" if word.endswith("!") and near == "deploy" else ""), *tokens[1:]]
        try:
            parse_tokens(attempt, context)
        except CommandError:
            return CommandError(f"I don't know the command `{shown(word)}`", f"did you mean `{near}`? {try_hint(near)}")
        return CommandError(f"I don't know the command `{shown(word)}`", f"did you mean `{shown(' '.join(attempt))}`?")
    try:
        parse_deploy(tokens, context)
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
