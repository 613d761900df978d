"""A request for a run as the chat side tracks it before, while and after the engine runs it (pure data).

A :class:`RunRequest` gets its run id when it is asked for, so buttons (approve, reject, cancel) and queue
positions can name it before the engine has started anything; the engine is then given that same id. Its
``note`` travels with it into every reply and notice about it, so whoever reads them sees how the request was
read.
:class:`Busy` is who holds an environment, from chat or from outside (the CLI), for "who deploys what".
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RunRequest:
    run_id: str
    kind: str  # deploy | rollback | task
    app: str
    environment: str
    user: str
    channel: str
    requested_at: float
    ref: str = ""  # deploy: the ref asked for; rollback: the release or SHA asked for, "" for the previous one
    sha: str | None = None  # deploy: the commit the ref resolved to, pinned for approval and queue
    target: str | None = None  # role or host filter
    task: str | None = None
    forced: bool = False
    overrides: tuple[str, ...] = ()
    note: str = ""  # how an ambiguous word of the message was read (:attr:`commands.command.Deploy.note`)

    @property
    def what(self) -> str:
        """``main (3f2a9c1)``, ``a rollback``, ``task migrate``: what the run ships or does."""
        if self.kind == "rollback":
            return f"a rollback to {self.ref}" if self.ref else "a rollback"
        if self.kind == "task":
            return f"task {self.task}"
        if self.kind == "converge":
            return "a converge to the live release"
        return f"{self.ref} ({self.sha[:7]})" if self.sha else self.ref


@dataclass(frozen=True)
class Busy:
    """Who holds an environment right now and with what."""

    run_id: str
    user: str
    what: str
    stalled: tuple[float, float] | None = None  # its controller stopped answering: (for, taken over in) seconds
