"""Executes a run over SSH: connect once per host, prepare everywhere, switch everywhere, or put everything back.

A deploy goes through these phases; every host is waited for and reported in each, none is cut off mid-command
unless the run is cancelled or a step times out (then its remote process group is killed)::

    connect   one connection per host, reused by every later step (handshakes bounded by the connector)
    prepare   setup, upload|fetch, link, build on every host; no traffic touched. After the first failure no host
              starts a new step, in-flight steps finish, and the run fails.
    migrate   once, on the plan's migrate host, only when every host is prepared
    switch    per host: verify REVISION == the pinned SHA, atomic rename of ``current``, restart, healthcheck
    revert    on any failure or cancel: every host that was switched goes back to its previous release (or to no
              ``current`` if it had none) and is restarted
    cleanup   releases that were prepared but are not live are removed (or marked failed when
              ``keep_failed_releases``); after success, retention keeps ``keep_releases`` and never deletes
              ``current`` or the rollback target; every touched host's journal gets one line

A rollback is the switch/revert/cleanup half with a target release chosen from each host's journal. A task runs one
command per host and reports each host's exit status. However a run ends, exactly one ``RunFinished`` is emitted.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from deploy import journal, remote
from deploy.config import HealthCheck
from deploy.errors import HostError, NothingToRollBack
from deploy.events import (
    EventSink,
    HostOutcome,
    HostState,
    HostStateChanged,
    HostStepFinished,
    HostStepStarted,
    Outcome,
    Phase,
    PhaseChanged,
    RunFinished,
)
from deploy.plan import DeployPlan, Host, Step
from deploy.retention import releases_to_delete
from deploy.ssh import Connector, HostConnection, StepResult

StepRecorder = Callable[[str, str, StepResult], None]


@dataclass
class HostRun:
    """What the runner knows about one host during a run (mutable, owned by the runner)."""

    host: Host
    conn: HostConnection | None = None
    state: HostState = HostState.PENDING
    previous: str | None = None  # release ``current`` pointed to before the run
    previous_sha: str | None = None
    created: bool = False  # this run created its release dir here
    switched: bool = False
    failed_step: str | None = None
    error: str = ""
    output: str = ""

    @property
    def failed(self) -> bool:
        return self.failed_step is not None


class Runner:
    def __init__(
        self,
        connector: Connector,
        run_id: str,
        sink: EventSink,
        record: StepRecorder | None = None,
        connect_timeout: float = 15.0,
        switch_timeout: float = 30.0,
        command_timeout: float = 60.0,
    ) -> None:
        self._connector = connector
        self.run_id = run_id
        self._sink = sink
        self._record = record
        self._connect_timeout = connect_timeout
        self._switch_timeout = switch_timeout
        self._command_timeout = command_timeout
        self._started = time.monotonic()
        self._failed = asyncio.Event()

    # -- small helpers ------------------------------------------------------------------------------------

    def _emit_state(self, hr: HostRun, state: HostState) -> None:
        hr.state = state
        self._sink(HostStateChanged(self.run_id, hr.host.name, state))

    def _phase(self, phase: Phase) -> None:
        self._sink(PhaseChanged(self.run_id, phase))

    async def _step(self, hr: HostRun, name: str, command: str, timeout: float, stdin: bytes | None = None) -> bool:
        """Run one step on a host; on failure mark the host failed (naming the step) and return False."""
        assert hr.conn is not None
        self._sink(HostStepStarted(self.run_id, hr.host.name, name))
        result = await hr.conn.run(command, timeout, stdin)
        self._sink(
            HostStepFinished(
                self.run_id, hr.host.name, name, result.ok, result.exit_status, result.duration, result.output,
                "" if result.ok else result.describe(),
            )
        )  # fmt: skip
        if self._record:
            self._record(hr.host.name, name, result)
        if not result.ok:
            hr.failed_step = name
            hr.error = result.describe()
            hr.output = result.output
            self._failed.set()
            return False
        return True

    async def _quiet(self, hr: HostRun, command: str, timeout: float | None = None) -> StepResult | None:
        """Run a bookkeeping command (probe, journal, cleanup) that never fails the run."""
        if hr.conn is None:
            return None
        return await hr.conn.run(command, timeout or self._command_timeout)

    def _finish(
        self, runs: Iterable[HostRun], outcome: Outcome, message: str, release: str | None, sha: str | None
    ) -> RunFinished:
        hosts = []
        for hr in runs:
            on_new = hr.switched and outcome is Outcome.SUCCESS
            hosts.append(
                HostOutcome(
                    host=hr.host.name,
                    state=hr.state,
                    release=release if on_new else hr.previous,
                    sha=sha if on_new else hr.previous_sha,
                    failed_step=hr.failed_step,
                    error=hr.error,
                    output_tail=hr.output,
                )
            )
        self._phase(Phase.DONE)
        finished = RunFinished(self.run_id, outcome, message, time.monotonic() - self._started, tuple(hosts))
        self._sink(finished)
        return finished

    # -- phases -------------------------------------------------------------------------------------------

    async def _connect(self, runs: list[HostRun]) -> None:
        self._phase(Phase.CONNECT)

        async def one(hr: HostRun) -> None:
            self._emit_state(hr, HostState.CONNECTING)
            try:
                hr.conn = await self._connector.connect(hr.host, self._connect_timeout)
            except HostError as exc:
                hr.failed_step, hr.error = "connect", str(exc).removeprefix(f"{hr.host.name}: connect failed: ")
                self._sink(HostStepFinished(self.run_id, hr.host.name, "connect", False, None, 0.0, "", hr.error))
                self._failed.set()
                self._emit_state(hr, HostState.FAILED)
                return
            result = await hr.conn.run(remote.probe(hr.host.deploy_to), self._command_timeout)
            lines = result.output.splitlines() if result.ok else []
            if len(lines) >= 2:
                hr.previous = None if lines[-2] == remote.NO_CURRENT else lines[-2]
                hr.previous_sha = None if lines[-1] == remote.NO_CURRENT else lines[-1]
            elif not result.ok:
                hr.failed_step, hr.error = "probe", result.describe()
                self._failed.set()
                self._emit_state(hr, HostState.FAILED)
                return
            self._emit_state(hr, HostState.PENDING)

        await asyncio.gather(*(one(hr) for hr in runs))

    async def _switch_one(
        self, hr: HostRun, release: str, sha: str, restart: Step | None, healthcheck: HealthCheck | None
    ) -> None:
        d = hr.host.deploy_to
        if not await self._step(hr, "verify", remote.verify(d, release, sha), self._command_timeout):
            if not hr.error.startswith("connection lost"):
                hr.error = f"REVISION in release {release} is not {sha[:12]}: {hr.error}"
            self._emit_state(hr, HostState.FAILED)
            return
        if not await self._step(hr, "switch", remote.switch(d, release), self._switch_timeout):
            self._emit_state(hr, HostState.FAILED)
            return
        hr.switched = True
        self._emit_state(hr, HostState.SWITCHED)
        if restart and not await self._step(hr, "restart", restart.command, restart.timeout):
            self._emit_state(hr, HostState.FAILED)
            return
        if healthcheck and not await self._healthcheck(hr, healthcheck, release):
            self._emit_state(hr, HostState.FAILED)
            return
        self._emit_state(hr, HostState.HEALTHY)

    async def _healthcheck(
        self, hr: HostRun, hc: HealthCheck, release: str, command: str | None = None, step: str = "healthcheck"
    ) -> bool:
        """Run ``hc`` (or ``command``, e.g. in a blue/green colour) until it passes or its retries run out."""
        command = command or remote.in_release(hr.host.deploy_to, release, {}, hc.run)
        assert hr.conn is not None
        self._sink(HostStepStarted(self.run_id, hr.host.name, step))
        result: StepResult | None = None
        for attempt in range(hc.retries):
            if attempt:
                await asyncio.sleep(hc.interval)
            result = await hr.conn.run(command, hc.timeout)
            if result.ok:
                break
        assert result is not None
        ok = result.ok
        error = "" if ok else f"still failing after {hc.retries} tries: {result.describe()}"
        self._sink(
            HostStepFinished(self.run_id, hr.host.name, step, ok, result.exit_status, result.duration,
                             result.output, error)
        )  # fmt: skip
        if self._record:
            self._record(hr.host.name, step, result)
        if not ok:
            hr.failed_step, hr.error, hr.output = step, error, result.output
            self._failed.set()
        return ok

    async def _switch_all(
        self, runs: list[HostRun], targets: dict[str, str], sha: str, restart: dict[str, Step | None],
        healthcheck: HealthCheck | None,
    ) -> None:  # fmt: skip
        self._phase(Phase.SWITCH)
        await asyncio.gather(
            *(self._switch_one(hr, targets[hr.host.name], sha, restart[hr.host.name], healthcheck) for hr in runs)
        )

    async def _revert(self, runs: list[HostRun], restart_for: Callable[[HostRun], str | None]) -> None:
        """Every switched host goes back to the release it had before the run, and is restarted there."""
        switched = [hr for hr in runs if hr.switched]
        if not switched:
            return
        self._phase(Phase.REVERT)

        async def one(hr: HostRun) -> None:
            d = hr.host.deploy_to
            ok = await self._step(hr, "revert", remote.switch(d, hr.previous), self._switch_timeout)
            if ok:
                hr.switched = False
                command = restart_for(hr)
                if hr.previous and command:
                    await self._step(hr, "restart previous", command, self._command_timeout * 2)
            if not ok:
                hr.error = f"could not switch back to {hr.previous}: {hr.error}. Check this host by hand."
            self._emit_state(hr, HostState.REVERTED if ok else HostState.FAILED)

        await asyncio.gather(*(one(hr) for hr in switched))

    async def _cleanup_failed(self, runs: list[HostRun], release: str, keep: bool) -> None:
        created = [hr for hr in runs if hr.created and not hr.switched and hr.conn]
        if not created:
            return
        self._phase(Phase.CLEANUP)
        await asyncio.gather(
            *(
                self._quiet(
                    hr,
                    remote.mark_failed(hr.host.deploy_to, release)
                    if keep
                    else remote.remove_releases(hr.host.deploy_to, [release]),
                )
                for hr in created
            )
        )

    async def _write_journal(self, runs: list[HostRun], line_for: Callable[[HostRun], str | None]) -> None:
        async def one(hr: HostRun) -> None:
            line = line_for(hr)
            if line and hr.conn:
                await self._quiet(hr, remote.append_journal(hr.host.deploy_to, line))

        await asyncio.gather(*(one(hr) for hr in runs))

    async def _retention(self, runs: list[HostRun], keep: int) -> None:
        async def one(hr: HostRun) -> None:
            d = hr.host.deploy_to
            pinned_cmd = remote.pinned_releases(d)
            listing = await self._quiet(
                hr, f"{remote.list_releases(d)}; echo ---; {pinned_cmd}; echo ---; {remote.read_journal(d)}"
            )
            if listing is None or not listing.ok:
                return
            names, _, rest = listing.output.partition("---\n")
            pinned, _, journal_text = rest.partition("---\n")
            existing = set(names.split())
            current = next((e.release for e in reversed(journal.parse(journal_text)) if e.outcome == "success"), None)
            target = journal.rollback_target(journal.parse(journal_text), current, existing)
            doomed = releases_to_delete(existing, keep, [current, target.release if target else None, *pinned.split()])
            if doomed:
                await self._quiet(hr, remote.remove_releases(d, doomed))

        await asyncio.gather(*(one(hr) for hr in runs))

    async def _close(self, runs: list[HostRun]) -> None:
        await asyncio.gather(*(hr.conn.close() for hr in runs if hr.conn), return_exceptions=True)

    # -- runs ---------------------------------------------------------------------------------------------

    async def deploy(self, plan: DeployPlan, archive: bytes | None) -> RunFinished:
        runs = [HostRun(hp.host) for hp in plan.hosts]
        outcome, message = Outcome.FAILED, ""
        cancelled = False
        try:
            await self._connect(runs)
            if not self._failed.is_set():
                await self._prepare(plan, runs, archive)
            if not self._failed.is_set() and plan.migrate and plan.migrate_host:
                self._phase(Phase.MIGRATE)
                hr = next(r for r in runs if r.host.name == plan.migrate_host)
                await self._step(hr, "migrate", plan.migrate.command, plan.migrate.timeout)
                if hr.failed:
                    self._emit_state(hr, HostState.FAILED)
            if not self._failed.is_set():
                first_hp = plan.hosts[0]
                await self._switch_all(
                    runs,
                    {hp.host.name: plan.release for hp in plan.hosts},
                    plan.sha,
                    {hp.host.name: hp.restart for hp in plan.hosts},
                    first_hp.healthcheck,
                )
            if not self._failed.is_set():
                outcome = Outcome.SUCCESS
                message = f"{plan.app} {plan.sha[:12]} is live on all {len(runs)} hosts of {plan.environment}"
        except asyncio.CancelledError:
            cancelled, outcome = True, Outcome.CANCELLED
        finally:
            if outcome is not Outcome.SUCCESS:
                message = await asyncio.shield(self._undo_deploy(plan, runs, cancelled))
            else:
                await asyncio.shield(self._after_success(plan, runs))
            await asyncio.shield(self._close(runs))
        finished = self._finish(runs, outcome, message, plan.release, plan.sha)
        if cancelled:
            raise asyncio.CancelledError
        return finished

    def _stop(self) -> bool:
        """Whether hosts may start no new step. Here: any failure; the staged runner allows a failure budget."""
        return self._failed.is_set()

    async def _prepare(self, plan: DeployPlan, runs: list[HostRun], archive: bytes | None) -> None:
        """Prepare every host that is not failed yet; after ``_stop()`` no host starts a new step."""
        self._phase(Phase.PREPARE)
        by_name = {hp.host.name: hp for hp in plan.hosts}

        async def one(hr: HostRun) -> None:
            self._emit_state(hr, HostState.PREPARING)
            for step in by_name[hr.host.name].prepare:
                if self._stop():
                    self._emit_state(hr, HostState.UNTOUCHED if not hr.created else HostState.PENDING)
                    return
                ok = await self._step(
                    hr, step.name, step.command, step.timeout, archive if step.stdin_archive else None
                )
                if step.name == "setup" and ok:
                    hr.created = True
                if not ok:
                    hr.created = hr.created or step.name != "setup"
                    self._emit_state(hr, HostState.FAILED)
                    return
            self._emit_state(hr, HostState.PREPARED)

        await asyncio.gather(*(one(hr) for hr in runs if not hr.failed))

    async def _undo_deploy(self, plan: DeployPlan, runs: list[HostRun], cancelled: bool) -> str:
        by_name = {hp.host.name: hp for hp in plan.hosts}

        def restart_previous(hr: HostRun) -> str | None:
            return plan.restart_in(by_name[hr.host.name], hr.previous, hr.previous_sha) if hr.previous else None

        await self._revert(runs, restart_previous)
        await self._cleanup_failed(runs, plan.release, plan.keep_failed_releases)
        outcome = "cancelled" if cancelled else "failed"
        await self._write_journal(
            runs,
            lambda hr: journal.entry(
                action="deploy", run=self.run_id, user=plan.user, sha=plan.sha, release=plan.release,
                previous=hr.previous, outcome="reverted" if hr.state is HostState.REVERTED else outcome,
            ).to_line() if hr.created else None,
        )  # fmt: skip
        for hr in runs:
            if hr.state in (HostState.PENDING, HostState.PREPARED, HostState.CONNECTING, HostState.PREPARING):
                self._emit_state(hr, HostState.UNTOUCHED)
        failed = [hr for hr in runs if hr.failed]
        stuck = [hr for hr in runs if hr.switched]
        if cancelled:
            head = f"cancelled; {len([h for h in runs if h.state is HostState.REVERTED])} switched host(s) reverted"
        elif failed:
            first = failed[0]
            more = f" (and {len(failed) - 1} more host(s))" if len(failed) > 1 else ""
            head = f"{first.host.name}: {first.failed_step} failed: {first.error}{more}"
        else:
            head = "failed"
        tail = (
            f"; {len(stuck)} host(s) could not be switched back: {', '.join(h.host.name for h in stuck)}"
            if stuck
            else f"; {plan.environment} is still on its previous release"
        )
        return head + tail

    async def _after_success(self, plan: DeployPlan, runs: list[HostRun]) -> None:
        self._phase(Phase.CLEANUP)
        await self._write_journal(
            runs,
            lambda hr: journal.entry(
                action="deploy", run=self.run_id, user=plan.user, sha=plan.sha, release=plan.release,
                previous=hr.previous, outcome="success",
            ).to_line(),
        )  # fmt: skip
        await self._retention(runs, plan.keep_releases)
        for hr in runs:
            self._emit_state(hr, HostState.DONE if hr.state is HostState.HEALTHY else hr.state)

    async def rollback(self, plan: DeployPlan, to: str | None) -> RunFinished:
        """Switch every host to the previous good release in its journal (or ``to``), through the same
        verify, switch, restart and healthcheck path as a deploy, reverting on failure.

        The steps that differ by strategy are hooks (``_rollback_ready``, ``_rollback_switch``,
        ``_rollback_failed``, ``_rollback_undo``, ``_rollback_done``); the blue/green runner overrides them.
        Raises :class:`NothingToRollBack` (after emitting ``RunFinished``) when the hosts have no common target.
        """
        runs = [HostRun(hp.host) for hp in plan.hosts]
        outcome, message, target = Outcome.FAILED, "", None
        cancelled = False
        no_target: str | None = None
        try:
            await self._connect(runs)
            await self._rollback_ready(plan, runs)
            if not self._rollback_failed(plan, runs):
                target, no_target = await self._rollback_target(runs, to)
            if target is not None:
                verb = await self._rollback_switch(plan, runs, target)
                if not self._rollback_failed(plan, runs):
                    outcome = Outcome.SUCCESS
                    message = (
                        f"{plan.environment} {verb} to release {target.release} ({target.sha[:12]}) "
                        f"on all {len(runs)} hosts"
                    )
        except asyncio.CancelledError:
            cancelled, outcome = True, Outcome.CANCELLED
        finally:
            if outcome is not Outcome.SUCCESS and not no_target:
                await asyncio.shield(self._rollback_undo(plan, runs))
                failed = [hr for hr in runs if hr.failed]
                if cancelled:
                    message = "rollback cancelled; every host is back where it was"
                elif failed:
                    message = f"{self._describe_failed(failed)}; {plan.environment} is still on the release it had"
            if target is not None:
                t = target
                await asyncio.shield(
                    self._write_journal(
                        runs,
                        lambda hr: journal.entry(
                            action="rollback", run=self.run_id, user=plan.user, sha=t.sha, release=t.release,
                            previous=hr.previous, outcome="success" if outcome is Outcome.SUCCESS else "reverted",
                        ).to_line(),
                    )
                )  # fmt: skip
                if outcome is Outcome.SUCCESS:
                    await asyncio.shield(self._rollback_done(plan, runs))
            for hr in runs:
                if hr.state is HostState.HEALTHY:
                    self._emit_state(hr, HostState.DONE)
            await asyncio.shield(self._close(runs))
        if no_target:
            message = no_target
        finished = self._finish(
            runs, outcome, message, target.release if target else None, target.sha if target else None
        )
        if cancelled:
            raise asyncio.CancelledError
        if no_target:
            raise NothingToRollBack(no_target)
        return finished

    # -- rollback hooks (the blue/green runner overrides them) ----------------------------------------------

    async def _rollback_ready(self, plan: DeployPlan, runs: list[HostRun]) -> None:
        """After connecting, before choosing the target."""

    def _rollback_failed(self, plan: DeployPlan, runs: list[HostRun]) -> bool:
        return self._failed.is_set()

    async def _rollback_switch(self, plan: DeployPlan, runs: list[HostRun], target: journal.Entry) -> str:
        """Put ``target`` live on every host; returns the verb for the result ("rolled back")."""
        by_name = {hp.host.name: hp for hp in plan.hosts}
        timeout = plan.hosts[0].restart.timeout if plan.hosts[0].restart else 60
        restarts = {
            name: Step("restart", cmd, timeout) if (cmd := plan.restart_in(hp, target.release, target.sha)) else None
            for name, hp in by_name.items()
        }
        await self._switch_all(
            runs, {hr.host.name: target.release for hr in runs}, target.sha, restarts, plan.hosts[0].healthcheck
        )
        return "rolled back"

    async def _rollback_undo(self, plan: DeployPlan, runs: list[HostRun]) -> None:
        """A failed or cancelled rollback: every host back on the release it had."""
        by_name = {hp.host.name: hp for hp in plan.hosts}
        await self._revert(
            runs,
            lambda hr: plan.restart_in(by_name[hr.host.name], hr.previous, hr.previous_sha) if hr.previous else None,
        )

    async def _rollback_done(self, plan: DeployPlan, runs: list[HostRun]) -> None:
        """After a successful rollback and its journal lines."""

    @staticmethod
    def _describe_failed(failed: list[HostRun]) -> str:
        first = failed[0]
        more = f" (and {len(failed) - 1} more host(s))" if len(failed) > 1 else ""
        return f"{first.host.name}: {first.failed_step} failed: {first.error}{more}"

    async def _rollback_target(self, runs: list[HostRun], to: str | None) -> tuple[journal.Entry | None, str | None]:
        """The one release every host agrees to roll back to, or why there is none."""
        chosen: dict[str, journal.Entry | None] = {}

        async def one(hr: HostRun) -> None:
            d = hr.host.deploy_to
            listing = await self._quiet(hr, f"{remote.list_releases(d)}; echo ---; {remote.read_journal(d)}")
            if listing is None or not listing.ok:
                chosen[hr.host.name] = None
                return
            names, _, text = listing.output.partition("---\n")
            entries, existing = journal.parse(text), set(names.split())
            chosen[hr.host.name] = (
                journal.find(entries, to, existing) if to else journal.rollback_target(entries, hr.previous, existing)
            )

        await asyncio.gather(*(one(hr) for hr in runs))
        missing = [name for name, e in chosen.items() if e is None]
        wanted = f"release or SHA {to!r}" if to else "an earlier successful release"
        if missing:
            return None, f"nothing to roll back to: {', '.join(missing)} has no {wanted} in its journal"
        releases = {e.release for e in chosen.values() if e}
        if len(releases) > 1:
            detail = ", ".join(f"{n} -> {e.release}" for n, e in chosen.items() if e)
            return None, f"the hosts disagree on the previous release ({detail}); roll back with --to RELEASE"
        return next(iter(chosen.values())), None

    async def task(
        self, hosts: list[Host], name: str, command_for: Callable[[Host], str], timeout: float
    ) -> RunFinished:
        """Run one named command on each host; report every host's exit status and output."""
        runs = [HostRun(h) for h in hosts]
        cancelled = False
        try:
            await self._connect(runs)
            self._phase(Phase.TASK)

            async def one(hr: HostRun) -> None:
                if hr.conn is None:
                    return
                self._sink(HostStepStarted(self.run_id, hr.host.name, name))
                result = await hr.conn.run(command_for(hr.host), timeout)
                err = "" if result.ok else result.describe()
                self._sink(
                    HostStepFinished(self.run_id, hr.host.name, name, result.ok, result.exit_status, result.duration,
                                     result.output, err)
                )  # fmt: skip
                if self._record:
                    self._record(hr.host.name, name, result)
                hr.output = result.output
                if not result.ok:
                    hr.failed_step, hr.error = name, err
                self._emit_state(hr, HostState.DONE if result.ok else HostState.FAILED)

            await asyncio.gather(*(one(hr) for hr in runs))
        except asyncio.CancelledError:
            cancelled = True
        finally:
            await asyncio.shield(self._close(runs))
        failed = [hr for hr in runs if hr.failed]
        if cancelled:
            outcome, message = Outcome.CANCELLED, f"task {name} cancelled"
        elif failed:
            outcome = Outcome.FAILED
            message = f"task {name} failed on {len(failed)} of {len(runs)} hosts: " + "; ".join(
                f"{hr.host.name}: {hr.error}" for hr in failed[:5]
            )
        else:
            outcome, message = Outcome.SUCCESS, f"task {name} succeeded on all {len(runs)} hosts"
        finished = self._finish(runs, outcome, message, None, None)
        if cancelled:
            raise asyncio.CancelledError
        return finished
