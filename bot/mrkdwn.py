"""Escaping for Slack mrkdwn: every string that came from a person or a host goes through here (pure)."""

from __future__ import annotations

import re

PERSON = re.compile("\ue000([UW][A-Z0-9]+)\ue001")  # a person to be named, see :func:`user`
# a Slack user id standing alone in a sentence: U or W, then capitals and digits, at least one digit
_BARE_ID = re.compile(r"(?<![\w@`/.-])[UW](?=[A-Z]*[0-9])[A-Z0-9]{3,}(?![\w`/.-])")


def esc(text: str) -> str:
    """Escape ``&``, ``<`` and ``>`` so user text cannot become a mention, a broadcast or a link."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def code(text: str) -> str:
    """Inline code; backticks in the text are replaced so they cannot close it."""
    inner = esc(text).replace("`", "'")
    return f"`{inner}`"


def code_block(text: str, limit: int = 2800) -> str:
    """A fenced block of at most ``limit`` characters (the tail, where errors are)."""
    body = esc(text).replace("```", "'''")
    if len(body) > limit:
        body = "…" + body[-limit:]
    return f"```{body}```" if body.strip() else "_(no output)_"


def _is_user_id(user_id: str) -> bool:
    return user_id[:1] in ("U", "W") and user_id.isalnum() and user_id.isupper()


def user(user_id: str) -> str:
    """A person, shown by name: a marker that :class:`bot.people.NamingWebClient` turns into their display name
    when the message is sent (no notification). Anything that is not a Slack user id is shown as it is."""
    return f"\ue000{user_id}\ue001" if _is_user_id(user_id) else esc(user_id)


def mention(user_id: str) -> str:
    """A mention, which notifies the person: only for those who should hear (approvers asked, the requester of
    a run that ended)."""
    return f"<@{user_id}>" if _is_user_id(user_id) else esc(user_id)


def people_in(text: str) -> str:
    """Escaped text that names people by bare user id (``locked by U0ALICE``) with each id shown by name."""
    return _BARE_ID.sub(lambda m: user(m.group(0)), text)


def truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
