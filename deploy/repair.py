"""Repair: finish a run whose controller died, from what the run wrote down before it acted.

A run is dead when its lease expired (:mod:`deploy.leases`). The repairer takes the lease over (one conditional
update: of two repairers one wins), then:

- a deploy that was waiting for a person between batches keeps waiting, now owned by this process
  (:class:`RepairReport` ``waiting``); the engine can continue it or abort it;
- any other run is finished as a failed run would be. Per host, in parallel: the remote process groups the run
  left running are killed; ``current`` is read; a host with a switch intent (:mod:`deploy.intents`) not known to
  be restored goes back to the release it had when ``current`` points at the run's release, and is restarted
  there; the run's release is removed where it is not live (the host never removes the live one); the host's
  journal gets an ``interrupted`` line. The run ends ``interrupted`` with each host's outcome.

On a blue/green environment the colours are left as they are (only leftovers are killed and the run recorded):
``status`` shows each colour, and a rollback swaps back.

When a host cannot be reached or put back, the run is left dead (the environment stays blocked) and the report
names the host: a later repair tries again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from deploy import guarded, journal, remote
from deploy.config import Config
from deploy.errors import ShipbotError
from deploy.events import HostState
from deploy.fanout import every
from deploy.intents import RESTORED, SWITCHED, HostIntent
from deploy.plan import DeployPlan, HostPlan, select_hosts
from deploy.ports import Connector, HostConnection
from deploy.records import RunRecord
from deploy.store import Store


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

    @property
    def ok(self) -> bool:
        return all(h.ok for h in self.hosts)

    @property
    def one_version(self) -> bool:
        return self.ok and len({h.release for h in self.hosts}) <= 1

    @property
    def message(self) -> str:
        if self.waiting:
            return f"{self.run.run_id} waits for a person between batches; taken over, still waiting"
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
        plan: Callable[[RunRecord], DeployPlan],
        fleet: Callable[[RunRecord], Config] | None = None,
    ) -> None:
        self.config, self.store = config, store
        self._connector = connector
        self._plan = plan
        self._fleet = fleet or (lambda _run: config)  # the config with the hosts the run covered (discovered ones)

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
        reports = []
        for run in self.store.dead_runs(self.config.app, environment):
            if self.store.take_over(run.run_id):
                reports.append(await self._one(run))
        return reports

    async def _one(self, run: RunRecord) -> RepairReport:
        if self.store.ledger.waiting(run.run_id) is not None and run.kind == "deploy":
            return RepairReport(run, waiting=True)
        intents = self.store.ledger.intents(run.run_id)
        processes = self.store.ledger.processes(run.run_id)
        try:
            hosts = select_hosts(self._fleet(run), run.environment, None)
        except ShipbotError:
            hosts = []
        touched = set(intents) | set(processes)
        chosen = [h for h in hosts if h.name in touched] if touched else []
        plan = self._plan(run) if run.kind in ("deploy", "rollback", "converge") else None
        connector = self._connector()
        try:
            repairs = await every(
                self._host(run, h.name, intents.get(h.name), processes.get(h.name, []), plan, connector) for h in chosen
            )
        finally:
            await connector.close()
        missing = touched - {h.name for h in chosen}
        report = RepairReport(
            run, (*repairs, *(HostRepair(n, False, None, None, "no longer in the config") for n in sorted(missing)))
        )
        if report.ok:
            self.store.record_outcomes(
                run.run_id,
                [(h.host, HostState.REVERTED.value, h.release, h.sha, None, "") for h in report.hosts],
            )
            self.store.finish_run(run.run_id, "interrupted", report.message)
        else:
            self.store.give_up_lease(run.run_id)
        return report

    async def _host(
        self,
        run: RunRecord,
        name: str,
        intent: HostIntent | None,
        pgids: list[int],
        plan: DeployPlan | None,
        connector: Connector,
    ) -> HostRepair:
        hp = next((p for p in plan.hosts if p.host.name == name), None) if plan else None
        hosts = select_hosts(self._fleet(run), run.environment, None)
        host = hp.host if hp else next(h for h in hosts if h.name == name)
        t = self.config.timeouts
        try:
            conn = await connector.connect(host, t.connect)
        except ShipbotError as exc:
            return HostRepair(name, False, None, None, f"unreachable: {exc}")
        try:
            return await self._on(conn, run, name, intent, pgids, plan, hp)
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
    ) -> HostRepair:
        d, t = conn.host.deploy_to, self.config.timeouts
        kill = "; ".join([remote.kill_group(p, "TERM") for p in pgids] + (["sleep 1"] if pgids else []))
        kill += "".join(f"; {remote.kill_group(p, 'KILL')}" for p in pgids)
        looked = await conn.run(remote.sections(kill or "true", remote.probe(d)), t.command + 5)
        current = remote.parse_probe(remote.split_sections(looked.output, 2)[1]) if looked.ok else None
        if current is None:
            return HostRepair(name, False, None, None, f"could not read current: {looked.describe()}")
        self.store.ledger.forget_processes(run.run_id, name)
        release, sha, did = current.release, current.sha, []
        colours = self.config.environments[run.environment].strategy == "blue_green"
        if pgids:
            did.append(f"stopped {len(pgids)} leftover process group(s)")
        if intent is not None and intent.intent and intent.intent != RESTORED and intent.to_release and not colours:
            back = await conn.run(guarded.switch_back(d, intent.to_release, intent.from_release), t.switch)
            if not back.ok:
                return HostRepair(name, False, release, sha, f"could not switch back: {back.describe()}")
            back_now = guarded.SWITCHED_BACK in back.output
            if back_now:
                release, sha = intent.from_release, intent.from_sha
                did.append(f"switched back to {release or 'no release'}")
            restart = plan.restart_in(hp, release, sha) if plan and hp and release else None
            if restart and (back_now or intent.intent == SWITCHED):
                again = await conn.run(restart, t.restart)
                if not again.ok:
                    return HostRepair(name, False, release, sha, f"restart on {release} failed: {again.describe()}")
                did.append(f"restarted on {release}")
            self.store.ledger.mark(run.run_id, name, RESTORED)
        doomed = [run.release] if run.kind == "deploy" and run.release and run.release != release else []
        doomed = [] if colours else doomed  # a colour link may point at it: left for the next deploy's retention
        line = None
        if run.kind in ("deploy", "rollback"):
            line = journal.entry(
                action=run.kind, run=run.run_id, user=run.user, sha=run.sha or (intent.to_sha if intent else "") or "",
                release=run.release or (intent.to_release if intent else "") or "", previous=release,
                outcome="interrupted",
            ).to_line()  # fmt: skip
        finish = await conn.run(guarded.finish(d, line, doomed), t.command)
        if doomed and finish.ok:
            did.append(f"removed release {doomed[0]}")
        did.append(f"on {release or 'no release'}")
        return HostRepair(name, True, release, sha, ", ".join(did))
