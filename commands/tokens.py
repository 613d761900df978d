"""From raw Slack message text to a list of plain words (pure).

Steps, in order:

1. Refuse text longer than :data:`MAX_LENGTH` characters.
2. Drop zero-width characters and a leading byte-order mark; treat any Unicode space as a space.
3. Strip a leading mention of the bot (``<@BOTID>`` or ``<@BOTID|name>``, then an optional ``:`` or ``,``),
   a leading ``@shipbot`` / ``shipbot`` typed as text, and report a leading ``/deploy``.
4. Find Slack markup: ``<...>`` spans are Slack's own (a literal ``<`` typed by a person reaches us as
   ``&lt;``). None of them is acceptable anywhere in a command: a broadcast (``<!channel>``, ``<!here>``,
   ``<!everyone>``, ``<!subteam^…>``), a mention (``<@U…>``, ``<#C…>``) or a link (``<http…>``, ``<mailto:…>``,
   which Slack makes out of anything that looks like a domain or an email) is refused with a reason naming its
   kind, never passed on and never echoed.
5. Decode Slack's three escapes (``&lt;`` ``&gt;`` ``&amp;``) in a single pass.
6. Replace backticks (code formatting around a ref) with spaces, strip a trailing ``?``, split on whitespace.

The words keep their case: command words, environments, apps and tasks are compared case-insensitively by the
grammar, refs are case-sensitive.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from commands.errors import CommandError
from commands.suggest import shown

MAX_LENGTH = 1000
_ZERO_WIDTH = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"))
_MARKUP = re.compile(r"<([^<>]*)>")
_ESCAPES = re.compile(r"&(lt|gt|amp);")
_ESCAPED = {"lt": "<", "gt": ">", "amp": "&"}
_LEADING_NAME = re.compile(r"@?shipbot\b[:,]?", re.IGNORECASE)
_SYNTAX_HINT = "Type the command as words, like `deploy main to staging`; `help` lists the commands."


@dataclass(frozen=True)
class Words:
    """The plain words of a message; ``slash`` when it started with ``/deploy``."""

    words: tuple[str, ...]
    slash: bool = False


def _markup_error(inner: str) -> CommandError:
    body = inner.split("|", 1)
    target = body[0]
    label = body[1] if len(body) > 1 else ""
    if target.startswith("!"):
        name = target[1:].split("^", 1)[0].split("|", 1)[0]
        kind = {"channel": "@channel", "here": "@here", "everyone": "@everyone", "subteam": "a group mention"}
        what = kind.get(name, "a Slack special mention")
        return CommandError(
            f"your message contains a Slack broadcast ({what}); shipbot never passes one on",
            "Remove it and ask again. " + _SYNTAX_HINT,
        )
    if target.startswith("@"):
        return CommandError(
            "a mention of a person is not something shipbot accepts in a command",
            "Name environments, refs and run ids as plain words. " + _SYNTAX_HINT,
        )
    if target.startswith("#"):
        return CommandError(
            "a channel link is not something shipbot accepts in a command",
            "shipbot knows the channel you write in. " + _SYNTAX_HINT,
        )
    if target.lower().startswith(("http:", "https:", "mailto:")):
        text = label or target.split(":", 1)[1].lstrip("/")
        return CommandError(
            f"Slack turned `{shown(text)}` into a link; shipbot does not take a link where a ref belongs",
            "Put the ref in backticks so Slack leaves it alone, like `deploy `v1.2.3` to staging`.",
        )
    return CommandError("your message contains Slack formatting shipbot cannot read as a command", _SYNTAX_HINT)


def _strip_bot_mention(text: str, bot_user_id: str | None) -> str:
    stripped = text.lstrip()
    if bot_user_id:
        match = re.match(r"<@" + re.escape(bot_user_id) + r"(\|[^<>]*)?>\s*[:,]?", stripped)
        if match:
            return stripped[match.end() :]
    match = _LEADING_NAME.match(stripped)
    if match:
        return stripped[match.end() :]
    return stripped


def words(text: str, bot_user_id: str | None = None) -> Words:
    """The words of ``text``; raises :class:`CommandError` for too long input and for any Slack markup."""
    if len(text) > MAX_LENGTH:
        raise CommandError(
            f"that message is too long for a command ({len(text)} characters; the limit is {MAX_LENGTH})",
            "Commands are short, like `deploy main to staging`.",
        )
    cleaned = text.translate(_ZERO_WIDTH)
    cleaned = "".join(" " if ch.isspace() else ch for ch in cleaned)
    cleaned = _strip_bot_mention(cleaned, bot_user_id)
    markup = _MARKUP.search(cleaned)
    if markup:
        raise _markup_error(markup.group(1))
    cleaned = _ESCAPES.sub(lambda m: _ESCAPED[m.group(1)], cleaned)
    cleaned = cleaned.replace("`", " ").strip()
    cleaned = cleaned.removesuffix("?").strip()
    parts = cleaned.split()
    slash = bool(parts) and parts[0].lower() == "/deploy"
    if slash:
        parts = parts[1:]
    return Words(tuple(parts), slash)
