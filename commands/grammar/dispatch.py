"""From message text to the parser of its first word, and the answer to a word that is no command (pure).

:func:`commands.tokens.words` turns Slack text into plain words; a message with only the bot mention is
``help``. The first word picks a parser from :data:`PARSERS` (case-insensitive); ``roll back``, ``deploy!``,
``rollback!`` and hubot-deploy's ``deploy:TASK`` are read here too. A second-factor code at the end is refused
before any parser sees it (:func:`commands.grammar.checks.refuse_second_factor`).

Slash commands: Slack sends ``/deploy main to staging`` as the command ``/deploy`` and the text
``main to staging``. With ``slash=True`` (or text that itself starts with ``/deploy``) empty text is ``help``,
text that starts with a command word is that command (``status staging``, ``help``, ``rollback prod``), and
anything else is a deploy (``main to staging``, ``! main to production``), unless the first word is a near miss
of a command word (``stauts``): then the answer is the near miss, and how to deploy a ref of that name.

An unknown word gets "did you mean ...?" when it is a near miss (the whole message retried with the near word),
a ``deploy`` suggestion when the words read as one, otherwise the closest command and its syntax.
"""

from __future__ import annotations

from collections.abc import Callable

from commands.command import Command, Help
from commands.errors import CommandError
from commands.grammar.checks import refuse_second_factor
from commands.grammar.control import parse_approve, parse_cancel, parse_lock, parse_reject, parse_unlock
from commands.grammar.deploys import parse_converge, parse_deploy, parse_plan, parse_rollback
from commands.grammar.flags import parse_flag, parse_flags
from commands.grammar.preview_words import parse_preview, parse_previews, parse_teardown
from commands.grammar.read_words import parse_deploys, parse_help, parse_history, parse_status, parse_where
from commands.grammar.tasks import TASK_PREFIX, parse_deploy_task, parse_run
from commands.help_text import SYNTAX, syntax, try_hint
from commands.suggest import closest, did_you_mean, shown
from commands.tokens import words
from commands.vocabulary import GrammarContext

GREETINGS = frozenset({"hi", "hello", "hey", "hallo", "yo", "thanks", "thx", "ty", "morning", "ping"})

Parser = Callable[[list[str], GrammarContext], Command]

PARSERS: dict[str, Parser] = {
    "deploy": parse_deploy,
    "plan": parse_plan,
    "rollback": parse_rollback,
    "converge": parse_converge,
    "cancel": parse_cancel,
    "status": parse_status,
    "history": parse_history,
    "deploys": parse_deploys,
    "lock": parse_lock,
    "unlock": parse_unlock,
    "where": parse_where,
    "environments": parse_where,
    "envs": parse_where,
    "run": parse_run,
    "approve": parse_approve,
    "reject": parse_reject,
    "help": parse_help,
    "preview": parse_preview,
    "teardown": parse_teardown,
    "previews": parse_previews,
    "flags": parse_flags,
    "flag": parse_flag,
}
_FORCED = {"deploy!": "deploy", "rollback!": "rollback"}
_COMMANDS = [w for w in SYNTAX if w not in _FORCED and w != "flag!"]


def parse(text: str, context: GrammarContext, *, slash: bool = False) -> Command:
    """Read one message addressed to the bot; raises :class:`CommandError` with a hint when it is not a command.

    ``slash`` says ``text`` is what followed the ``/deploy`` slash command, as Slack sends it.
    """
    message = words(text, context.bot_user_id)
    tokens = list(message.words)
    if not tokens:
        return Help()
    if (slash or message.slash) and not is_command_word(tokens[0]):
        return _slash_deploy(tokens, context)
    return parse_tokens(tokens, context)


def is_command_word(word: str) -> bool:
    """Does ``word`` start a command of its own (rather than a deploy's ref, after ``/deploy``)?"""
    head = word.lower()
    return head in PARSERS or head in _FORCED or head in ("roll", "flag!") or head.startswith(TASK_PREFIX)


def parse_tokens(tokens: list[str], context: GrammarContext) -> Command:
    refuse_second_factor(tokens)
    head, args = tokens[0].lower(), tokens[1:]
    if head == "roll" and args and args[0].lower() == "back":
        return parse_rollback(args[1:], context)
    if head in _FORCED or (head in _FORCED.values() and args[:1] == ["!"]):
        forced = args if head in _FORCED else args[1:]
        if _FORCED.get(head, head) == "deploy":
            return parse_deploy(forced, context, force=True)
        return parse_rollback(forced, context, force=True)
    if head == "flag!" or (head == "flag" and args[:1] == ["!"]):
        return parse_flag(args if head == "flag!" else args[1:], context, force=True)
    if head.startswith(TASK_PREFIX):
        return parse_deploy_task(head, args, context)
    parser = PARSERS.get(head)
    if parser is None:
        raise _unknown_command(tokens, context)
    return parser(args, context)


def _slash_deploy(tokens: list[str], context: GrammarContext) -> Command:
    """What follows ``/deploy`` when it is not a command word: a deploy, unless the first word is a near miss of
    a command word (a deploy is a change, so a typo of ``status`` must not ship a branch of that name)."""
    if did_you_mean(tokens[0].lower().rstrip("!"), _COMMANDS):
        near = _unknown_command(tokens, context)
        deploy = f"deploy {' '.join(tokens)}"
        raise CommandError(near.message, f"{near.hint} To deploy a ref of that name: `{shown(deploy)}`.")
    return parse_tokens(["deploy", *tokens], context)


def _unknown_command(tokens: list[str], context: GrammarContext) -> CommandError:
    word = tokens[0]
    bare = word.lower().rstrip("!")
    near = did_you_mean(bare, _COMMANDS)
    if near:
        attempt = [near + ("!" if word.endswith("!") and near + "!" in _FORCED else ""), *tokens[1:]]
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
    nearest = "help" if bare in GREETINGS else closest(bare, _COMMANDS) or "help"
    return CommandError(
        f"I don't know the command `{shown(word)}`",
        f"The closest command is {syntax(nearest)}; `help` lists what you may do.",
    )
