"""Repair: finish a run whose controller died, from what the run wrote down before it acted.

A run is dead when its lease expired, or its owner was a process on this machine that no longer exists
(:mod:`deploy.store.leases`). The repairer takes the lease over (one conditional update, at a new generation: of two
repairers one wins) and holds it like a run does, with a heartbeat, checked before every remote command; each of
its writes is fenced (:mod:`deploy.store.fencing`). A repairer whose lease is taken over in turn (it was frozen past it)
stops before its next remote command and leaves the repair to the new owner. Then:

- a deploy that was waiting for a person between batches keeps waiting, now owned by this process
  (:class:`RepairReport` ``waiting``); the engine can continue it or abort it;
- any other run is finished as a failed run would be. Per host, in parallel: the remote process groups the run
  left running are killed; ``current`` is read; a host with a switch intent (:mod:`deploy.store.intents`) not known to
  be restored goes back to the release it had when ``current`` points at the run's release, and is restarted
  there; the run's release is removed where it is not live (the host never removes the live one); the host's
  journal gets an ``interrupted`` line. The run ends ``interrupted`` with each host's outcome.

On a blue/green environment the leftovers are killed the same way, then traffic, labels and colours go back to
what they were before the run (:mod:`deploy.run.colour_repair`): the colour that was live runs, nginx's upstream is on
it again (a graceful reload, waiting until nginx no longer reaches the other colour), and the other colour stops
per ``keep_old``.

When a host cannot be reached or put back, the run is left dead (the environment stays blocked) and the report
names the host: a later repair tries again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial

from deploy.config.models import Config
from deploy.errors import LeaseLost, ShipbotError
from deploy.events import HostState
from deploy.hosts import framing, guarded, journal, remote
from deploy.hosts.connector import Connector, HostConnection
from deploy.records import RunRecord
from deploy.run import colour_repair
from deploy.run.fanout import every
from deploy.run.plan import DeployPlan, Host, HostPlan, select_hosts
from deploy.store.fencing import RunWrites
from deploy.store.intents import RESTORED, SWITCHED, HostIntent
from deploy.store.leases import Lease, LeaseGuard
from deploy.store.tables import Store


@dataclass(frozen=True)
class HostRepair:
    host: str
    ok: bool
    release: str | None  # where ``current`` points once repaired
    sha: str | None
    what: str  # for people: "switched back to R1 and restarted", "left on R1", "unreachable: ..."


@dataclass(frozen=True)
class RepairReport:
    run: RunRecord
    hosts: tuple[HostRepair, ...] = ()
    waiting: bool = False  # taken over and still waiting for a person
    lease: Lease | None = None  # the lease this process took over (it holds it on while the run waits)
    lost: bool = False  # another process took the lease over in the middle of the repair, and finishes it

    @property
    def ok(self) -> bool:
        return not self.lost and all(h.ok for h in self.hosts)

    @property
    def one_version(self) -> bool:
        return self.ok and len({h.release for h in self.hosts}) <= 1

    @property
    def message(self) -> str:
        if self.waiting:
            return f"{self.run.run_id} waits for a person between batches; taken over, still waiting"
        if self.lost:
            return "interrupted; another shipbot took its repair over (this one was stopped past its lease)"
        done = "; ".join(f"{h.host}: {h.what}" for h in self.hosts) or "no host was touched"
        if not self.ok:
            bad = ", ".join(h.host for h in self.hosts if not h.ok)
            return f"interrupted, NOT repaired on {bad}: {done}"
        return f"interrupted, repaired: {done}"


class Repairer:
    """Repairs the dead runs of one app. ``plan`` gives the run's plan without a release (hosts, variables,
    restart), as a rollback plans it; ``fleet`` the config with the hosts the run covered (discovered ones too)."""

    def __init__(
        self,
        config: Config,
        store: Store,
        connector: Callable[[], Connector],
        plan: Callable[[RunRecord], Awaitable[DeployPlan]],
        fleet: Callable[[RunRecord], Awaitable[Config]] | None = None,
    ) -> None:
        self.config, self.store = config, store
        self._connector = connector
        self._plan = plan
        self._fleet = fleet or self._static  # the config with the hosts the run covered (discovered ones)

    async def _static(self, _run: RunRecord) -> Config:
        return self.config

    def live_runs(self, environment: str) -> list[RunRecord]:
        """Runs of the environment still held by a live owner (not this process)."""
        run = self.store.active_run(self.config.app, environment)
        if run is None or run.state == "interrupted":
            return []
        holder = self.store.lease_holder(run.run_id)
        return [run] if holder is not None and holder != self.store.owner else []

    async def repair(self, environment: str | None = None) -> list[RepairReport]:
        """Take over and repair every dead run of the app (of ``environment``); runs someone else took first are
        left to them."""
        reports, door = [], self.store.door
        for run in await door(self.store.dead_runs, self.config.app, environment):
            if (lease := await door(self.store.take_over, run.run_id)) is not None:
                reports.append(await self._holding(run, lease))
        return reports

    async def _holding(self, run: RunRecord, lease: Lease) -> RepairReport:
        """Repair ``run`` holding ``lease``: renewed every third of the TTL; once it is lost, nothing more."""
        if await self.store.door(self.store.ledger.waiting, run.run_id) is not None and run.kind == "deploy":
            return RepairReport(run, waiting=True, lease=lease)
        task = asyncio.current_task()

        def stop() -> None:
            if task is not None and asyncio.current_task() is not task:
                task.cancel()

        guard = LeaseGuard(
            partial(self.store.door.urgent, self.store.renew_lease, lease), self.store.lease_ttl, lease, stop
        )
        heartbeat = asyncio.create_task(guard.heartbeat())
        try:
            return await self._one(run, self.store.writes(lease, guard))
        except (asyncio.CancelledError, LeaseLost):
            if not guard.lost:
                raise
            if task is not None and task.cancelling():
                task.uncancel()
            return RepairReport(run, lease=lease, lost=True)
        finally:
            heartbeat.cancel()

    async def _one(self, run: RunRecord, writes: RunWrites) -> RepairReport:
        intents = await self.store.door(self.store.ledger.intents, run.run_id)
        processes = await self.store.door(self.store.ledger.processes, run.run_id)
        fleet = await self._fleet(run)
        try:
            hosts = select_hosts(fleet, run.environment, None)
        except ShipbotError:
            hosts = []
        touched = set(intents) | set(processes)
        chosen = [h for h in hosts if h.name in touched] if touched else []
        plan = await self._plan(run) if run.kind in ("deploy", "rollback", "converge") else None
        connector = self._connector()
        try:
            repairs = await every(
                self._host(run, h, intents.get(h.name), processes.get(h.name, []), plan, connector, writes)
                for h in chosen
            )
        finally:
            await connector.close()
        missing = touched - {h.name for h in chosen}
        report = RepairReport(
            run, (*repairs, *(HostRepair(n, False, None, None, "no longer in the config") for n in sorted(missing)))
        )
        if report.ok:
            outcomes = [(h.host, HostState.REVERTED.value, h.release, h.sha, None, "") for h in report.hosts]
            await writes.door(writes.finish, "interrupted", report.message, outcomes)
        else:
            await writes.door(writes.give_up)
        return report

    async def _host(
        self,
        run: RunRecord,
        chosen: Host,
        intent: HostIntent | None,
        pgids: list[int],
        plan: DeployPlan | None,
        connector: Connector,
        writes: RunWrites,
    ) -> HostRepair:
        name = chosen.name
        hp = next((p for p in plan.hosts if p.host.name == name), None) if plan else None
        host = hp.host if hp else chosen
        t = self.config.timeouts
        await _acting(writes)
        try:
            conn = await connector.connect(host, t.connect)
        except ShipbotError as exc:
            return HostRepair(name, False, None, None, f"unreachable: {exc}")
        try:
            return await self._on(conn, run, name, intent, pgids, plan, hp, writes)
        finally:
            await conn.close()

    async def _on(
        self,
        conn: HostConnection,
        run: RunRecord,
        name: str,
        intent: HostIntent | None,
        pgids: list[int],
        plan: DeployPlan | None,
        hp: HostPlan | None,
        writes: RunWrites,
    ) -> HostRepair:
        d, t = conn.host.deploy_to, self.config.timeouts
        kill = "; ".join([remote.kill_group(p, "TERM") for p in pgids] + (["sleep 1"] if pgids else []))
        kill += "".join(f"; {remote.kill_group(p, 'KILL')}" for p in pgids)
        await _acting(writes)
        frame = framing.new()
        looked = await conn.run(remote.sections(frame, kill or "true", remote.probe(d)), t.command + 5)
        current = remote.parse_probe(remote.split_sections(looked.output, frame, 2)[1]) if looked.ok else None
        if current is None:
            return HostRepair(name, False, None, None, f"could not read current: {looked.describe()}")
        await writes.door(writes.forget_processes, name)
        release, sha, did = current.release, current.sha, []
        colours = self.config.environments[run.environment].strategy == "blue_green"
        if pgids:
            did.append(f"stopped {len(pgids)} leftover process group(s)")
        undone = intent is not None and intent.intent == RESTORED
        if colours and plan is not None and hp is not None and hp.colours is not None and not undone:
            await _acting(writes)
            put = await colour_repair.put_back(conn, run.run_id, plan, hp, intent, t)
            if not put.ok:
                return HostRepair(name, False, release, sha, ", ".join([*did, *put.did]))
            release, sha = put.release, put.sha
            did += put.did
            if intent is not None:
                await writes.door(writes.mark, name, RESTORED)
        if intent is not None and intent.intent and intent.intent != RESTORED and intent.to_release and not colours:
            await _acting(writes)
            back = await conn.run(guarded.switch_back(d, intent.to_release, intent.from_release, run.run_id), t.switch)
            if not back.ok:
                return HostRepair(name, False, release, sha, f"could not switch back: {back.describe()}")
            back_now = guarded.SWITCHED_BACK in back.output
            if back_now:
                release, sha = intent.from_release, intent.from_sha
                did.append(f"switched back to {release or 'no release'}")
            restart = plan.restart_in(hp, release, sha) if plan and hp and release else None
            if restart and (back_now or intent.intent == SWITCHED):
                await _acting(writes)
                again = await conn.run(restart, t.restart)
                if not again.ok:
                    return HostRepair(name, False, release, sha, f"restart on {release} failed: {again.describe()}")
                did.append(f"restarted on {release}")
            await writes.door(writes.mark, name, RESTORED)
        doomed = [run.release] if run.kind == "deploy" and run.release and run.release != release else []
        doomed = [] if colours else doomed  # a colour link may point at it: left for the next deploy's retention
        line = None
        if run.kind in ("deploy", "rollback"):
            line = journal.entry(
                action=run.kind, run=run.run_id, user=run.user, sha=run.sha or (intent.to_sha if intent else "") or "",
                release=run.release or (intent.to_release if intent else "") or "", previous=release,
                outcome="interrupted",
            ).to_line()  # fmt: skip
        await _acting(writes)
        finish = await conn.run(guarded.finish(d, line, doomed), t.command)
        if doomed and finish.ok:
            did.append(f"removed release {doomed[0]}")
        did.append(f"on {release or 'no release'}")
        return HostRepair(name, True, release, sha, ", ".join(did))


async def _acting(writes: RunWrites) -> None:
    """Before every remote command of a repair: this process still holds the run (else LeaseLost)."""
    if writes.guard is not None and not await writes.guard.valid():
        raise LeaseLost(writes.run_id)
