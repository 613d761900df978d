"""The small interfaces the use cases see the outside world through (typing only).

- :class:`EnginePort`: the subset of ``deploy.run.engine.Engine`` (one per app) the use cases call, including the runs
  a dead process left waiting for a person that this process took over (``waiting_run``, ``resume``).
- :class:`LockStore`, :class:`WaitingStore`, :class:`PushLedger`, :class:`InboxPort`: the store's ports, published
  by :mod:`deploy.store.ports` (awaited). :class:`LockStore`: locks and the audit trail. The service takes one per
  app; give every app the same store to share locks across apps with the same environment names.
- :class:`WaitingStore`: the rows of requests that wait (approvals, the queue), moved by compare-and-set
  (:mod:`deploy.store.waiting`; the store's ``waiting``). One for every app: rows carry their app.
- :class:`PreviewPort`: the previews of one app (make, update, remove, list); one per app with a ``previews``
  section.
- :class:`GroupResolver`: Slack user-group membership (``@deployers`` not defined under ``access.groups``);
  the bot implements it with ``usergroups.users.list``.
- :class:`PushLedger`: what pushes left in the store (deliveries taken, the one auto-deploy of a commit, pushes
  parked behind a run or a freeze; :mod:`deploy.store.push_table`). :class:`TagSource`: an app's tags (its mirror).
- :class:`PreviewEvents`: where pushes and deletions of preview branches go (a no-op unless previews are built).
- :class:`PushReporter`: the bot's side of pushes: announcements (:data:`Announcement`) to the notify channels.
- :class:`RunReporter`: the bot's side of a run: ``sink_for`` is called when a run starts and returns the
  :data:`~deploy.events.EventSink` its progress goes to; ``notify`` hears everything that happens to a
  request after the reply to the message that asked for it (:data:`Notice`).

Tests drive the use cases with small in-memory fakes of these protocols.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from commands.replies import AwaitingApproval
from commands.runs import Busy, RunRequest
from deploy.capistrano.cap_entries import CapEntry
from deploy.config.models import Config
from deploy.delivery.promotion import PromotionBlock
from deploy.events import EventSink, Gate, RunFinished, null_sink
from deploy.previews.preview_runner import PreviewInfo, PreviewOutcome
from deploy.records import Commit, EnvironmentStatus, LockRecord, RunRecord, Shipment
from deploy.run.dry_run import DryRun
from deploy.store.ports import ControlRequest


class EnginePort(Protocol):
    @property
    def config(self) -> Config: ...

    async def resolve_ref(self, ref: str) -> str: ...

    async def commits_between(self, old_sha: str | None, new_sha: str, limit: int = 20) -> list[Commit]: ...

    async def shipment(self, live_sha: str | None, sha: str, limit: int = 20) -> Shipment: ...

    async def promotion(self, environment: str, sha: str) -> PromotionBlock | None: ...

    async def dry_run(
        self,
        environment: str,
        ref: str | None = None,
        *,
        user: str,
        hosts_filter: str | None = None,
        forced: bool = False,
    ) -> DryRun: ...

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

    async def converge(
        self, environment: str, *, user: str, sink: EventSink = null_sink, run_id: str | None = None
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

    async def history(self, environment: str | None = None, limit: int = 20) -> list[RunRecord]: ...

    async def capistrano_history(self, environment: str | None = None, limit: int = 20) -> list[CapEntry]: ...

    async def deployed_sha(self, environment: str) -> str | None: ...

    async def waiting_run(self, run_id: str) -> RunRecord | None: ...

    async def held_elsewhere(self, run_id: str) -> RunRecord | None: ...

    async def running_elsewhere(self, environment: str) -> RunRecord | None: ...

    async def ask(self, run_id: str, action: str, user: str) -> None: ...

    async def held_requests(self) -> list[tuple[ControlRequest, str]]: ...

    async def hand_over(self) -> list[str]: ...

    async def resume(
        self, run_id: str, go: bool, *, sink: EventSink = null_sink, gate: Gate | None = None, reason: str = ...
    ) -> RunFinished: ...


class PreviewPort(Protocol):
    """The previews of one app (``deploy.previews.preview_runner.PreviewRunner``, the engine's ``previews``)."""

    @property
    def config(self) -> Config: ...

    @property
    def enabled(self) -> bool: ...

    def matches(self, branch: str) -> bool: ...

    async def check(self, branch: str) -> str: ...

    async def resolve(self, branch: str) -> str: ...

    async def up(self, branch: str, sha: str, user: str) -> PreviewOutcome: ...

    async def down(self, branch: str, user: str) -> PreviewInfo | None: ...

    async def find(self, branch: str) -> PreviewInfo | None: ...

    async def all_previews(self) -> list[PreviewInfo]: ...

    async def due(self, now: float | None = None) -> list[PreviewInfo]: ...


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
    nothing_to_do: str = ""  # why a run had nothing to do (a converge with no host behind): not a failure
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


@dataclass(frozen=True)
class RunAnnounced:
    """A run the bot started by itself (``converge: auto``), told in another ``channel`` than the run's own."""

    run: RunRequest
    channel: str
    behind: tuple[str, ...] = ()  # the hosts it catches up


Notice = RunEnded | QueueMoved | RunDropped | ApprovalExpired | ApprovalDecided | RunAnnounced


class RunReporter(Protocol):
    def sink_for(self, run: RunRequest) -> EventSink: ...

    async def notify(self, notice: Notice) -> None: ...


# ------------------------------------------------------------------------------------------------ pushes


class TagSource(Protocol):
    async def tags(self) -> list[str]: ...


class PreviewEvents(Protocol):
    async def preview_pushed(self, app: str, branch: str, sha: str, pusher: str) -> None: ...
    async def preview_deleted(self, app: str, branch: str, pusher: str) -> None: ...


class NoPreviews:
    """Previews are not built: pushes of preview branches change nothing."""

    async def preview_pushed(self, app: str, branch: str, sha: str, pusher: str) -> None:
        return None

    async def preview_deleted(self, app: str, branch: str, pusher: str) -> None:
        return None


@dataclass(frozen=True)
class Pushed:
    """Someone pushed commits that environments auto-deploy (said before their run messages)."""

    channels: tuple[str, ...]
    app: str
    ref: str
    sha: str
    pusher: str
    commits: tuple[Commit, ...]
    environments: tuple[str, ...]


@dataclass(frozen=True)
class AutoDeployNote:
    """What happened to one pushed commit in one environment, said in that environment's notify channels."""

    channels: tuple[str, ...]
    app: str
    environment: str
    ref: str
    sha: str
    pusher: str


@dataclass(frozen=True)
class AutoDeployHeld(AutoDeployNote):
    """A freeze holds an auto-deploy (``released``: the freeze ended and it deploys now)."""

    reason: str
    released: bool = False


@dataclass(frozen=True)
class AutoDeployRefused(AutoDeployNote):
    reason: str
    hint: str = ""


@dataclass(frozen=True)
class AutoDeployWaits(AutoDeployNote):
    """A run is going on: the push deploys after it (a newer push replaces it)."""

    replaced: str | None = None  # the SHA of the push it replaced


@dataclass(frozen=True)
class ReleaseNotes:
    channels: tuple[str, ...]
    app: str
    tag: str
    sha: str
    previous: str | None
    commits: tuple[Commit, ...]
    pusher: str


@dataclass(frozen=True)
class ApprovalAsked:
    """An auto-deploy waits for approval: the request is posted in the channel (its buttons work as for a typed
    deploy)."""

    channels: tuple[str, ...]
    reply: AwaitingApproval


Announcement = Pushed | AutoDeployHeld | AutoDeployRefused | AutoDeployWaits | ReleaseNotes | ApprovalAsked


class PushReporter(Protocol):
    async def announce(self, announcement: Announcement) -> str | None:
        """Post ``announcement`` to its channels; the ts of the message in the first channel, if posted."""
        ...
