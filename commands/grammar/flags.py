"""Feature flags in chat and on the command line: ``flags`` and ``flag`` (pure).

::

    flags [[APP] ENV]                              every flag with its state, ramp, allow list, last change, hosts
    flag NAME                                      that flag in every environment
    flag[!] on NAME [for KEY,KEY] in [APP] ENV     on for everyone, or for those targeting keys
    flag off NAME in [APP] ENV                     the kill switch: off for everyone
    flag[!] NAME to 10% in [APP] ENV               a ramp: 0-100, ``10`` or ``10%``, one decimal at most
    flag NAME drop KEY,KEY in [APP] ENV            remove keys from the allow list
    flag history NAME [in [APP] ENV]               the flag's changes, newest first
    flag[!] revert NAME in [APP] ENV               back to the definition before its last change

A change may end with ``because REASON`` (kept in the history). Keys are plain tokens separated by commas (and
spaces); Slack markup never reaches here (:mod:`commands.tokens` refuses it). ``on``, ``off``, ``to``, ``for``,
``drop``, ``history``, ``revert`` and ``in`` are reserved: no flag may be named so. Whether a flag exists is the
service's question (it knows the store): the grammar checks only the shape of the name.
"""

from __future__ import annotations

from commands.command import ChangeFlag, Command, FlagHistory, ListFlags, ShowFlag
from commands.errors import CommandError
from commands.grammar.checks import checked_reason
from commands.grammar.places import locate
from commands.help_text import try_hint
from commands.suggest import shown
from commands.vocabulary import GrammarContext
from deploy.flags.flag_defs import FULL, KEY, KEY_RULE, RESERVED, name_problem, parse_percent

_ACTIONS = ("on", "off", "history", "revert")


def parse_flags(args: list[str], context: GrammarContext) -> ListFlags:
    if not args:
        return ListFlags()
    place = args[1:] if args[0].lower() == "in" else args
    app, environment = locate(place, context, "flags", unique=False)
    return ListFlags(app, environment)


def parse_flag(args: list[str], context: GrammarContext, *, force: bool = False) -> Command:
    if not args:
        raise CommandError("`flag` needs a flag name", try_hint("flag"))
    head = args[0].lower()
    if head in _ACTIONS:
        if len(args) < 2:
            raise CommandError(f"`flag {head}` needs a flag name", try_hint("flag"))
        name = checked_name(args[1])
        rest = args[2:]
        if head == "history":
            app, environment = _place(rest, context, required=False)
            return FlagHistory(name, app, environment)
        if head == "on":
            keys: tuple[str, ...] = ()
            if rest and rest[0].lower() == "for":
                keys, rest = _keys(rest[1:])
            app, environment, reason = _change_place(rest, context)
            if keys:
                return ChangeFlag("allow", name, app, environment, keys=keys, force=force, reason=reason)
            return ChangeFlag("on", name, app, environment, tenths=FULL, force=force, reason=reason)
        app, environment, reason = _change_place(rest, context)
        return ChangeFlag(head, name, app, environment, tenths=0 if head == "off" else None, force=force, reason=reason)
    name = checked_name(args[0])
    rest = args[1:]
    if not rest:
        return ShowFlag(name)
    verb = rest[0].lower()
    if verb == "to" and len(rest) >= 2:
        tenths = parse_percent(rest[1])
        if tenths is None:
            raise CommandError(
                f"`{shown(rest[1])}` is not a percentage from 0 to 100 with at most one decimal",
                "Like `10`, `10%` or `0.5%`. " + try_hint("flag"),
            )
        app, environment, reason = _change_place(rest[2:], context)
        return ChangeFlag("ramp", name, app, environment, tenths=tenths, force=force, reason=reason)
    if verb == "drop" and len(rest) >= 2:
        keys, rest = _keys(rest[1:])
        app, environment, reason = _change_place(rest, context)
        return ChangeFlag("drop", name, app, environment, keys=keys, force=force, reason=reason)
    raise CommandError(f"I can't read `flag {shown(' '.join(args))}`", try_hint("flag"))


def checked_name(word: str) -> str:
    problem = name_problem(word)
    if problem is not None:
        raise CommandError(f"`{shown(word)}` is not a flag name: {problem}", try_hint("flag"))
    return word


def _keys(words: list[str]) -> tuple[tuple[str, ...], list[str]]:
    """Targeting keys up to ``in``: ``U1,U2``, ``U1, U2`` or ``U1 U2``."""
    taken: list[str] = []
    i = 0
    while i < len(words) and words[i].lower() != "in":
        taken.extend(part for part in words[i].split(",") if part)
        i += 1
    if not taken:
        raise CommandError("which targeting keys?", "Like `U123,U456`. " + try_hint("flag"))
    for key in taken:
        if not KEY.fullmatch(key) or key.lower() in RESERVED:
            raise CommandError(f"`{shown(key)}` is not a targeting key: {KEY_RULE}", try_hint("flag"))
    return tuple(dict.fromkeys(taken)), words[i:]


def _place(words: list[str], context: GrammarContext, *, required: bool) -> tuple[str | None, str | None]:
    if not words:
        if required:
            raise CommandError("in which environment?", "Name it with `in ENV`. " + try_hint("flag"))
        return None, None
    if words[0].lower() != "in":
        raise CommandError(f"expected `in ENV`, not `{shown(' '.join(words))}`", try_hint("flag"))
    if len(words) == 1:
        raise CommandError("in which environment?", try_hint("flag"))
    return locate(words[1:], context, "flag", unique=True)


def _change_place(words: list[str], context: GrammarContext) -> tuple[str, str, str]:
    """``in [APP] ENV [because REASON]``."""
    cut = next((i for i, w in enumerate(words) if w.lower() in ("because", "--", "-")), len(words))
    reason = checked_reason(words[cut:], "flag") if cut < len(words) else ""
    app, environment = _place(words[:cut], context, required=True)
    if app is None or environment is None:
        raise CommandError("in which environment?", try_hint("flag"))
    return app, environment, reason
