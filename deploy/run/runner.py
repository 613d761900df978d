"""Executes a run over SSH: connect once per host, prepare everywhere, go live batch by batch, or put everything
back. The one runner: a :class:`~deploy.run.strategies.Strategy` decides which hosts switch when and when to stop; a
step set (:mod:`deploy.run.switching`, :mod:`deploy.run.colours`) knows how a host goes live; :class:`RunSteps`
(:mod:`deploy.run.steps`) runs and reports every step.

A deploy goes through these phases; every host is waited for and reported in each, none is cut off mid-command
unless the run is cancelled or a step times out (then its remote process group is killed)::

    connect   one connection per host, reused by every later step, and the host probe
    prepare   setup, upload|fetch, link, build on every host; no traffic touched. Once the strategy says stop,
              no host starts a new step, in-flight steps finish.
    migrate   once, on the plan's migrate host, only when every host is prepared; its failure stops the run
    switch    per batch: staged, then live (verify, switch, restart, healthcheck); a pause may come between
    revert    on a stop or a cancel: every host holding this run's changes goes back to what it had
    cleanup   releases that were prepared but are not live are removed (or marked failed when
              ``keep_failed_releases``); after success, retention keeps ``keep_releases`` and never deletes
              ``current`` or the rollback target; every touched host's journal gets one line; a blue/green
              host's old colour is stopped, or its stop scheduled on the host, in that same last exec

A rollback is the switch/revert half with a target release chosen from each host's journal. A task runs one
command per host and reports each host's exit status. However a run ends, exactly one ``RunFinished`` is emitted.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace

import structlog

from deploy import summary
from deploy.capistrano import revisions_log
from deploy.config.durations import format_duration
from deploy.errors import NothingToRollBack
from deploy.events import (
    BatchGate,
    BatchPaused,
    BatchResumed,
    BatchStarted,
    Gate,
    HostState,
    Outcome,
    Phase,
    RunFinished,
)
from deploy.hosts import bookkeeping, chain, chained, guarded, journal
from deploy.run.colours import ColourSwitch
from deploy.run.fanout import every
from deploy.run.hostrun import HostRun, failures
from deploy.run.plan import DeployPlan, Host, Step
from deploy.run.steps import JournalLine, RunSteps
from deploy.run.strategies import Strategy, for_deploy, for_rollback
from deploy.run.switching import ReleaseSwitch, SwitchSteps
from deploy.store.intents import HostIntent

log = structlog.get_logger("shipbot.runner")
_NOT_STARTED = (HostState.PENDING, HostState.PREPARED, HostState.CONNECTING, HostState.PREPARING)


def _sessions(steps: tuple[Step, ...]) -> list[list[Step]]:
    """The prepare steps cut into sessions (:mod:`deploy.hosts.chain`): a step joins the session before it unless it has
    input of its own (then it starts one)."""
    groups: list[list[Step]] = []
    for step in steps:
        own_input = step.stdin is not None or step.stdin_archive or step.bookkeeping
        if groups and chain.chainable(step.command, own_input):
            groups[-1].append(step)
        else:
            groups.append([step])
    return groups


class Runner:
    """Runs one deploy, rollback or task (one runner per run): the strategy and the step set are chosen from
    the plan when the run starts."""

    def __init__(self, steps: RunSteps, gate: Gate | None = None, pause_timeout: float = 3600.0) -> None:
        self.run_id = steps.run_id
        self._steps = steps
        self._sink = steps.sink
        self._gate = gate
        self._pause_timeout = pause_timeout
        self._strategy = Strategy("all", ())
        self._runs: list[HostRun] = []
        self._fatal = False  # a failure no budget covers (migrate)
        self._aborted = ""  # why a person (or nobody) stopped the run at a pause
        self._notes: tuple[str, ...] = ()  # what the end report says about the hosts' revisions.log

    def _stop(self) -> bool:
        return self._strategy.must_stop(len(failures(self._runs)), self._fatal, bool(self._aborted))

    async def _connect(self, plan: DeployPlan, runs: list[HostRun]) -> SwitchSteps:
        """Connect to every host, and probe it unless the first exec does (a deploy's does, a blue/green host's
        colours included); the step set that puts this plan's hosts live."""
        hps = {hp.host.name: hp for hp in plan.hosts}
        first_exec_probes = all(hp.prepare for hp in plan.hosts)
        await self._steps.connect(runs, lambda host: hps[host.name].colours, not first_exec_probes)
        if plan.strategy == "blue_green":
            return ColourSwitch(self._steps, plan)
        return ReleaseSwitch(self._steps, plan)

    async def _batches(self, switch: SwitchSteps, release: str, sha: str) -> None:
        """Every batch of the strategy goes live in turn, until the strategy says stop (or a pause aborts)."""
        by_name = {hr.host.name: hr for hr in self._runs}
        done: list[str] = []
        total = len(self._strategy.batches)
        for index, names in enumerate(self._strategy.batches, 1):
            if self._stop():
                break
            if self._strategy.pauses_before(index) and not await self._pause(index, done, names, release, sha):
                break
            batch = [by_name[n] for n in names if not by_name[n].failed]
            self._steps.phase(Phase.SWITCH)
            if self._strategy.announce_batches:
                self._sink(BatchStarted(self.run_id, index, total, tuple(hr.host.name for hr in batch)))
            await self._batch(switch, batch, release, sha)
            done += [hr.host.name for hr in batch if not hr.failed]

    async def _batch(self, switch: SwitchSteps, batch: list[HostRun], release: str, sha: str) -> None:
        await switch.stage(batch, release, sha)
        if self._strategy.put_back_at_once:
            await switch.put_back(failures(batch))
        if self._stop():
            return
        ready = [hr for hr in batch if not hr.failed]
        await switch.go_live(ready, release, sha)
        if self._strategy.put_back_at_once:
            await switch.put_back(failures(ready))

    async def _pause(self, index: int, done: list[str], names: tuple[str, ...], release: str, sha: str) -> bool:
        s = self._strategy
        total = len(s.batches)
        wait = None if s.pause is True else float(s.pause)
        gate = BatchGate(
            self.run_id, index, total, tuple(done), tuple(names),
            tuple(hr.host.name for hr in failures(self._runs)), s.max_failures or 0, wait,
        )  # fmt: skip
        self._sink(BatchPaused(self.run_id, gate))
        writes = self._steps.writes
        if writes is not None and wait is None:
            await writes.door(writes.wait, index, release, sha)
        reason = ""
        if wait is not None:
            await asyncio.sleep(wait)
            go = True
        elif self._gate is None:
            go, reason = False, "pause: true needs a person to continue, and this run has no way to ask one"
        else:
            try:
                go = bool(await asyncio.wait_for(self._gate(gate), self._pause_timeout))
                reason = "" if go else "a person chose Abort"
            except TimeoutError:
                go, reason = False, f"nobody answered within {format_duration(self._pause_timeout)}"
            except Exception as exc:  # a broken prompt aborts the run, it never continues it
                go, reason = False, f"the pause prompt failed: {exc!r}"
        if writes is not None and wait is None:
            await writes.door(writes.resumed)
        self._sink(BatchResumed(self.run_id, index, total, go, reason))
        if not go:
            self._aborted = f"aborted at the pause before batch {index}/{total} ({reason})"
        return go

    # -- deploy -------------------------------------------------------------------------------------------

    async def deploy(self, plan: DeployPlan, archive: bytes | None) -> RunFinished:
        self._strategy = for_deploy(plan)
        runs = self._runs = [HostRun(hp.host) for hp in plan.hosts]
        outcome, message, cancelled = Outcome.FAILED, "", False
        switch: SwitchSteps = ReleaseSwitch(self._steps, plan)
        try:
            switch = await self._connect(plan, runs)
            if not self._stop():
                await self._prepare(plan, runs, archive)
            if not self._stop() and plan.migrate and plan.migrate_host:
                self._steps.phase(Phase.MIGRATE)
                hr = next(r for r in runs if r.host.name == plan.migrate_host)
                if hr.failed or not await self._steps.step(hr, "migrate", plan.migrate.command, plan.migrate.timeout):
                    self._fatal = True
                    self._steps.state(hr, HostState.FAILED)
            await self._batches(switch, plan.release, plan.sha)
            if not self._stop():
                outcome = Outcome.SUCCESS
        except asyncio.CancelledError:
            cancelled, outcome = True, Outcome.CANCELLED
        finally:
            if self._steps.lost:  # another shipbot owns the run now and repairs it: do nothing more
                message = "this shipbot lost the run's lease; the one that took it over repairs the fleet"
            elif outcome is Outcome.SUCCESS:
                message = await asyncio.shield(self._after_success(plan, switch))
            else:
                message = await asyncio.shield(self._undo(plan, switch, cancelled))
            await asyncio.shield(self._steps.close(runs))
        if self._aborted and not cancelled:
            outcome = Outcome.CANCELLED
        finished = self._steps.finish(runs, outcome, message, plan.release, plan.sha, self._notes)
        if cancelled:
            raise asyncio.CancelledError
        return finished

    async def _prepare(self, plan: DeployPlan, runs: list[HostRun], archive: bytes | None) -> None:
        """Prepare every host that is not failed yet; once the strategy says stop, no host starts a new step."""
        s = self._steps
        s.phase(Phase.PREPARE)
        by_name = {hp.host.name: hp for hp in plan.hosts}

        async def one(hr: HostRun) -> None:
            s.state(hr, HostState.PREPARING)
            prepare = by_name[hr.host.name].prepare
            for group in _sessions(prepare):
                if self._stop():
                    s.state(hr, HostState.UNTOUCHED if not hr.created else HostState.PENDING)
                    return
                step = group[0]
                hr.created = True  # from the first exec on, the release may exist (a cancel may land mid-command)
                stdin = step.stdin if step.stdin is not None else archive if step.stdin_archive else None
                if len(group) == 1:
                    results = [
                        await s.run(hr, step.name, step.command, step.timeout, stdin, bookkeeping=step.bookkeeping)
                    ]
                else:
                    links = [chain.Link(st.name, st.command, st.timeout, whole=st.bookkeeping) for st in group]
                    results = await chained.run(s, hr, links, stdin, stop=self._stop)
                if step is prepare[0] and results and results[0].exit_status == guarded.REFUSED:
                    hr.created = False  # setup refused before making anything (the release was already there)
                if not results or not results[-1].ok:
                    s.state(hr, HostState.FAILED)
                    return
                if len(results) < len(group):  # the strategy said stop as the next step began: it was killed
                    s.state(hr, HostState.PENDING)
                    return
            s.state(hr, HostState.PREPARED)

        await every(one(hr) for hr in runs if not hr.failed)

    def _capistrano(self, plan: DeployPlan) -> bool:
        """Whether the run writes Capistrano's revisions.log too (the layout, and for ``auto`` the revisions.log
        the hosts' listings showed); what the end report says of it, and of lines it ignored, goes in its notes."""
        logs = {hr.host.name: hr.listing.capistrano if hr.listing else None for hr in self._runs}
        capistrano, self._notes = revisions_log.decide(plan.layout, logs)
        for host, found in logs.items():
            if found is not None and found.bad:
                log.warning("revisions_log_lines_ignored", run=self.run_id, host=host, lines=list(found.bad))
        return capistrano

    def _journal_line(self, plan: DeployPlan, action: str = "deploy", release: str = "", sha: str = "") -> JournalLine:
        capistrano = self._capistrano(plan)
        return JournalLine(
            action, plan.user, sha or plan.sha, release or plan.release, plan.branch, capistrano=capistrano
        )

    async def _after_success(self, plan: DeployPlan, switch: SwitchSteps) -> str:
        runs, s = self._runs, self._steps
        failed = failures(runs)
        s.phase(Phase.CLEANUP)
        await bookkeeping.finish_hosts(
            s,
            runs,
            self._journal_line(plan),
            lambda hr: ("reverted" if hr.failed else "success") if hr.created or not hr.failed else None,
            keep=plan.keep_releases,
            discard=lambda hr: hr.failed and hr.created and not hr.switched,
            keep_failed=plan.keep_failed_releases,
            then=lambda hr: None if hr.failed else switch.retiring(hr),  # the old colour, in the same exec
        )
        for hr in runs:
            s.state(hr, HostState.DONE if hr.state is HostState.HEALTHY else hr.state)
        return summary.deploy_success(plan.app, plan.sha, plan.environment, runs, failed, plan.max_failures)

    async def _undo(self, plan: DeployPlan, switch: SwitchSteps, cancelled: bool) -> str:
        runs, s = self._runs, self._steps
        failed = failures(runs)
        over = self._strategy.over_budget(len(failed), self._fatal) and not cancelled and not self._aborted
        await switch.put_back([hr for hr in runs if switch.holds_changes(hr)])
        outcome = "cancelled" if cancelled or self._aborted else "failed"
        s.phase(Phase.CLEANUP)
        await bookkeeping.finish_hosts(
            s,
            runs,
            self._journal_line(plan),
            lambda hr: ("reverted" if hr.state is HostState.REVERTED else outcome) if hr.created else None,
            discard=lambda hr: hr.created and not hr.switched and not hr.maybe_switched,
            keep_failed=plan.keep_failed_releases,
        )
        for hr in runs:
            if hr.state in _NOT_STARTED:
                s.state(hr, HostState.UNTOUCHED)
            elif hr.state is HostState.HEALTHY:
                s.state(hr, HostState.REVERTED)
        return summary.deploy_undone(
            plan.environment,
            failed,
            [hr for hr in runs if hr.switched],
            len([hr for hr in runs if hr.state is HostState.REVERTED]),
            cancelled=cancelled,
            aborted=self._aborted,
            over_budget=plan.max_failures if over else None,
        )

    async def resume(
        self,
        plan: DeployPlan,
        batch: int,
        intents: dict[str, HostIntent],
        go: bool,
        reason: str = "a person chose Abort",
    ) -> RunFinished:
        """Finish a deploy another process left waiting before ``batch``: the remaining batches when ``go``, else
        every switched host back (an Abort). Hosts the ledger shows switched count as live on the new release."""
        strategy = for_deploy(plan)
        self._strategy = replace(strategy, batches=strategy.batches[batch - 1 :])
        runs = self._runs = [HostRun(hp.host) for hp in plan.hosts]
        outcome, message, cancelled = Outcome.FAILED, "", False
        switch: SwitchSteps = ReleaseSwitch(self._steps, plan)
        try:
            await self._steps.connect(runs)
            for hr in runs:
                hr.created, it = True, intents.get(hr.host.name)
                if it is not None and it.maybe_switched:
                    hr.previous, hr.previous_sha, hr.target = it.from_release, it.from_sha, it.to_release
                    hr.switched, hr.state = True, HostState.HEALTHY
            if not go:
                self._aborted = f"aborted at the pause before batch {batch} ({reason})"
            else:
                await self._batches(switch, plan.release, plan.sha)
                outcome = Outcome.SUCCESS if not self._stop() else outcome
        except asyncio.CancelledError:
            cancelled, outcome = True, Outcome.CANCELLED
        finally:
            if outcome is Outcome.SUCCESS:
                message = await asyncio.shield(self._after_success(plan, switch))
            else:
                message = await asyncio.shield(self._undo(plan, switch, cancelled))
            await asyncio.shield(self._steps.close(runs))
        finished = self._steps.finish(runs, outcome if not self._aborted else Outcome.CANCELLED, message, plan.release,
                                      plan.sha, self._notes)  # fmt: skip
        if cancelled:
            raise asyncio.CancelledError
        return finished

    # -- rollback -----------------------------------------------------------------------------------------

    async def rollback(self, plan: DeployPlan, to: str | None) -> RunFinished:
        """Switch every host to the previous good release in its journal (or ``to``), through the same stage and
        go-live steps as a deploy, putting every host back on failure.

        Raises :class:`NothingToRollBack` (after emitting ``RunFinished``) when the hosts have no common target.
        """
        self._strategy = for_rollback(plan)
        runs = self._runs = [HostRun(hp.host) for hp in plan.hosts]
        outcome, message, target, cancelled = Outcome.FAILED, "", None, False
        no_target: str | None = None
        switch: SwitchSteps = ReleaseSwitch(self._steps, plan)
        try:
            switch = await self._connect(plan, runs)
            if not self._stop():
                target, no_target = await self._rollback_target(runs, to)
                self._capistrano(plan)  # the report names ignored lines, even when there is nothing to go back to
            if target is not None:
                await self._batches(switch, target.release, target.sha)
                if not self._stop():
                    outcome = Outcome.SUCCESS
                    message = (
                        f"{plan.environment} {switch.rollback_verb} to release {target.release} ({target.sha[:12]}) "
                        f"on {summary.all_hosts(len(runs))}"
                    )
        except asyncio.CancelledError:
            cancelled, outcome = True, Outcome.CANCELLED
        finally:
            if self._steps.lost:
                message, target = "this shipbot lost the run's lease; the one that took it over repairs the fleet", None
            elif outcome is not Outcome.SUCCESS and not no_target:
                await asyncio.shield(switch.put_back([hr for hr in runs if switch.holds_changes(hr)]))
                failed = failures(runs)
                if cancelled:
                    message = "rollback cancelled; every host is back where it was"
                elif failed:
                    message = f"{summary.first_failure(failed)}; {plan.environment} is still on the release it had"
            if target is not None:
                line = self._journal_line(plan, "rollback", target.release, target.sha)
                result = "success" if outcome is Outcome.SUCCESS else "reverted"
                retiring = switch.retiring if outcome is Outcome.SUCCESS else (lambda _hr: None)
                await asyncio.shield(self._steps.journal(runs, line, lambda _hr: result, retiring))
            for hr in runs:
                if hr.state is HostState.HEALTHY:
                    self._steps.state(hr, HostState.DONE)
            await asyncio.shield(self._steps.close(runs))
        if no_target:
            message = no_target
        finished = self._steps.finish(
            runs, outcome, message, target.release if target else None, target.sha if target else None, self._notes
        )
        if cancelled:
            raise asyncio.CancelledError
        if no_target:
            raise NothingToRollBack(no_target)
        return finished

    async def _rollback_target(self, runs: list[HostRun], to: str | None) -> tuple[journal.Entry | None, str | None]:
        """The one release every host agrees to roll back to, or why there is none."""
        chosen: dict[str, journal.Entry | None] = {}

        async def one(hr: HostRun) -> None:
            found = hr.listing = await self._steps.listing(hr)
            chosen[hr.host.name] = (
                None if found is None else found.find(to) if to else found.rollback_target(hr.previous)
            )

        await every(one(hr) for hr in runs)
        missing = [name for name, e in chosen.items() if e is None]
        wanted = f"release or SHA {to!r}" if to else "earlier successful release"
        if missing:
            whose = "has" if len(missing) == 1 else "have"
            return None, f"nothing to roll back to: {', '.join(missing)} {whose} no {wanted} in the journal"
        releases = {e.release for e in chosen.values() if e}
        if len(releases) > 1:
            detail = ", ".join(f"{n} -> {e.release}" for n, e in chosen.items() if e)
            return None, f"the hosts disagree on the previous release ({detail}); roll back with --to RELEASE"
        return next(iter(chosen.values())), None

    # -- task ---------------------------------------------------------------------------------------------

    async def task(
        self, hosts: list[Host], name: str, command_for: Callable[[Host], str], timeout: float
    ) -> RunFinished:
        """Run one named command on each host; report every host's exit status and output."""
        runs, s = [HostRun(h) for h in hosts], self._steps
        cancelled = False
        try:
            await s.connect(runs)
            s.phase(Phase.TASK)

            async def one(hr: HostRun) -> None:
                if hr.conn is None:
                    return
                result = await s.run(hr, name, command_for(hr.host), timeout)
                hr.output = result.output
                s.state(hr, HostState.DONE if result.ok else HostState.FAILED)

            await every(one(hr) for hr in runs)
        except asyncio.CancelledError:
            cancelled = True
        finally:
            await asyncio.shield(s.close(runs))
        failed = failures(runs)
        outcome = Outcome.CANCELLED if cancelled else Outcome.FAILED if failed else Outcome.SUCCESS
        finished = s.finish(runs, outcome, summary.task_result(name, runs, failed, cancelled), None, None)
        if cancelled:
            raise asyncio.CancelledError
        return finished
