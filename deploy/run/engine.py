"""The engine facade: what the CLI and the chat side call. One ``Engine`` per app (config file).

``deploy`` finds the environment's hosts (:mod:`deploy.fleet.members`), resolves the ref once, takes the run slot
(one run per environment, atomically), plans, runs, and records the result however the run ends; ``rollback``,
``converge``, ``run_task``, ``status`` and ``history`` alike. Progress goes to the caller's event sink; the store keeps
every run and step. Cancelling the task that awaits ``deploy`` reverts the fleet, records it cancelled, re-raises."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from functools import partial
from pathlib import Path

import structlog
from pydantic import SecretStr

from deploy.capistrano.cap_history import CapistranoRecords
from deploy.config.models import Config
from deploy.delivery.foresight import Foresight, record_forced
from deploy.delivery.mirror import Mirror
from deploy.delivery.refs import ref_problem
from deploy.errors import (
    EnvironmentBusy,
    HandedOver,
    LeaseLost,
    NothingToRollBack,
    PromotionRefused,
    ShipbotError,
    UsageError,
)
from deploy.events import Event, EventSink, Gate, Outcome, RunFinished, RunRepaired, RunStarted, null_sink
from deploy.fleet import converge as converging
from deploy.fleet.members import Fleets
from deploy.fleet.status import read_status
from deploy.hosts import remote
from deploy.hosts.connector import Connector, ConnectorFactory, StepResult
from deploy.hosts.secret_input import SecretFeeding, secret_values
from deploy.ids import ReleaseIds, new_run_id
from deploy.records import Commit, EnvironmentStatus, RunRecord
from deploy.redact import Redactor
from deploy.run.control_watch import RunControl
from deploy.run.plan import DeployPlan, keys, labels, plan_deploy, select_hosts
from deploy.run.repair import Repairer, RepairReport
from deploy.run.runner import Runner
from deploy.run.sharing import SharedRuns
from deploy.run.steps import RunSteps, Timeouts
from deploy.store.fencing import RunWrites
from deploy.store.leases import Lease, LeaseGuard
from deploy.store.tables import Store

log = structlog.get_logger("shipbot.engine")


class Engine(SharedRuns, Foresight, CapistranoRecords):
    """The deploy engine of one app. ``connectors`` builds each run's connector (the SSH adapter in production:
    ``Engine(config, store, data_dir, SshConnector)``); the engine never opens a connection any other way."""

    def __init__(
        self,
        config: Config,
        store: Store,
        data_dir: Path,
        connectors: ConnectorFactory,
        secrets: Mapping[str, SecretStr] | None = None,
        folder: Path | None = None,
    ) -> None:
        self.config = config
        self.store = store
        self.mirror = Mirror(config.repo, data_dir, config.app)
        self._secrets = dict(secrets if secrets is not None else secret_values(config))
        self.redactor = Redactor(s.get_secret_value() for s in self._secrets.values())
        self._connectors = connectors
        self._release_ids = ReleaseIds()
        self._held: dict[str, asyncio.Task[None]] = {}  # heartbeats of waiting runs taken over from a dead process
        self._leases: dict[str, Lease] = {}  # and their leases
        self._controls: dict[str, RunControl] = {}  # runs driven here, answering control requests
        self.fleets = Fleets(config, store, folder)  # each environment's hosts, discovered at the start of each run
        self.repairer = Repairer(
            config, store, self.connector_for_run,
            lambda run: self.plan(run.environment, "", "", "shipbot", run_id=run.run_id),
            lambda run: self.store.door(self.fleets.config_for, run.environment, run.run_id),
        )  # fmt: skip

    def connector_for_run(self) -> Connector:
        connector = self._connectors(self.config.ssh, self.redactor)
        if not self._secrets:
            return connector
        values = {k: v.get_secret_value() for k, v in self._secrets.items()}
        return SecretFeeding(connector, remote.secrets_input(values))

    # -- queries --------------------------------------------------------------------------------------------

    async def resolve_ref(self, ref: str) -> str:
        return await self.mirror.resolve(ref)

    async def commits_between(self, old_sha: str | None, new_sha: str, limit: int = 20) -> list[Commit]:
        return await self.mirror.commits_between(old_sha, new_sha, limit)

    async def deployed_sha(self, environment: str) -> str | None:
        run = await self.store.door(self.store.last_success, self.config.app, environment)
        return run.sha if run else None

    async def history(self, environment: str | None = None, limit: int = 20) -> list[RunRecord]:
        if environment is not None:
            select_hosts(self.config, environment, None)
        return await self.store.door(self.store.list_runs, self.config.app, environment, limit)

    async def status(self, environment: str) -> EnvironmentStatus:
        """What each host of ``environment`` runs (see :func:`deploy.fleet.status.read_status`)."""
        config = await self.fleets.resolve(environment)
        return await read_status(config, self.store, self.connector_for_run(), environment)

    # -- runs -----------------------------------------------------------------------------------------------

    async def plan(self, environment: str, sha: str, release: str, user: str, hosts_filter: str | None = None,
                   run_id: str | None = None) -> DeployPlan:  # fmt: skip
        """The plan on the environment's hosts as last discovered (or as the run ``run_id`` recorded them, read
        through the store's door)."""
        config = await self.store.door(self.fleets.config_for, environment, run_id)
        secrets = {k: v.get_secret_value() for k, v in self._secrets.items()}
        return plan_deploy(config, environment, sha, release, user, hosts_filter, secrets)

    async def recover(self, environment: str | None = None, sink: EventSink = null_sink) -> list[RepairReport]:
        """Repair every dead run of this app (of ``environment``): see :mod:`deploy.run.repair`. Each report is also
        emitted as a :class:`RunRepaired` on ``sink``."""
        if environment is not None:
            select_hosts(self.config, environment, None)
        reports = await self.repairer.repair(environment)
        for r in reports:
            sink(RunRepaired(r.run.run_id, r.run.environment, r.ok, r.message))
            if r.waiting and r.lease is not None:  # this process now holds the run's lease while it waits
                guard = LeaseGuard(
                    partial(self.store.door.urgent, self.store.renew_lease, r.lease), self.store.lease_ttl, r.lease
                )
                self._held[r.run.run_id] = asyncio.create_task(guard.heartbeat())
                self._leases[r.run.run_id] = r.lease
        return reports

    async def resume(
        self, run_id: str, go: bool, *, sink: EventSink = null_sink, gate: Gate | None = None,
        reason: str = "a person chose Abort",
    ) -> RunFinished:  # fmt: skip
        """Continue (``go``) or abort (for ``reason``) a deploy that waits for a person and that this process took
        over from a dead one (:meth:`recover` reports it ``waiting``): the remaining batches, or switch back."""
        door, lease = self.store.door, self._leases.get(run_id)
        run, wait = await door(self.store.get_run, run_id), await door(self.store.ledger.waiting, run_id)
        holder = await door(self.store.lease_holder, run_id)
        if run is None or wait is None or lease is None or holder != self.store.owner:
            raise UsageError(f"run {run_id} is not a waiting run this shipbot took over")
        intents = await door(self.store.ledger.intents, run_id)
        plan = await self.plan(run.environment, run.sha, run.release, run.user, run_id=run_id)
        plan = replace(plan, hosts=tuple(hp for hp in plan.hosts if hp.host.name in intents))
        await door(self.store.writes(lease).resumed)
        if held := self._held.pop(run_id, None):
            held.cancel()
        self._leases.pop(run_id, None)
        started = RunStarted(run_id, "deploy", run.app, run.environment, run.ref, run.sha, run.release, run.user,
                             keys(hp.host for hp in plan.hosts), None, plan.strategy,
                             labels=labels(hp.host for hp in plan.hosts))  # fmt: skip
        batch = wait.batch

        def resume(runner: Runner, _archive: bytes | None) -> Awaitable[RunFinished]:
            return runner.resume(plan, batch, intents, go, reason)

        return await self.drive(run, self.connector_for_run(), sink, started, resume, gate=gate, lease=lease)

    async def repair_first(self, environment: str, sink: EventSink) -> None:
        """Before a deploy or rollback: repair what a dead run left (saying so first); refuse while it can't."""
        for r in await self.recover(environment, sink):
            if not r.ok or r.waiting:
                what = "waits for a person" if r.waiting else "could not be repaired"
                what = "another shipbot took over to repair" if r.lost else what
                raise EnvironmentBusy(environment, r.run.run_id, r.run.user, f"an interrupted run that {what}")

    def _runner(
        self, writes: RunWrites, environment: str, sink: EventSink, connector: Connector, gate: Gate | None
    ) -> Runner:
        async def record(host: str, step: str, result: StepResult) -> None:
            await writes.door(writes.step, host, step, result.ok, result.exit_status, result.duration, result.output,
                              "" if result.ok else result.describe())  # fmt: skip

        t = self.config.timeouts
        timeouts = Timeouts(t.connect, t.switch, t.command)
        seen = self.listing_seen(environment)
        return Runner(
            RunSteps(connector, writes.run_id, sink, record, timeouts, writes.guard, writes, seen), gate, t.pause
        )

    async def deploy(
        self,
        environment: str,
        ref: str | None = None,
        *,
        user: str,
        hosts_filter: str | None = None,
        sink: EventSink = null_sink,
        run_id: str | None = None,
        sha: str | None = None,
        forced: bool = False,
        gate: Gate | None = None,
    ) -> RunFinished:
        """Put ``ref`` (default: the environment's ``ref``) live on every selected host, or change nothing.

        With strategy ``rolling`` or ``blue_green`` the hosts go live batch by batch (:mod:`deploy.run.strategies`);
        when the environment has ``pause: true``, ``gate`` is awaited between batches (True: go on, False: abort
        and switch every switched host back), and a deploy without a gate is refused before anything starts.
        A commit that did not pass ``promote_from`` is refused first (:class:`PromotionRefused`); ``forced`` goes
        past it (and someone else's lock), recorded in the audit and announced on :class:`RunStarted`.
        """
        hosts = select_hosts(await self.fleets.resolve(environment), environment, hosts_filter)
        ref = ref or self.config.environments[environment].ref
        problem = ref_problem(ref)
        if problem:
            raise UsageError(f"{ref!r} is not a valid ref: {problem}")
        await self.check_lock(environment, user, forced)
        sha = sha or await self.resolve_ref(ref)
        block = await self.promotion(environment, sha)
        if block is not None and not forced:
            raise PromotionRefused(block)
        newest = await self.store.door(self.store.newest_release, self.config.app, environment)
        release = await self._release_ids.next(newest)  # after every release named before, by any process
        plan = replace(await self.plan(environment, sha, release, user, hosts_filter), branch=ref)
        if plan.pause is True and gate is None and len(plan.batches) > 1:
            raise UsageError(
                f"{environment} pauses between batches for a person (environments.{environment}.pause: true), and "
                "this deploy has no way to ask one: answer the prompt (or pass --yes) on the command line, or use "
                "the Continue button in chat"
            )
        await self.repair_first(environment, sink)
        run_id = run_id or new_run_id()
        previous = await self.deployed_sha(environment)
        record = RunRecord(
            run_id, "deploy", self.config.app, environment, user, ref, sha, release, "running", time.time(),
            hosts=len(hosts), forced=forced,
        )  # fmt: skip
        connector = self.connector_for_run()
        lease = await self.store.door(self.store.start_run, record, f"{self.config.app} {ref} ({sha[:7]})")
        await self.store.door(record_forced, self.store, user, run_id, block)

        def noted(event: Event) -> None:
            """The end report repeats the plan's notes (a migration a host filter left out), as the start did."""
            sink(replace(event, notes=plan.notes + event.notes) if isinstance(event, RunFinished) else event)

        started = RunStarted(run_id, "deploy", self.config.app, environment, ref, sha, release, user,
                             keys(hosts), previous, plan.strategy, plan.notes, block, labels(hosts))  # fmt: skip
        finished = await self.drive(
            record,
            connector,
            noted,
            started,
            lambda runner, archive: runner.deploy(plan, archive),
            need_archive=self.config.pipeline.transfer == "upload",
            gate=gate,
            lease=lease,
        )
        return replace(finished, notes=plan.notes + finished.notes)

    async def rollback(
        self,
        environment: str,
        *,
        to: str | None = None,
        user: str,
        sink: EventSink = null_sink,
        run_id: str | None = None,
        forced: bool = False,
    ) -> RunFinished:
        """Go back to the previous good release recorded in the hosts' journals (or ``to``)."""
        hosts = select_hosts(await self.fleets.resolve(environment), environment, None)
        if to is not None and ref_problem(to):
            raise UsageError(f"{to!r} is not a release id or SHA")
        await self.check_lock(environment, user, forced)
        await self.repair_first(environment, sink)
        plan = await self.plan(environment, "", "", user)
        run_id = run_id or new_run_id()
        record = RunRecord(
            run_id, "rollback", self.config.app, environment, user, to or "previous", "", "", "running", time.time(),
            hosts=len(hosts), forced=forced,
        )  # fmt: skip
        connector = self.connector_for_run()
        lease = await self.store.door(self.store.start_run, record, f"a rollback of {self.config.app}")
        begun = RunStarted(run_id, "rollback", self.config.app, environment, to or "previous", "", "", user,
                           keys(hosts), await self.deployed_sha(environment), labels=labels(hosts))  # fmt: skip
        return await self.drive(
            record, connector, sink, begun, lambda runner, _archive: runner.rollback(plan, to), lease=lease
        )

    async def converge(self, environment: str, *, user: str, sink: EventSink = null_sink, run_id: str | None = None,
                       forced: bool = False) -> RunFinished:  # fmt: skip
        """Put the live release on the hosts that are behind it (:mod:`deploy.fleet.converge`)."""
        return await converging.converge(self, environment, user=user, sink=sink, run_id=run_id, forced=forced)

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
        """Run the named task on the environment's hosts that have its roles (and match the filter)."""
        task = self.config.tasks.get(name)
        if task is None:
            known = ", ".join(sorted(self.config.tasks)) or "none configured"
            raise UsageError(f"unknown task {name!r}; tasks: {known}")
        hosts = select_hosts(await self.fleets.resolve(environment), environment, hosts_filter)
        if task.roles:
            hosts = [h for h in hosts if set(task.roles) & set(h.roles)]
            if not hosts:
                raise UsageError(f"no host in {environment} has the roles {', '.join(task.roles)} that {name} needs")
        run_id = run_id or new_run_id()
        record = RunRecord(
            run_id, "task", self.config.app, environment, user, name, "", "", "running", time.time(), hosts=len(hosts)
        )
        connector = self.connector_for_run()
        lease = await self.store.door(self.store.start_run, record, f"the task {name}")
        env = {
            **self.config.env,
            **dict.fromkeys(self._secrets, remote.SECRET),
            "SHIPBOT_APP": self.config.app,
            "SHIPBOT_ENV": environment,
            "SHIPBOT_USER": user,
        }
        timeout = task.timeout or self.config.timeouts.task
        started = RunStarted(run_id, "task", self.config.app, environment, name, "", "", user,
                             keys(hosts), labels=labels(hosts))  # fmt: skip
        return await self.drive(
            record,
            connector,
            sink,
            started,
            lambda runner, _archive: runner.task(
                hosts, name, lambda h: remote.in_current(h.deploy_to, env, task.run), timeout
            ),
            lease=lease,
        )

    async def drive(
        self,
        record: RunRecord,
        connector: Connector,
        sink: EventSink,
        started: RunStarted,
        body: Callable[[Runner, bytes | None], Awaitable[RunFinished]],
        need_archive: bool = False,
        gate: Gate | None = None,
        *,
        lease: Lease,
    ) -> RunFinished:
        """Run ``body`` with the run slot held (by ``lease``, which every write of the run carries); record and
        report the end however it comes. The run's connector (and with it a jump host connection) is closed at the
        end, however the run ends."""
        finished: RunFinished | None = None

        def tee(event: Event) -> None:
            """Every event goes on to ``sink`` at once, but the end: it is told once the store has recorded it."""
            nonlocal finished
            if control.handed_over:  # the run goes on in another process: this one reports nothing more
                return
            if isinstance(event, RunFinished):
                finished = event
                return
            told(event)

        def told(event: Event) -> None:
            try:
                sink(event)
            except Exception:  # a broken renderer must never fail or stall a deploy
                log.exception("event_sink_failed", run_id=record.run_id, event=type(event).__name__)

        task = asyncio.current_task()

        def stop_acting() -> None:
            """Lost (a renewal or a write refused): stop the run's task, unless the refusal unwinds it already."""
            if task is not None and asyncio.current_task() is not task:
                task.cancel()

        door = self.store.door
        guard = LeaseGuard(
            partial(door.urgent, self.store.renew_lease, lease), self.store.lease_ttl, lease, stop_acting
        )
        writes = self.store.writes(lease, guard)
        control = self._controls[record.run_id] = RunControl(
            self.store.controls, record.run_id, guard, task, writes, writes.door
        )
        runner = self._runner(writes, record.environment, tee, connector, control.gate(gate))
        await door(writes.hosts, list(started.hosts))
        await door(self.fleets.record, record.run_id, record.environment, started.hosts)
        heartbeat = asyncio.create_task(guard.heartbeat())
        watch = asyncio.create_task(control.watch())
        began = time.monotonic()
        log.info("run_started", run_id=record.run_id, kind=record.kind, app=record.app,
                 environment=record.environment, user=record.user, ref=record.ref, sha=record.sha)  # fmt: skip
        try:
            tee(started)
            archive = await self.mirror.archive(record.sha) if need_archive else None
            result = await body(runner, archive)
        except asyncio.CancelledError:
            if guard.lost and task is not None:
                task.uncancel()
                raise (HandedOver if control.handed_over else LeaseLost)(record.run_id) from None
            raise
        except (NothingToRollBack, LeaseLost):
            raise
        except Exception as exc:
            if finished is None:
                message = str(exc) if isinstance(exc, ShipbotError) else f"internal error: {exc!r}"
                if not isinstance(exc, ShipbotError):
                    log.exception("run_crashed", run_id=record.run_id)
                tee(RunFinished(record.run_id, Outcome.FAILED, message, time.monotonic() - began))
            raise
        finally:
            heartbeat.cancel()
            watch.cancel()
            self._controls.pop(record.run_id, None)
            self.cancelled_by = control.cancelled_by
            await asyncio.shield(connector.close())
            end = finished or RunFinished(record.run_id, Outcome.CANCELLED, "cancelled", time.monotonic() - began)
            if control.handed_over:  # waiting at a pause: the next process takes the lease over at once
                await asyncio.shield(door(writes.give_up))
                log.info("run_handed_over", run_id=record.run_id, environment=record.environment)
            elif not guard.lost:
                await asyncio.shield(self._record_end(record, end, writes))
            if guard.lost and not control.handed_over:  # the new owner records the run; this process only stops
                log.warning("run_lease_lost", run_id=record.run_id, environment=record.environment)
            if finished is not None and not control.handed_over:  # recorded first: "finished" means the slot is free
                told(finished)
        if control.handed_over:
            raise HandedOver(record.run_id)
        if guard.lost:
            raise LeaseLost(record.run_id)
        return result

    async def _record_end(self, record: RunRecord, end: RunFinished, writes: RunWrites) -> None:
        outcomes = [(h.host, h.state.value, h.release, h.sha, h.failed_step, h.error) for h in end.hosts]
        with contextlib.suppress(LeaseLost):  # taken over at the last moment: the guard says lost, nothing written
            if record.kind == "rollback" and end.outcome is Outcome.SUCCESS and end.hosts:  # what it went back to
                await writes.door(writes.update, sha=end.hosts[0].sha or "", release=end.hosts[0].release or "")
            await writes.door(writes.finish, end.outcome.value, end.message, outcomes)
            log.info("run_finished", run_id=record.run_id, kind=record.kind, environment=record.environment,
                     outcome=end.outcome.value, duration=round(end.duration, 3), hosts=len(end.hosts),
                     failed_hosts=len(end.failed_hosts), message=end.message)  # fmt: skip
