"""``converge``: put the environment's live release on exactly the hosts that are behind it.

The live release is the one the last successful deploy or rollback put live (:mod:`deploy.fleet.drift`); the
hosts behind it (a host discovery found since, a host with no release or another SHA) get it under the same
release id the others have, through a deploy's prepare, switch, restart and healthcheck (no migration: it ran when
the release first went out). Besides, each of them gets the release a rollback would go to prepared, never
switched to, and journalled as ``prepared`` (:mod:`deploy.hosts.journal`), so a later ``rollback`` finds the same target
on every host. :func:`converge_plan` builds that plan (pure); :func:`converge` runs it with the engine's run slot,
lock, repair and recording, like a deploy.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Protocol

from deploy.delivery.mirror import Mirror
from deploy.errors import NothingToConverge, UsageError
from deploy.events import Event, EventSink, Gate, RunFinished, RunStarted, null_sink
from deploy.fleet.drift import Live, live_release, previous_release
from deploy.fleet.members import Fleets
from deploy.fleet.status import read_status
from deploy.hosts import journal, remote
from deploy.hosts.connector import Connector
from deploy.ids import new_run_id
from deploy.records import RunRecord
from deploy.run.plan import DeployPlan, HostPlan, Step
from deploy.run.runner import Runner
from deploy.store.leases import Lease
from deploy.store.tables import Store


class Engine(Protocol):
    """What a converge uses of :class:`deploy.run.engine.Engine`."""

    fleets: Fleets
    store: Store
    mirror: Mirror

    async def check_lock(self, environment: str, user: str, forced: bool) -> None: ...
    async def repair_first(self, environment: str, sink: EventSink) -> None: ...
    def connector_for_run(self) -> Connector: ...
    async def resolve_ref(self, ref: str) -> str: ...
    async def plan(
        self, environment: str, sha: str, release: str, user: str, hosts_filter: str | None = None
    ) -> DeployPlan: ...
    async def drive(
        self, record: RunRecord, connector: Connector, sink: EventSink, started: RunStarted,
        body: Callable[[Runner, bytes | None], Awaitable[RunFinished]], need_archive: bool = False,
        gate: Gate | None = None, *, lease: Lease,
    ) -> RunFinished: ...  # fmt: skip


RUNS_SEARCHED = 200  # successful runs searched for the release a rollback would go to


def _previous_steps(prev_host: HostPlan, prev: Live, run_id: str, user: str, archive: bytes | None, transfer: str,
                    repo: str, shared: tuple[list[str], list[str]]) -> tuple[Step, ...]:  # fmt: skip
    """Prepare the rollback target ``prev`` on the host (unless it is there already, holding its SHA), build it,
    and journal it as ``prepared``."""
    d = prev_host.host.deploy_to
    dirs, files = shared
    fetch = (
        remote.unpack(d, prev.release) if transfer == "upload" else remote.git_fetch(d, prev.release, repo, prev.sha)
    )
    made = " && ".join((remote.setup(d, prev.release, dirs, files), fetch,
                        remote.finish_release(d, prev.release, prev.sha, dirs, files)))  # fmt: skip
    first = prev_host.prepare[0]
    steps = [
        Step(
            "prepare rollback target",
            f"if {remote.verify(d, prev.release, prev.sha)}; then cat >/dev/null; else {made}; fi",
            first.timeout,
            stdin=archive if transfer == "upload" else None,
        )
    ]
    steps += [replace(s, name=f"rollback target {s.name}") for s in prev_host.prepare[1:]]
    line = journal.entry(
        action="deploy", run=run_id, user=user, sha=prev.sha, release=prev.release, previous=None, outcome="prepared"
    )
    steps.append(Step("journal rollback target", remote.append_journal(d, line.to_line()), first.timeout))
    return tuple(steps)


def converge_plan(
    live_plan: DeployPlan,
    behind: list[str],
    previous: tuple[Live, DeployPlan, bytes | None] | None,
    run_id: str,
    repo: str,
    shared: tuple[list[str], list[str]],
) -> DeployPlan:
    """``live_plan`` (the live release's deploy plan for the whole environment) cut to the hosts ``behind``, in one
    batch, without migration; with ``previous`` (the rollback target, its plan and archive) each host also
    prepares and journals that release before the live one goes live."""
    hosts = []
    prev_hosts = {hp.host.name: hp for hp in previous[1].hosts} if previous else {}
    for hp in live_plan.hosts:
        if hp.host.name not in behind:
            continue
        if previous is not None:
            prev, _, archive = previous
            extra = _previous_steps(prev_hosts[hp.host.name], prev, run_id, live_plan.user, archive, live_plan.transfer,
                                    repo, shared)  # fmt: skip
            hosts.append(replace(hp, prepare=(*hp.prepare, *extra)))
        else:
            hosts.append(hp)
    names = tuple(hp.host.name for hp in hosts)
    note = f"converge: {', '.join(names)} behind the live release {live_plan.release}; the other hosts keep it"
    if previous is not None:
        note += f"; the rollback target {previous[0].release} is prepared on them too"
    return replace(
        live_plan, hosts=tuple(hosts), migrate=None, migrate_host=None, strategy="all", batches=(names,),
        max_failures=0, pause=False, notes=(note,),
    )  # fmt: skip


async def converge(
    engine: Engine,
    environment: str,
    *,
    user: str,
    sink: EventSink = null_sink,
    run_id: str | None = None,
    forced: bool = False,
) -> RunFinished:
    """Put the live release on the hosts that are behind it (see the module); :class:`NothingToConverge` when
    none is."""
    config = await engine.fleets.resolve(environment)
    app = config.app
    if config.environments[environment].strategy == "blue_green":
        raise UsageError(f"{environment} deploys blue/green: converge does not support it yet; deploy the live ref")
    door = engine.store.door
    await engine.check_lock(environment, user, forced)
    live = live_release(await door(engine.store.last_success, app, environment))
    if live is None:
        raise UsageError(f"nothing to converge {environment} to: no deploy or rollback there has succeeded yet")
    await engine.repair_first(environment, sink)
    status = await read_status(config, engine.store, engine.connector_for_run(), environment)
    behind = [h.address for h in status.hosts if h.behind]
    if not behind:
        raise NothingToConverge(
            f"every reachable host of {environment} already runs the live release {live.release} ({live.sha[:12]})"
        )
    run_id = run_id or new_run_id()
    upload = config.pipeline.transfer == "upload"
    await engine.resolve_ref(live.sha)  # the mirror has the commits
    prev = previous_release(await door(engine.store.list_runs, app, environment, RUNS_SEARCHED))
    previous = None
    if prev is not None and prev.release != live.release:
        archive = await engine.mirror.archive(prev.sha) if upload else None
        previous = (prev, await engine.plan(environment, prev.sha, prev.release, user), archive)
    shared = (config.shared.dirs, config.shared.files)
    plan = converge_plan(
        await engine.plan(environment, live.sha, live.release, user), behind, previous, run_id, config.repo, shared
    )
    record = RunRecord(
        run_id, "converge", app, environment, user, live.release, live.sha, live.release, "running", time.time(),
        hosts=len(plan.hosts), forced=forced,
    )  # fmt: skip
    connector = engine.connector_for_run()
    lease = await door(engine.store.start_run, record, f"a converge of {app} {environment} to {live.release}")
    started = RunStarted(run_id, "converge", app, environment, live.release, live.sha, live.release, user,
                         tuple(hp.host.name for hp in plan.hosts), live.sha, "all", plan.notes,
                         labels=tuple(hp.host.label for hp in plan.hosts))  # fmt: skip

    def noted(event: Event) -> None:
        """The end report says what converged, as the start did."""
        sink(replace(event, notes=plan.notes) if isinstance(event, RunFinished) else event)

    finished = await engine.drive(
        record,
        connector,
        noted,
        started,
        lambda runner, archive: runner.deploy(plan, archive),
        need_archive=upload,
        lease=lease,
    )
    return replace(finished, notes=plan.notes)
