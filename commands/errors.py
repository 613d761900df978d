"""The one error the chat grammar raises: :class:`CommandError`, a message plus a hint.

``str(err)`` is the message ("unknown environment `stagin`"); ``err.hint`` is what to type instead ("did you
mean `staging`? Try: `deploy REF to ENV`"). Both are safe to show in Slack as they are: any text echoed from
the user's message has been through :func:`commands.suggest.shown` first.
"""

from __future__ import annotations


class CommandError(Exception):
    """A message addressed to the bot that is not a command shipbot will run, and what to type instead."""

    def __init__(self, message: str, hint: str = "") -> None:
        self.message = message
        self.hint = hint
        super().__init__(message)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CommandError):
            return NotImplemented
        return (self.message, self.hint) == (other.message, other.hint)

    def __hash__(self) -> int:
        return hash((self.message, self.hint))

    def __repr__(self) -> str:
        return f"CommandError({self.message!r}, {self.hint!r})"
