"""A forge's deployment starts a run, as heaven did: GitHub's ``deployment`` event, decided like a chat request.

:meth:`DeploymentStarts.receive` (the webhook's use case) takes a :class:`~commands.forge_deployments.DeploymentEvent`:

1. the app whose ``deployments.github.repo`` is the repository (none: :class:`UnknownRepository`);
2. a deployment shipbot created itself is ignored (:class:`Ignored`), its run exists: known by its payload
   (``payload.shipbot_run_id``) or by the ``created_here`` port (the ids the outbound side records);
3. the deployment is written to the store's inbox (:mod:`deploy.store.inbox`, key ``deployment:github:<repo>:<id>``)
   before anything else: a redelivery, a second replica or a retry after a timeout gets :class:`Duplicate`;
4. refused, with an ``error`` status and the reason, when the environment is not one of the app's, the creator's
   login is not in ``access.github_users``, or the ``task`` (other than ``deploy``) is not one of the app's tasks;
5. otherwise the request is made as the person the login maps to, from the environment's first ``notify``
   channel, through :meth:`commands.usecases.ChatService.execute`: the same policy (who may deploy there, freezes,
   channels), locks, promotion order, approval and queue as a deploy typed in chat. ``deploy`` deploys exactly
   ``deployment.sha``; another ``task`` runs the app's task of that name.

A deployment taken by a process that stopped before deciding it (killed while it fetched the commit) stays
unanswered in the inbox; once its holder's lease expired, :meth:`DeploymentStarts.recover` (the bot's timer) takes
it over and decides it again under the run id it was given, unless that run was asked for already (then a run still
waiting for approval or in line gets the ``queued`` status the stopped process may not have written).

The run answers to its deployment through a row of :mod:`deploy.notify.forge_runs`, written before the request is made.
:class:`ForgeStatusReporter` wraps the bot's run reporter and turns what happens to such a run into the
deployment's statuses: ``queued`` (waiting in line or for approval), ``in_progress`` (the run started, here or in
the process that admitted it later), then ``success``, ``failure`` (the deploy failed and was reverted) or
``error`` (refused, cancelled, rejected, expired, dropped, interrupted). Each is a row of the durable outbox
(:class:`~commands.forge_deployments.StatusOutbox`), delivered by the outbox's sender in order, retried, at least
once; a run's start and end write theirs in the transaction that records them (:meth:`deploy.notify.outbox.Outbox
.add_for_run`), the others are written here (a refusal before the deployment's inbox entry is answered).
Every store call here is awaited through the store's door (:mod:`deploy.store.door`).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Protocol

import structlog

from commands.access_config import AppPolicy
from commands.command import Command, Deploy, RunTask
from commands.forge_deployments import (
    DEPLOY_TASK,
    DeploymentEvent,
    DeploymentStatus,
    StatusOutbox,
    app_for,
    created_by_shipbot,
    description,
    person_for,
)
from commands.ports import (
    ApprovalAsked,
    ApprovalDecided,
    ApprovalExpired,
    EnginePort,
    Notice,
    PushReporter,
    RunDropped,
    RunEnded,
    RunReporter,
)
from commands.replies import AwaitingApproval, Queued, Refusal, Reply, RunAccepted
from commands.runs import RunRequest
from commands.suggest import did_you_mean
from deploy.config.models import Config
from deploy.events import EventSink, Outcome
from deploy.notify.forge_runs import DeploymentTarget, ForgeRuns
from deploy.notify.sink_config import slack_channels
from deploy.run.repair import RepairReport
from deploy.store.ports import KEEP_PUSHES, Entry, StoreDoor

log = structlog.get_logger("shipbot.deployments")
KIND = "deployment"
WAITING = {"awaiting": "waiting for approval in chat", "approved": "approved, waiting to start",
           "queued": "waiting in line"}  # fmt: skip  # a request's state (deploy.store.waiting): its queued status
ENDED = {"rejected": "rejected in chat", "expired": "nobody approved it in time", "cancelled": "cancelled",
         "dropped": "could not start"}  # fmt: skip  # a request that ended without a run: its error status
UNREPORTED_AFTER = 60.0  # seconds after its request ended a deployment's missing error status is written by recovery
Execute = Callable[[Command, str, str, str | None], Awaitable[Reply]]


class RunStatuses(Protocol):
    """Writes a run's deployment a status, in order with the run's other statuses (:class:`ForgeStatusReporter`)."""

    async def record(self, app: str, run_id: str, status: DeploymentStatus) -> None: ...

    async def record_deployment(self, target: DeploymentTarget, status: DeploymentStatus) -> None: ...


class DeploymentInbox(Protocol):
    """The store's inbox (:class:`deploy.store.inbox.Inbox`, its synchronous calls awaited here through the door)."""

    def receive(self, key: str, kind: str, payload: str) -> bool: ...

    def answered(self, key: str) -> None: ...

    def take_over(self, kinds: Sequence[str], limit: int = 20) -> list[Entry]: ...

    def prune(self, kinds: Sequence[str], keep: float) -> int: ...


@dataclass(frozen=True)
class Taken:
    app: str
    environment: str
    run_id: str
    state: str  # the status reported: in_progress, queued


@dataclass(frozen=True)
class Refused:
    app: str
    reason: str


@dataclass(frozen=True)
class Ignored:
    note: str


@dataclass(frozen=True)
class Duplicate:
    deployment_id: str


@dataclass(frozen=True)
class UnknownRepository:
    repository: str


Received = Taken | Refused | Ignored | Duplicate | UnknownRepository


class DeploymentStarts:
    def __init__(
        self,
        engines: Mapping[str, EnginePort],
        policies: Mapping[str, AppPolicy],
        execute: Execute,
        inbox: DeploymentInbox,
        runs: ForgeRuns,
        door: StoreDoor,
        run_statuses: RunStatuses,
        announcer: PushReporter,
        approval_posted: Callable[[str, str, str], Awaitable[None]],
        run_ids: Callable[[], str],
        started: Callable[[str], Awaitable[str | None]],
        created_here: Callable[[str, str, str], bool] | None = None,
    ) -> None:
        """``started``: the state of a run id if that run was asked for (:meth:`ChatService.started`);
        ``created_here(provider, repo, deployment_id)``: whether shipbot created that deployment itself (a store
        call, awaited through the door)."""
        self._engines = dict(engines)
        self._policies = dict(policies)
        self._execute = execute
        self._inbox = inbox
        self._runs = runs
        self._door = door
        self._run_statuses = run_statuses
        self._announcer = announcer
        self._approval_posted = approval_posted
        self._run_ids = run_ids
        self._started = started
        self._created_here = created_here

    async def receive(self, event: DeploymentEvent) -> Received:
        config = app_for(event, [e.config for e in self._engines.values()])
        if config is None:
            return UnknownRepository(event.repository)
        if created_by_shipbot(event) or (
            self._created_here is not None
            and await self._door(self._created_here, event.provider, event.repository, event.deployment_id)
        ):
            return Ignored(f"deployment {event.deployment_id} was created by shipbot {event.shipbot_run}".strip())
        key = f"{KIND}:{event.provider}:{event.repository.lower()}:{event.deployment_id}"
        if not await self._door(self._inbox.receive, key, KIND, json.dumps(asdict(event))):
            return Duplicate(event.deployment_id)
        received = await self._bound(event, config, None)
        await self._door(self._inbox.answered, key)
        return received

    async def recover(self) -> None:
        """On the bot's timer: decide the deployments a stopped process took and never decided (under the run id
        it gave them, unless that run was asked for already); write the ``error`` status of a deployment whose
        request was rejected, expired, cancelled or dropped by a process that stopped before writing it; forget
        deployments past the forge's redelivery."""
        for entry in await self._door(self._inbox.take_over, [KIND]):
            log.warning("deployment_picked_up", key=entry.key, age=round(entry.age, 1), attempts=entry.attempts)
            try:
                event = DeploymentEvent(**json.loads(entry.payload))
            except (ValueError, TypeError) as err:
                log.error("inbox_entry_unreadable", key=entry.key, error=str(err))
            else:
                config = app_for(event, [e.config for e in self._engines.values()])
                run_id = await self._door(self._runs.run_for, event.provider, event.repository, event.deployment_id)
                asked = await self._started(run_id) if run_id is not None else None
                if config is not None and asked is None:
                    await self._bound(event, config, run_id)
                elif config is not None and run_id is not None and asked in WAITING:  # its queued status, if lost
                    await self._run_statuses.record(config.app, run_id, DeploymentStatus("queued", WAITING[asked]))
            await self._door(self._inbox.answered, entry.key)
        for run_id, app, state in await self._door(self._runs.ended_unreported, UNREPORTED_AFTER):
            log.warning("deployment_status_recovered", run_id=run_id, request=state)
            await self._run_statuses.record(app, run_id, DeploymentStatus("error", ENDED[state]))
        await self._door(self._inbox.prune, [KIND], KEEP_PUSHES)

    async def _bound(self, event: DeploymentEvent, config: Config, run_id: str | None) -> Received:
        with structlog.contextvars.bound_contextvars(
            app=config.app, environment=event.environment[:80], deployment=event.deployment_id, sha=event.sha
        ):
            received = await self._decide(event, config, run_id)
            log.info("deployment_received", outcome=type(received).__name__, creator=event.creator[:80])
        return received

    async def _decide(self, event: DeploymentEvent, config: Config, run_id: str | None) -> Received:
        """``run_id``: the id a stopped process gave the deployment's run (a new one when None)."""
        problem = self._problem(event, config)
        if problem is not None:
            await self._run_statuses.record_deployment(event.target(config.app), DeploymentStatus("error", problem))
            return Refused(config.app, problem)
        person = person_for(self._policies[config.app], event.creator)
        assert person is not None  # checked by _problem
        login = event.creator  # a login access.github_users lists: letters, digits, '-' (no markup)
        run_id = run_id or self._run_ids()
        if not await self._door(self._runs.record, run_id, event.target(config.app)):
            return Duplicate(event.deployment_id)
        notify = slack_channels(config.environments[event.environment].notify)  # the Slack channels, in order
        channel = notify[0] if notify else ""
        command: Command = (
            Deploy(config.app, event.environment, event.sha, note=f"GitHub deployment {event.deployment_id} by {login}")
            if event.task == DEPLOY_TASK
            else RunTask(config.app, event.task, event.environment)
        )
        reply = await self._execute(command, person, channel, run_id)
        match reply:
            case RunAccepted():
                return Taken(config.app, event.environment, run_id, "in_progress")  # reported as the run starts
            case Queued(position=position):
                await self._run_statuses.record(
                    config.app, run_id, DeploymentStatus("queued", f"waiting in line (#{position})")
                )
                return Taken(config.app, event.environment, run_id, "queued")
            case AwaitingApproval():
                ts = await self._announcer.announce(ApprovalAsked(tuple(notify[:1]), reply))
                if ts and channel:
                    await self._approval_posted(run_id, channel, ts)
                await self._run_statuses.record(
                    config.app, run_id, DeploymentStatus("queued", "waiting for approval in chat")
                )
                return Taken(config.app, event.environment, run_id, "queued")
            case Refusal(reason=reason, hint=hint):
                text = f"{reason} {hint}".strip()
                await self._run_statuses.record(config.app, run_id, DeploymentStatus("error", description(text)))
                return Refused(config.app, text)
        text = f"not started: {type(reply).__name__}"
        await self._run_statuses.record(config.app, run_id, DeploymentStatus("error", text))
        return Refused(config.app, text)

    def _problem(self, event: DeploymentEvent, config: Config) -> str | None:
        """Why the deployment is refused before anything is asked for: an environment, a person or a task shipbot
        does not know."""
        envs = tuple(config.environments)
        if event.environment not in config.environments:
            near = did_you_mean(event.environment, envs)
            tip = f"did you mean {near}?" if near else f"environments: {', '.join(envs)}"
            return description(f"{config.app} has no environment {event.environment[:40]!r}; {tip}")
        if person_for(self._policies[config.app], event.creator) is None:
            return description(
                f"GitHub user {event.creator[:40]!r} is not allowed to deploy: not in access.github_users"
            )
        if event.task != DEPLOY_TASK and event.task not in config.tasks:
            tasks = ", ".join(config.tasks) or "none"
            return description(f"{config.app} has no task {event.task[:40]!r}; tasks: {tasks}")
        return None


def final_status(notice: Notice) -> DeploymentStatus | None:
    """The deployment status a notice about a run means, if it ends the deployment (pure)."""
    match notice:
        case RunEnded(handed_over=True):
            return None  # the process it was handed to reports it
        case RunEnded(finished=finished, error=error, nothing_to_do=idle):
            if finished is None:
                return DeploymentStatus("success" if idle else "error", description(idle or error or "did not run"))
            state = {Outcome.SUCCESS: "success", Outcome.FAILED: "failure"}.get(finished.outcome, "error")
            return DeploymentStatus(state, description(finished.message or finished.outcome.value))
        case ApprovalDecided(approved=False, reason=reason):
            return DeploymentStatus("error", description(f"rejected in chat {reason}".strip()))
        case ApprovalExpired():
            return DeploymentStatus("error", "nobody approved it in time")
        case RunDropped(reason=reason):
            return DeploymentStatus("error", description(f"could not start: {reason}"))
    return None


class ForgeStatusReporter:
    """The bot's :class:`~commands.ports.RunReporter`, also writing what happens to a run its forge deployment's
    statuses (rows of the outbox; a status the run is past already is not written)."""

    def __init__(
        self,
        inner: RunReporter,
        configs: Mapping[str, Config],
        runs: ForgeRuns,
        door: StoreDoor,
        statuses: StatusOutbox,
    ) -> None:
        self.inner = inner
        self._configs = dict(configs)
        self._runs = runs
        self._door = door
        self._statuses = statuses
        self._tasks: set[asyncio.Task[None]] = set()

    def sink_for(self, run: RunRequest) -> EventSink:
        return self.inner.sink_for(run)  # in_progress is written with the run's start (Store.start_run)

    async def notify(self, notice: Notice) -> None:
        await self.inner.notify(notice)
        status = final_status(notice)
        if status is not None:
            self.tell(notice.run.app, notice.run.run_id, status)

    def repaired(self, reports: Sequence[RepairReport]) -> None:
        """Runs a dead process left, repaired here: their deployments end in ``error`` (interrupted), unless the
        run still waits for a person or another process finishes the repair."""
        for r in reports:
            if not r.waiting and not r.lost:
                self.tell(r.run.app, r.run.run_id, DeploymentStatus("error", description(r.message)))

    def tell(self, app: str, run_id: str, status: DeploymentStatus) -> None:
        """Write ``run_id``'s deployment ``status`` (if a deployment started it) in a task of this reporter's, so the
        caller (a run) never waits on the store for it."""
        if app in self._configs and self._configs[app].deployments is not None:
            task = asyncio.create_task(self.record(app, run_id, status), name=f"deployment-status-{run_id}")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def record(self, app: str, run_id: str, status: DeploymentStatus) -> None:
        """Write ``run_id``'s deployment ``status`` now, if a deployment started the run and the run is not past it."""
        try:
            target = await self._door(self._runs.target_of, run_id)
            if target is not None:
                await self._door(self._statuses.tell_deployment, target, status.state, status.description, run_id)
        except Exception:  # a status that cannot be written never touches the run
            log.exception("deployment_status_failed", run_id=run_id, state=status.state)

    async def record_deployment(self, target: DeploymentTarget, status: DeploymentStatus) -> None:
        """Write a deployment that never got a run (refused before one was asked for) its one status. Raises when
        the store does not answer (the deployment stays unanswered in the inbox and is decided again)."""
        await self._door(self._statuses.tell_deployment, target, status.state, status.description, None)

    async def settled(self) -> None:
        """Wait for the statuses being written (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def close(self, grace: float = 5.0) -> None:
        """Stopping: the statuses being written get ``grace`` seconds, then are dropped (a run's own start and end
        are written with the run)."""
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=grace)
        for task in list(self._tasks):
            task.cancel()
        await self.settled()
