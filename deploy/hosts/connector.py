"""The ports the engine drives hosts through: a :class:`Connector` opens a :class:`HostConnection` per host, and
every command run on it comes back as a :class:`StepResult`: ``run`` keeps the tail of a step's output (what people
are shown), ``read`` returns a bookkeeping command's whole output as data for a pure parser.

The engine and the runner only know these types; the asyncssh adapter (:mod:`deploy.hosts.ssh`) implements them and
is handed to the :class:`~deploy.run.engine.Engine` by a composition root as a :data:`ConnectorFactory` (each run
builds its own connector, so one run's jump host or handshake budget never leaks into another's). A failure is
classified by its fields, never by its text: ``timed_out`` (the step ran out of time and was killed) and
``lost`` (the connection dropped or could not open a channel) are set by the adapter; ``error`` is only words
for people.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from deploy.config.models import Ssh
from deploy.redact import Redactor
from deploy.run.plan import Host


@dataclass(frozen=True)
class StepResult:
    exit_status: int | None
    output: str  # stdout+stderr, redacted: its tail (run, what people see) or all of it (read, data)
    duration: float
    timed_out: bool = False
    error: str = ""  # what went wrong besides a non-zero exit (timeout, connection lost), for people
    lost: bool = False  # the SSH connection dropped: the host is gone, not the step's fault
    sent: bool = True  # False: the command never reached the host (no channel opened), so it did nothing

    @property
    def ok(self) -> bool:
        return self.exit_status == 0 and not self.timed_out and not self.error

    def describe(self) -> str:
        if self.timed_out:
            return self.error or "timed out"
        if self.error:
            return self.error
        last = self.output.strip().splitlines()[-1:] if self.output.strip() else []
        detail = f": {last[0][:300]}" if last else ""
        return f"exit status {self.exit_status}{detail}"


class HostConnection(Protocol):
    host: Host

    async def run(
        self,
        command: str,
        timeout: float,
        stdin: bytes | None = None,
        on_pgid: Callable[[int], Awaitable[None]] | None = None,
        on_line: Callable[[str], None] | None = None,
    ) -> StepResult:
        """Run one command; ``on_pgid`` is told the command's remote process group as soon as it is known, and
        ``on_line`` each line of its output (redacted, without its newline) as it arrives (several steps run in
        one session, :mod:`deploy.hosts.chain`, are followed that way)."""
        ...

    async def read(
        self,
        command: str,
        timeout: float,
        stdin: bytes | None = None,
        on_pgid: Callable[[int], Awaitable[None]] | None = None,
    ) -> StepResult:
        """A bookkeeping read (probe, release listing, journal): ``output`` is the command's *whole* output, for a
        parser. Output past the adapter's limit fails the read (``error`` says so); it is never cut silently."""
        ...

    async def close(self) -> None: ...


class Connector(Protocol):
    async def connect(self, host: Host, timeout: float) -> HostConnection: ...

    async def close(self) -> None: ...


ConnectorFactory = Callable[[Ssh, Redactor], Connector]
"""Builds the connector of one run from the app's ``ssh`` settings and the redactor of its secrets."""
