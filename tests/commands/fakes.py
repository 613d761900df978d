"""Small in-memory fakes of the commands ports (no mock library): an engine, groups, a reporter (the store's ports
have theirs in :mod:`deploy.store.fakes`)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from commands.ports import Notice
from commands.runs import RunRequest
from deploy.capistrano.cap_entries import CapEntry
from deploy.config.models import Config
from deploy.delivery.promotion import PromotionBlock
from deploy.errors import RefNotFound
from deploy.events import Event, EventSink, Gate, Outcome, RunFinished, null_sink
from deploy.records import Commit, EnvironmentStatus, HostStatus, RunRecord, Shipment
from deploy.run.dry_run import DryRun
from deploy.store.control_requests import ControlRequest

REFS = {"main": "a" * 40, "release": "b" * 40, "feature/x": "c" * 40, "v1.4.2": "d" * 40}


class Clock:
    def __init__(self, now: float = 1_780_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class FakeEngine:
    def __init__(self, config: Config, clock: Clock) -> None:
        self.config = config
        self.clock = clock
        self.calls: list[tuple[object, ...]] = []
        self.pauses: list[Gate | None] = []  # the pause each deploy was given
        self.hold = False
        self.gates: dict[str, asyncio.Event] = {}
        self.outcome = Outcome.SUCCESS
        self.records: list[RunRecord] = []
        self.capistrano: list[CapEntry] = []  # revisions.log lines the engine has recorded
        self.deployed: dict[str, str] = {}
        self.taken_over: dict[str, RunRecord] = {}  # runs a dead process left waiting, held by this one
        self.behind: dict[str, list[str]] = {}  # per environment: hosts status shows behind the live release

    def release(self, run_id: str) -> None:
        self.gates.setdefault(run_id, asyncio.Event()).set()

    async def resolve_ref(self, ref: str) -> str:
        if ref in REFS:
            return REFS[ref]
        raise RefNotFound(f"{self.config.app} has no branch, tag or commit {ref!r}")

    async def commits_between(self, old_sha: str | None, new_sha: str, limit: int = 20) -> list[Commit]:
        return [Commit(new_sha, "U0ALICE", "Add the new login"), Commit("e" * 40, "U0BOB", "Fix the cart")][:limit]

    async def shipment(self, live_sha: str | None, sha: str, limit: int = 20) -> Shipment:
        return Shipment(live_sha, sha, tuple(await self.commits_between(live_sha, sha, limit)))

    async def promotion(self, environment: str, sha: str) -> PromotionBlock | None:
        return None

    async def dry_run(
        self,
        environment: str,
        ref: str | None = None,
        *,
        user: str,
        hosts_filter: str | None = None,
        forced: bool = False,
    ) -> DryRun:
        raise NotImplementedError("dry runs are tested against real hosts (tests/engine, tests/bot)")

    async def _run(
        self,
        kind: str,
        environment: str,
        ref: str,
        sha: str,
        user: str,
        run_id: str,
        sink: EventSink,
        forced: bool = False,
    ) -> RunFinished:
        record = RunRecord(
            run_id, kind, self.config.app, environment, user, ref, sha, "rel", "running", self.clock(), forced=forced
        )
        self.records.insert(0, record)
        state = "success" if self.outcome is Outcome.SUCCESS else "failed"
        try:
            if self.hold:
                await self.gates.setdefault(run_id, asyncio.Event()).wait()
        except asyncio.CancelledError:
            self.records[self.records.index(record)] = RunRecord(
                **{**record.__dict__, "state": "cancelled", "finished_at": self.clock()}
            )
            raise
        self.records[self.records.index(record)] = RunRecord(
            **{**record.__dict__, "state": state, "finished_at": self.clock()}
        )
        if kind == "deploy" and state == "success":
            self.deployed[environment] = sha
        return RunFinished(run_id, self.outcome, f"{kind} {state}", 1.0)

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
    ) -> RunFinished:
        self.pauses.append(gate)
        self.calls.append(("deploy", environment, ref, user, hosts_filter, run_id, sha, forced))
        return await self._run("deploy", environment, ref or "", sha or "", user, run_id or "", sink, forced)

    async def rollback(
        self,
        environment: str,
        *,
        to: str | None = None,
        user: str,
        sink: EventSink = null_sink,
        run_id: str | None = None,
    ) -> RunFinished:
        self.calls.append(("rollback", environment, to, user, run_id))
        return await self._run("rollback", environment, to or "", "f" * 40, user, run_id or "", sink)

    async def run_task(
        self,
        name: str,
        environment: str,
        *,
        user: str,
        hosts_filter: str | None = None,
        sink: EventSink = null_sink,
        run_id: str | None = None,
    ) -> RunFinished:
        self.calls.append(("task", name, environment, user, hosts_filter, run_id))
        return await self._run("task", environment, "", "", user, run_id or "", sink)

    async def converge(
        self, environment: str, *, user: str, sink: EventSink = null_sink, run_id: str | None = None
    ) -> RunFinished:
        self.calls.append(("converge", environment, user, run_id))
        self.behind.pop(environment, None)
        return await self._run(
            "converge", environment, "rel", self.deployed.get(environment, ""), user, run_id or "", sink
        )

    async def status(self, environment: str) -> EnvironmentStatus:
        sha = self.deployed.get(environment)
        behind = tuple(HostStatus(h, True, None, None, behind=True) for h in self.behind.get(environment, []))
        return EnvironmentStatus(self.config.app, environment, (HostStatus("web1", True, "rel", sha), *behind))

    async def history(self, environment: str | None = None, limit: int = 20) -> list[RunRecord]:
        return [r for r in self.records if environment in (None, r.environment)][:limit]

    async def capistrano_history(self, environment: str | None = None, limit: int = 20) -> list[CapEntry]:
        return [e for e in self.capistrano if environment in (None, e.environment)][:limit]

    async def deployed_sha(self, environment: str) -> str | None:
        return self.deployed.get(environment)

    async def waiting_run(self, run_id: str) -> RunRecord | None:
        return self.taken_over.get(run_id)

    async def held_elsewhere(self, run_id: str) -> RunRecord | None:
        return None

    async def running_elsewhere(self, environment: str) -> RunRecord | None:
        return None

    async def ask(self, run_id: str, action: str, user: str) -> None:
        raise AssertionError("no run is held by another process here")

    async def held_requests(self) -> list[tuple[ControlRequest, str]]:
        return []

    async def hand_over(self) -> list[str]:
        return []

    async def resume(
        self,
        run_id: str,
        go: bool,
        *,
        sink: EventSink = null_sink,
        gate: Gate | None = None,
        reason: str = "a person chose Abort",
    ) -> RunFinished:
        run = self.taken_over.pop(run_id)
        self.pauses.append(gate)
        self.calls.append(("resume", run_id, go, reason))
        return await self._run("deploy", run.environment, run.ref, run.sha, run.user, run_id, sink, run.forced)


@dataclass
class FakeGroups:
    handles: dict[str, frozenset[str]] = field(default_factory=dict)
    asked: list[str] = field(default_factory=list)

    async def members(self, handle: str) -> frozenset[str]:
        self.asked.append(handle)
        return self.handles.get(handle, frozenset())


@dataclass
class FakeReporter:
    notices: list[Notice] = field(default_factory=list)
    started: list[str] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)

    def sink_for(self, run: RunRequest) -> EventSink:
        self.started.append(run.run_id)
        return self.events.append

    async def notify(self, notice: Notice) -> None:
        self.notices.append(notice)


class RunIds:
    def __init__(self) -> None:
        self.n = 0

    def __call__(self) -> str:
        self.n += 1
        return f"r{self.n:04d}"
