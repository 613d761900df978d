"""Redaction of secret values from command output before it is stored, logged or shown (pure)."""

from __future__ import annotations

from collections.abc import Iterable

MASK = "[redacted]"


class Redactor:
    """Replaces every occurrence of each secret (longest first) with ``[redacted]``."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets = sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, MASK)
        return text

    def extend(self, secrets: Iterable[str]) -> Redactor:
        return Redactor([*self._secrets, *secrets])


def tail(text: str, lines: int = 30, chars: int = 4000) -> str:
    """The last ``lines`` lines of ``text``, at most ``chars`` characters."""
    out = "\n".join(text.rstrip("\n").splitlines()[-lines:])
    return out[-chars:]
