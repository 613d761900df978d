"""Several steps of a host in one SSH session (pure): the command, and what its output says, step by step.

A happy deploy used to open one session per step (the first exec, each build command, switch, restart,
healthcheck, the last exec). Each session is a channel, an sshd session process and a login shell on the host,
and one round trip: on 500 hosts, most of what a deploy costs beyond the handshakes. A chain runs its
:class:`Link` s one after another in one session and says where each begins and ends, so the runner still
reports, records and times every step on its own::

    echo shipbot-step-<nonce> 0; ( STEP 0 ); s=$?; printf '\\n%s %s\\n' shipbot-end-<nonce> "$s"
    [ "$s" = 0 ] || exit "$s"; echo shipbot-step-<nonce> 1; ( STEP 1 ) </dev/null; ...

- Standard error goes to standard output on the host: sshd reads the two from separate pipes, so what a step
  printed on standard error could otherwise arrive after the next marker and be taken for the next step's.
- Every step runs in its own subshell (an ``exit`` or a ``cd`` of one never reaches the next), the first one on
  the session's standard input (the release's archive, or the secrets), the others on ``/dev/null``.
- The end marker is preceded by a newline, so it is a line of its own even after output without one; the parser
  takes that newline off again, so a step's output is exactly what it printed.
- The chain stops at the first step that fails, exiting with its status: the later steps never start.
- Markers carry the run's :class:`~deploy.hosts.framing.Frame` nonce, which no step's output can hold.

:class:`Progress` reads the output line by line as it arrives and says which step is running, since when, and
what each finished step printed and exited with; :func:`deploy.hosts.chained.run` kills the
session when the running step exceeds its own timeout, and turns each finished section into that step's result.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from deploy.hosts import framing, remote

_TAIL_CHARS = 64 * 1024  # what is kept of a step's output (people see its tail), as the SSH adapter keeps
WHOLE_CHARS = 16 * 1024 * 1024  # what is kept of a bookkeeping step's output (read whole, as data)


@dataclass(frozen=True)
class Link:
    """One step of a chain: its name (its line in the run's report), command and own timeout."""

    name: str
    command: str
    timeout: float
    whole: bool = False  # keep all its output (a bookkeeping preamble to parse), not only the tail


def command(links: Sequence[Link], frame: framing.Frame) -> str:
    """The one command that runs ``links`` in turn, stopping at the first that fails."""
    start, end = frame.marker("step"), frame.marker("end")
    parts = []
    for i, link in enumerate(links):
        stdin = "" if i == 0 else " </dev/null"
        parts.append(
            f"echo {start} {i}; ( {link.command}\n){stdin}; s=$?; printf '\\n%s %s\\n' {end} \"$s\"; "
            '[ "$s" = 0 ] || exit "$s"'
        )
    return "exec 2>&1; " + "; ".join(parts)


@dataclass
class Section:
    """What one step of a chain did: its output, its exit status once it ended, how long it ran."""

    index: int
    started: float
    lines: list[str] = field(default_factory=list)
    size: int = 0
    exit_status: int | None = None
    ended: float | None = None
    overflow: bool = False

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    @property
    def duration(self) -> float:
        return (self.ended or time.monotonic()) - self.started


class Progress:
    """The output of :func:`command` as it arrives: the step running, and each one's section."""

    def __init__(self, links: Sequence[Link], frame: framing.Frame) -> None:
        self.links = list(links)
        self._start = frame.marker("step") + " "
        self._end = frame.marker("end") + " "
        self.sections: list[Section] = []
        self.before: list[str] = []  # what the login shell printed before the first step (shown with the first)
        self._pending_blank = False  # the newline printed before an end marker is not the step's

    @property
    def running(self) -> Section | None:
        """The step that started and has not ended."""
        last = self.sections[-1] if self.sections else None
        return last if last is not None and last.exit_status is None else None

    def deadline(self) -> float | None:
        """When the running step runs out of its own time (monotonic), or None."""
        now = self.running
        return None if now is None else now.started + self.links[now.index].timeout

    def line(self, text: str) -> Section | None:
        """Take one line of output; the section that just ended, if this line ended one."""
        if text.startswith(self._start) and text[len(self._start) :].isdigit():
            index = int(text[len(self._start) :])
            if index == len(self.sections) and index < len(self.links) and self.running is None:
                self.sections.append(Section(index, time.monotonic()))
                self._pending_blank = False
                return None
        now = self.running
        if now is not None and text.startswith(self._end):
            status = text[len(self._end) :]
            if status.isdigit():
                now.exit_status, now.ended = int(status), time.monotonic()
                self._pending_blank = False  # the newline printed before the marker is not the step's
                return now
            # not a marker after all: falls through as output
        if now is None:
            if not self.sections:
                self.before.append(text)  # the login shell's own lines, before the first step
            return None
        if self._pending_blank:
            self._add(now, "")
        if text == "":
            self._pending_blank = True  # held back: it may be the newline before the end marker
            return None
        self._pending_blank = False
        self._add(now, text)
        return None

    def _add(self, section: Section, text: str) -> None:
        limit = WHOLE_CHARS if self.links[section.index].whole else _TAIL_CHARS
        section.lines.append(text)
        section.size += len(text) + 1
        if self.links[section.index].whole:
            if section.size > limit:
                section.overflow = True
                section.lines.pop()
            return
        while section.size > limit and len(section.lines) > 1:
            section.size -= len(section.lines.pop(0)) + 1


def chainable(command: str, has_stdin: bool = False) -> bool:
    """Whether a step may run after another in the same session: one with input of its own (an archive, or the
    secrets a :data:`~deploy.hosts.remote.READ_SECRETS` command reads) only ever runs first, where the input is."""
    return not has_stdin and remote.READ_SECRETS not in command
