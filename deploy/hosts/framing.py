"""Markers around the sections of a host's output that no input can contain (pure).

A command that prints several things in one session (the first exec's bookkeeping preamble, the release listing,
a probe after a kill) separates them with marker lines. What sits between the markers is not shipbot's to choose:
journal lines carry the user who deployed and a commit author's name, a REVISION file or a folder name is whatever
the host holds. So every marker carries a :class:`Frame`'s nonce: 128 random bits drawn for the run, never written
to a journal, a release or a chat message, which nothing on a host or in a commit can hold before the run starts.

Markers are whole lines (``shipbot-<what>-<nonce>``); a parser matches a line equal to the marker, never a
substring, and a section whose end marker is missing is not whole (the parser says so instead of guessing).
:func:`of` recovers the frame a command was built with, so the code that sent a command parses its output with
the same nonce without carrying it separately.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

_NONCE = re.compile(r"[0-9a-f]{32}")
_IN_COMMAND = re.compile(r"shipbot-preamble-([0-9a-f]{32})\b")


@dataclass(frozen=True)
class Frame:
    """One run's markers. Build with :func:`new`; ``nonce`` is 32 lowercase hex digits."""

    nonce: str

    def __post_init__(self) -> None:
        if not _NONCE.fullmatch(self.nonce):
            raise ValueError("a frame's nonce is 32 lowercase hex digits")

    def marker(self, what: str) -> str:
        """The marker line for ``what`` (``preamble``, ``preamble-end``, ``listing``, ``journal``, ...)."""
        return f"shipbot-{what}-{self.nonce}"

    @property
    def preamble_start(self) -> str:
        return f"shipbot-preamble-{self.nonce}"

    @property
    def preamble_end(self) -> str:
        return self.marker("preamble-end")

    @property
    def section(self) -> str:
        return self.marker("section")


def new() -> Frame:
    """A frame with a fresh random nonce."""
    return Frame(secrets.token_hex(16))


def of(command: str) -> Frame | None:
    """The frame a preamble command was built with (:func:`deploy.hosts.guarded.prepare`), or None."""
    found = _IN_COMMAND.search(command)
    return Frame(found.group(1)) if found else None


def lines_between(lines: list[str], start: str, end: str) -> list[str] | None:
    """The lines after the last ``start`` line and before the first ``end`` line after it; None when either is
    missing (a section not whole)."""
    starts = [i for i, line in enumerate(lines) if line == start]
    if not starts:
        return None
    at = starts[-1] + 1
    try:
        stop = lines.index(end, at)
    except ValueError:
        return None
    return lines[at:stop]
