"""Typed progress events the engine emits while a run goes on; the chat side and the CLI render them.

A run emits, in order: one :class:`RunStarted`; :class:`PhaseChanged` at each phase; for every host and step a
:class:`HostStepStarted` and a :class:`HostStepFinished`; :class:`HostStateChanged` as a host moves through
``pending -> preparing -> prepared -> switched -> healthy`` (or ``failed`` / ``reverted`` / ``untouched``);
and always exactly one :class:`RunFinished` with every host's outcome, however the run ends.

With strategy ``rolling`` or ``blue_green`` the switch phase goes batch by batch: a :class:`BatchStarted` opens
each batch; between batches, when the environment pauses, a :class:`BatchPaused` carries the :class:`BatchGate`
(the chat side shows Continue and Abort buttons, or a countdown when ``gate.wait`` is a duration), and a
:class:`BatchResumed` says how the pause ended.
Events are frozen dataclasses with no behaviour; nothing here knows about Slack.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import StrEnum

from deploy.delivery.promotion import PromotionBlock


class Phase(StrEnum):
    CONNECT = "connect"
    PREPARE = "prepare"
    MIGRATE = "migrate"
    SWITCH = "switch"
    REVERT = "revert"
    CLEANUP = "cleanup"
    TASK = "task"
    DONE = "done"


class HostState(StrEnum):
    PENDING = "pending"
    CONNECTING = "connecting"
    PREPARING = "preparing"
    PREPARED = "prepared"
    SWITCHED = "switched"
    HEALTHY = "healthy"
    FAILED = "failed"
    REVERTED = "reverted"
    UNTOUCHED = "untouched"
    DONE = "done"


class Outcome(StrEnum):
    SUCCESS = "success"
    FAILED = "failed"  # failed and the fleet was returned to its previous release
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"  # the process died mid-run; recorded on the next start


@dataclass(frozen=True)
class RunStarted:
    run_id: str
    kind: str  # deploy | rollback | task
    app: str
    environment: str
    ref: str
    sha: str
    release: str
    user: str
    hosts: tuple[str, ...]
    previous_sha: str | None = None
    strategy: str = "all"  # all | rolling | blue_green
    notes: tuple[str, ...] = ()  # what the run does differently and people must know (a migration left out)
    forced_past: PromotionBlock | None = None  # a deploy forced past the promotion order: the rule it broke
    labels: tuple[str, ...] = ()  # how people see each of ``hosts`` (their names), in the same order; may be empty

    def label_of(self) -> dict[str, str]:
        """Each host's key (as events name it) to how people see it."""
        return {host: label for host, label in zip(self.hosts, self.labels, strict=False)}


@dataclass(frozen=True)
class PhaseChanged:
    run_id: str
    phase: Phase


@dataclass(frozen=True)
class HostStateChanged:
    run_id: str
    host: str
    state: HostState


@dataclass(frozen=True)
class HostStepStarted:
    run_id: str
    host: str
    step: str


@dataclass(frozen=True)
class HostStepFinished:
    run_id: str
    host: str
    step: str
    ok: bool
    exit_status: int | None
    duration: float
    output_tail: str = ""
    error: str = ""


@dataclass(frozen=True)
class HostOutcome:
    host: str
    state: HostState
    release: str | None  # the release ``current`` points to when the run ended
    sha: str | None
    failed_step: str | None = None
    error: str = ""
    output_tail: str = ""


@dataclass(frozen=True)
class RunFinished:
    run_id: str
    outcome: Outcome
    message: str
    duration: float
    hosts: tuple[HostOutcome, ...] = field(default_factory=tuple)
    notes: tuple[str, ...] = ()  # the start report's notes, repeated in the end report

    @property
    def failed_hosts(self) -> tuple[HostOutcome, ...]:
        return tuple(h for h in self.hosts if h.failed_step or h.state is HostState.FAILED)


@dataclass(frozen=True)
class BatchGate:
    """Where a batched run stands when it pauses before batch ``batch`` (1-based) of ``total``."""

    run_id: str
    batch: int
    total: int
    hosts_done: tuple[str, ...]  # hosts on the new version so far
    hosts_next: tuple[str, ...]  # the hosts of the batch about to start
    failures: tuple[str, ...] = ()  # hosts that failed so far (and were put back)
    max_failures: int = 0
    wait: float | None = None  # seconds until the run goes on by itself; None: it waits for a person


@dataclass(frozen=True)
class BatchStarted:
    run_id: str
    index: int  # 1-based
    total: int
    hosts: tuple[str, ...]


@dataclass(frozen=True)
class BatchPaused:
    run_id: str
    gate: BatchGate


@dataclass(frozen=True)
class BatchResumed:
    run_id: str
    index: int  # the batch that starts now, or would have
    total: int
    continued: bool  # False: a person aborted (or nobody answered in time) and switched hosts go back
    reason: str = ""


@dataclass(frozen=True)
class RunRepaired:
    """A run whose controller died was repaired (or taken over, still waiting) before this one starts, or at
    start-up: ``run_id`` is the dead run's id, ``message`` what was done on each host."""

    run_id: str
    environment: str
    ok: bool
    message: str


Event = (
    RunStarted
    | PhaseChanged
    | HostStateChanged
    | HostStepStarted
    | HostStepFinished
    | RunFinished
    | BatchStarted
    | BatchPaused
    | BatchResumed
    | RunRepaired
)
EventSink = Callable[[Event], None]
Gate = Callable[[BatchGate], Awaitable[bool]]  # True: go on with the next batch; False: abort and switch back


def null_sink(event: Event) -> None:
    """An event sink that drops everything."""
