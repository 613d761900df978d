"""Escaping for Slack mrkdwn: every string that came from a person or a host goes through here (pure)."""

from __future__ import annotations


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


def user(user_id: str) -> str:
    """A mention of a user by immutable id (only ids that look like Slack user ids)."""
    if user_id[:1] in ("U", "W") and user_id.isalnum():
        return f"<@{user_id}>"
    return esc(user_id)


def truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
