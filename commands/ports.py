"""The small interfaces the use cases see the outside world through (typing only).

- :class:`EnginePort`: the subset of ``deploy.engine.Engine`` (one per app) the use cases call, including the runs
  a dead process left waiting for a person that this process took over (``waiting_run``, ``resume``).
- :class:`LockStore`: the subset of the engine's store for locks and the audit trail. The service takes one per
  app; give every app the same store to share locks across apps with the same environment names.
- :class:`WaitingStore`: the rows of requests that wait (approvals, the queue), moved by compare-and-set
  (:mod:`deploy.waiting`; the store's ``waiting``). One for every app: rows carry their app.
- :class:`GroupResolver`: Slack user-group membership (``@deployers`` not defined under ``access.groups``);
  the bot implements it with ``usergroups.users.list``.
- :class:`RunReporter`: the bot's side of a run: ``sink_for`` is called when a run starts and returns the
  :data:`~deploy.events.EventSink` its progress goes to; ``notify`` hears everything that happens to a
  request after the reply to the message that asked for it (:data:`Notice`).

Tests drive the use cases with small in-memory fakes of these protocols.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from commands.runs import Busy, RunRequest
from deploy.config import Config
from deploy.controls import ControlRequest
from deploy.events import EventSink, Gate, RunFinished, null_sink
from deploy.records import Commit, EnvironmentStatus, LockRecord, RunRecord
from deploy.waiting import WaitingRow


class EnginePort(Protocol):
    @property
    def config(self) -> Config: ...

    async def resolve_ref(self, ref: str) -> str: ...

    async def commits_between(self, old_sha: str | None, new_sha: str, limit: int = 20) -> list[Commit]: ...

    async def deploy(
        self,
        environment: str,
        ref: str | None,
        *,
        user: str,
        hosts_filter: str | None = None,
        sink: EventSink = null_sink,
        run_id: str | None = None,
        sha: str | None = None,
        forced: bool = False,
        gate: Gate | None = None,
    ) -> RunFinished: ...

    async def rollback(
        self,
        environment: str,
        *,
        to: str | None = None,
        user: str,
        sink: EventSink = null_sink,
        run_id: str | None = None,
    ) -> RunFinished: ...

    async def run_task(
        self,
        name: str,
        environment: str,
        *,
        user: str,
        hosts_filter: str | None = None,
        sink: EventSink = null_sink,
        run_id: str | None = None,
    ) -> RunFinished: ...

    async def status(self, environment: str) -> EnvironmentStatus: ...

    def history(self, environment: str | None = None, limit: int = 20) -> list[RunRecord]: ...

    def deployed_sha(self, environment: str) -> str | None: ...

    def waiting_run(self, run_id: str) -> RunRecord | None: ...

    def held_elsewhere(self, run_id: str) -> RunRecord | None: ...

    def running_elsewhere(self, environment: str) -> RunRecord | None: ...

    def ask(self, run_id: str, action: str, user: str) -> None: ...

    def held_requests(self) -> list[tuple[ControlRequest, str]]: ...

    def hand_over(self) -> list[str]: ...

    async def resume(
        self, run_id: str, go: bool, *, sink: EventSink = null_sink, gate: Gate | None = None, reason: str = ...
    ) -> RunFinished: ...


class LockStore(Protocol):
    """People's locks, keyed by (app, environment) like the run slot."""

    def lock(
        self, app: str, environment: str, owner: str, reason: str, expires_at: float | None = None
    ) -> LockRecord: ...

    def unlock(self, app: str, environment: str, by: str, force: bool = False) -> LockRecord | None: ...

    def get_lock(self, app: str, environment: str) -> LockRecord | None: ...

    def record_audit(self, actor: str, action: str, environment: str, detail: str) -> None: ...


class WaitingStore(Protocol):
    def add(
        self,
        run_id: str,
        app: str,
        environment: str,
        state: str,
        payload: str,
        *,
        expires_at: float | None = None,
        front: bool = False,
    ) -> None: ...

    def move(self, run_id: str, before: str, after: str, *, by: str = "", front: bool = False) -> bool: ...

    def get(self, run_id: str) -> WaitingRow | None: ...

    def in_state(self, state: str, app: str | None = None, environment: str | None = None) -> list[WaitingRow]: ...

    def due(self, now: float) -> list[WaitingRow]: ...

    def places(self, state: str = ...) -> list[tuple[str, str]]: ...

    def set_message(self, run_id: str, channel: str, ts: str) -> None: ...

    def prune(self, keep: float = ...) -> int: ...


class GroupResolver(Protocol):
    async def members(self, handle: str) -> frozenset[str]: ...


# ------------------------------------------------------------------------------------------------ notices


@dataclass(frozen=True)
class RunEnded:
    """A run ended here: ``finished`` from the engine, or ``error`` when it could not run; ``lock`` after a
    rollback; ``handed_over`` when this process stopped and left the run, waiting for a person, to another."""

    run: RunRequest
    finished: RunFinished | None
    error: str = ""
    lock: LockRecord | None = None
    handed_over: bool = False  # it waits for a person and another process reports it from now on


@dataclass(frozen=True)
class QueueMoved:
    """A queued request's position changed (1 = next)."""

    run: RunRequest
    position: int
    ahead: Busy | None = None


@dataclass(frozen=True)
class RunDropped:
    """A queued or approved request could not start (locked meanwhile, now frozen, busy elsewhere, restart)."""

    run: RunRequest
    reason: str
    hint: str = ""


@dataclass(frozen=True)
class ApprovalExpired:
    run: RunRequest
    expires_at: float
    message: tuple[str, str] | None = None  # (channel, ts) of the message asking for it, whoever posted it


@dataclass(frozen=True)
class ApprovalDecided:
    run: RunRequest
    by: str
    approved: bool
    reason: str = ""
    message: tuple[str, str] | None = None  # (channel, ts) of the message asking for it, whoever posted it


Notice = RunEnded | QueueMoved | RunDropped | ApprovalExpired | ApprovalDecided


class RunReporter(Protocol):
    def sink_for(self, run: RunRequest) -> EventSink: ...

    async def notify(self, notice: Notice) -> None: ...
