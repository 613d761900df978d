"""The steps of a run on its hosts: every event a host emits, every command it runs, every result recorded.

:class:`RunSteps` is handed to the runner and to the step sets (:mod:`deploy.run.switching`, :mod:`deploy.run.colours`);
it owns the run's connector, its event sink and the step recorder, and knows nothing of strategies::

    connect     one connection per host and the host probe (:mod:`deploy.hosts.probe`) on it
    step        a named step: HostStepStarted/Finished, recorded; a failure marks the host failed
    quiet       a bookkeeping command (journal, cleanup, retention) that never fails the run
    healthcheck a step retried until it passes or its retries run out
    revert      switched hosts back to the release they had, restarted there
    cleanup     releases this run prepared and did not put live: removed or marked failed
    journal     one line per touched host (:mod:`deploy.hosts.journal`)
    retention   old releases removed (:mod:`deploy.hosts.retention`), never ``current``, a rollback target or a pinned
    one finish      the one ``RunFinished`` of the run

Every remote command first asks the run's :class:`~deploy.store.leases.LeaseGuard` whether this process still owns the
run (a lost lease runs nothing), and records its remote process group in the run ledger while it runs. Every write
goes through the run's fenced writes (:mod:`deploy.store.fencing`): one that another process's takeover refused stops
the run (the guard is told, the run's task cancelled) before its next remote command.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, replace

import structlog

from deploy.capistrano import revisions_log
from deploy.config.models import HealthCheck
from deploy.errors import HostError, LeaseLost
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
from deploy.hosts import bluegreen, framing, guarded, journal, listing, probe, remote
from deploy.hosts.connector import Connector, StepResult
from deploy.hosts.listing import ReleaseListing
from deploy.redact import tail
from deploy.run.fanout import every
from deploy.run.hostrun import HostRun
from deploy.run.plan import Host
from deploy.store.fencing import RunWrites
from deploy.store.intents import RESTORED
from deploy.store.leases import LeaseGuard
from deploy.store.statements import DatabaseError

log = structlog.get_logger("shipbot.steps")

StepRecorder = Callable[[str, str, StepResult], Awaitable[None]]  # awaited: through the store's door


@dataclass(frozen=True)
class Timeouts:
    connect: float = 15.0
    switch: float = 30.0
    command: float = 60.0


@dataclass(frozen=True)
class JournalLine:
    """What a run writes to the journal of each host it touched (the host's previous release is added)."""

    action: str  # deploy | rollback
    user: str
    sha: str
    release: str
    branch: str = ""  # the ref deployed (Capistrano's revisions.log names it)
    capistrano: bool = False  # also append Capistrano's revisions.log line and keep its folder order

    def capistrano_commands(self, deploy_to: str, previous: str | None) -> list[str]:
        """What a run that went live on a host appends to its revisions.log and how it orders release folders."""
        if not self.capistrano:
            return []
        if self.action == "deploy":
            line = revisions_log.deploy_line(self.branch, self.sha, self.release, self.user)
            return [revisions_log.append(deploy_to, line), revisions_log.order_command(deploy_to, self.release)]
        return [
            revisions_log.append(deploy_to, revisions_log.rollback_line(self.user, self.release)),
            revisions_log.order_command(deploy_to, self.release, previous),
        ]


class RunSteps:
    def __init__(
        self,
        connector: Connector,
        run_id: str,
        sink: EventSink,
        record: StepRecorder | None = None,
        timeouts: Timeouts | None = None,
        guard: LeaseGuard | None = None,
        writes: RunWrites | None = None,
        seen: Callable[[str, ReleaseListing], Awaitable[None]] | None = None,
    ) -> None:
        self.connector = connector
        self.run_id = run_id
        self.sink = sink
        self._record = record
        self.timeouts = timeouts or Timeouts()
        self._started = time.monotonic()
        self.guard = guard
        self.writes = writes
        self._seen = seen  # told of every listing read (Capistrano's history is recorded from it)

    @property
    def lost(self) -> bool:
        """This process lost the run's lease: it must not act for the run any more."""
        return self.guard is not None and self.guard.lost

    async def exec(
        self,
        hr: HostRun,
        command: str,
        timeout: float,
        stdin: bytes | None = None,
        whole: bool = False,
        on_line: Callable[[str], None] | None = None,
    ) -> StepResult:
        """Run one command on the host, if this process still owns the run; its process group is in the ledger
        while it runs. ``whole``: keep all its output (bookkeeping), not only the tail people see."""
        assert hr.conn is not None
        if self.guard is not None and not await self.guard.valid():
            lost = "this shipbot lost the run's lease; another one repairs it"
            return StepResult(None, "", 0.0, error=lost, sent=False)
        writes, pgids = self.writes, []

        async def started(pgid: int) -> None:
            pgids.append(pgid)
            if writes is not None:
                # refused (another process took the run over while this one waited): the step is killed on the host
                # before its go-ahead is sent, so nothing of it runs (the guard also cancels the run's task)
                await writes.door(writes.process_started, hr.host.name, pgid)

        try:
            if whole:
                result = await hr.conn.read(command, timeout, stdin, started)
            elif on_line is not None:
                result = await hr.conn.run(command, timeout, stdin, started, on_line)
            else:
                result = await hr.conn.run(command, timeout, stdin, started)
        except LeaseLost:  # the connection killed the step, which never had its go-ahead (see deploy.hosts.ssh)
            lost = "this shipbot lost the run's lease; another one repairs it"
            return StepResult(None, "", 0.0, error=lost, sent=False)
        except DatabaseError as exc:  # the connection killed the step before this propagated (see deploy.hosts.ssh)
            log.warning("step_not_recorded", run_id=self.run_id, host=hr.host.name, error=str(exc))
            why = (str(exc).splitlines() or [type(exc).__name__])[0][:200]
            error = f"the store could not record the step's process group, so the step was stopped on the host: {why}"
            return StepResult(None, "", 0.0, error=error)
        if writes is not None:
            for pgid in pgids:
                try:
                    await writes.door(writes.process_ended, hr.host.name, pgid)
                except DatabaseError:  # the step is over: a stale row only makes a repair kill a group that is gone
                    log.warning("step_end_not_recorded", run_id=self.run_id, host=hr.host.name, pgid=pgid)
        return result

    # -- events -------------------------------------------------------------------------------------------

    def state(self, hr: HostRun, state: HostState) -> None:
        hr.state = state
        self.sink(HostStateChanged(self.run_id, hr.host.name, state))

    def phase(self, phase: Phase) -> None:
        self.sink(PhaseChanged(self.run_id, phase))

    async def _finished(self, hr: HostRun, name: str, result: StepResult, error: str) -> None:
        self.sink(
            HostStepFinished(
                self.run_id, hr.host.name, name, result.ok, result.exit_status, result.duration, result.output, error
            )
        )
        if self._record:
            await self._record(hr.host.name, name, result)

    def _fail(self, hr: HostRun, name: str, error: str, result: StepResult) -> None:
        hr.failed_step, hr.error, hr.output, hr.lost = name, error, result.output, result.lost

    # -- steps --------------------------------------------------------------------------------------------

    async def run(
        self,
        hr: HostRun,
        name: str,
        command: str,
        timeout: float,
        stdin: bytes | None = None,
        *,
        bookkeeping: bool = False,
    ) -> StepResult:
        """Run one named step on a host, reported and recorded; on failure the host is marked failed (naming it).
        A ``bookkeeping`` step (:func:`deploy.hosts.guarded.prepare`) is read whole: its preamble gives the host's
        listing and ``current``, and people see the tail of the rest. No other step's output is read as bookkeeping, so
        what a build prints can never pass for a listing."""
        assert hr.conn is not None
        self.sink(HostStepStarted(self.run_id, hr.host.name, name))
        result = await self.exec(hr, command, timeout, stdin, whole=bookkeeping)
        if bookkeeping:
            result = self._bookkeeping(hr, command, result)
            await self._saw(hr, hr.listing)
        error = "" if result.ok else result.describe()
        await self._finished(hr, name, result, error)
        if not result.ok:
            self._fail(hr, name, error, result)
        return result

    async def step_finished(self, hr: HostRun, name: str, result: StepResult, error: str) -> None:
        """A step's end: reported and recorded; on failure the host is marked failed, naming it."""
        await self._finished(hr, name, result, error)
        if not result.ok:
            self._fail(hr, name, error, result)

    async def bookkeeping_of(self, hr: HostRun, command: str, result: StepResult) -> StepResult:
        """A :func:`deploy.hosts.guarded.prepare` step's result read (see :meth:`run`)."""
        result = self._bookkeeping(hr, command, result)
        await self._saw(hr, hr.listing)
        return result

    @staticmethod
    def _bookkeeping(hr: HostRun, command: str, result: StepResult) -> StepResult:
        """Read the preamble of a :func:`deploy.hosts.guarded.prepare` step into ``hr``; the result people see, failed
        (saying why) when the bookkeeping did not parse: where ``current`` points is never guessed."""
        frame = framing.of(command)
        preamble, shown = guarded.split_preamble(result.output, frame) if frame else (None, result.output)
        current, colours_garbled = None, False
        if frame is not None and preamble is not None:
            preamble, colours = guarded.split_colours(preamble, frame)
            current, hr.listing = guarded.parse_preamble(preamble, frame)
            if colours is not None:
                hr.colours = bluegreen.parse_probe(colours)
                colours_garbled = hr.colours is None
        if current is not None:
            hr.previous, hr.previous_sha = current.release, current.sha
        result = replace(result, output=tail(shown))
        if (current is not None and not colours_garbled) or not result.ok:
            return result
        why = (
            "its bookkeeping output (where current points, the releases, the journal) did not parse, so shipbot "
            "cannot tell which release it had: nothing is switched here; check the host's login output and "
            f"{remote.journal_path(hr.host.deploy_to)}"
        )
        if current is not None:
            why = "its colour probe (the live colour, each colour's release and app) did not parse: nothing is guessed"
        return replace(result, error=why)

    async def step(self, hr: HostRun, name: str, command: str, timeout: float, stdin: bytes | None = None) -> bool:
        """:meth:`run`, answering whether the step passed."""
        return (await self.run(hr, name, command, timeout, stdin)).ok

    async def quiet(self, hr: HostRun, command: str, timeout: float | None = None) -> StepResult | None:
        """Run a bookkeeping command (journal, cleanup, retention) that never fails the run."""
        if hr.conn is None:
            return None
        return await self.exec(hr, command, timeout or self.timeouts.command)

    async def healthcheck(
        self,
        hr: HostRun,
        hc: HealthCheck,
        release: str,
        command: str | None = None,
        step: str = "healthcheck",
        tried: int = 0,
    ) -> bool:
        """Run ``hc`` (or ``command``, e.g. in a blue/green colour) until it passes or its retries run out; ``tried``:
        the tries already made (and reported as started) in an earlier session (:mod:`deploy.hosts.chained`)."""
        command = command or remote.in_release(hr.host.deploy_to, release, {}, hc.run)
        assert hr.conn is not None
        if not tried:
            self.sink(HostStepStarted(self.run_id, hr.host.name, step))
        result: StepResult | None = None
        for attempt in range(tried, max(hc.retries, tried + 1)):
            if attempt:
                await asyncio.sleep(hc.interval)
            result = await self.exec(hr, command, hc.timeout)
            if result.ok:
                break
        assert result is not None
        error = "" if result.ok else f"still failing after {hc.retries} tries: {result.describe()}"
        await self._finished(hr, step, result, error)
        if not result.ok:
            self._fail(hr, step, error, result)
        return result.ok

    # -- phases -------------------------------------------------------------------------------------------

    async def connect(
        self,
        runs: list[HostRun],
        colours: Callable[[Host], bluegreen.HostColours | None] = lambda _h: None,
        probe_hosts: bool = True,
    ) -> dict[str, bluegreen.ColourProbe]:
        """Connect to every host and probe it (unless the run's first step probes); returns the colours found on
        blue/green hosts."""
        self.phase(Phase.CONNECT)
        found: dict[str, bluegreen.ColourProbe] = {}

        async def one(hr: HostRun) -> None:
            self.state(hr, HostState.CONNECTING)
            try:
                hr.conn = await self.connector.connect(hr.host, self.timeouts.connect)
            except HostError as exc:
                hr.failed_step, hr.error = "connect", str(exc).removeprefix(f"{hr.host.name}: connect failed: ")
                self.sink(HostStepFinished(self.run_id, hr.host.name, "connect", False, None, 0.0, "", hr.error))
                self.state(hr, HostState.FAILED)
                return
            host_colours = colours(hr.host)
            if not probe_hosts:  # the run's first exec probes (the colours too, on a blue/green host)
                self.state(hr, HostState.PENDING)
                return
            frame = framing.new()
            result = await hr.conn.read(probe.command(hr.host.deploy_to, frame, host_colours), self.timeouts.command)
            found_probe = probe.parse(result.output if result.ok else "", frame, host_colours is not None)
            if not result.ok:
                hr.failed_step, hr.error = "probe", result.describe()
            elif found_probe.current is None:
                hr.failed_step, hr.error = (
                    "probe",
                    "its output (where current points) did not parse: nothing is guessed",
                )
            elif found_probe.colours_garbled:
                hr.failed_step, hr.error = "probe colours", result.describe()
            if hr.failed:
                self.state(hr, HostState.FAILED)
                return
            if found_probe.current is not None:
                hr.previous, hr.previous_sha = found_probe.current.release, found_probe.current.sha
            if found_probe.colours is not None:
                found[hr.host.name] = hr.colours = found_probe.colours
            self.state(hr, HostState.PENDING)

        await every(one(hr) for hr in runs)
        return found

    async def revert(self, runs: list[HostRun], restart_for: Callable[[HostRun], str | None]) -> None:
        """Every host that is or may be switched goes back to the release it had before the run, decided on the
        host from where ``current`` really points, and is restarted there."""
        switched = [hr for hr in runs if hr.switched or hr.maybe_switched]
        if not switched:
            return
        self.phase(Phase.REVERT)

        async def one(hr: HostRun) -> None:
            if hr.conn is None or hr.target is None:
                return
            command = guarded.switch_back(hr.host.deploy_to, hr.target, hr.previous, self.run_id)
            result = await self.run(hr, "revert", command, self.timeouts.switch)
            ok = result.ok
            if ok:
                hr.switched = hr.maybe_switched = False
                restart, restarted = restart_for(hr), True
                if guarded.SWITCHED_BACK in result.output and hr.previous and restart:
                    restarted = await self.step(hr, "restart previous", restart, self.timeouts.command * 2)
                if restarted and self.writes is not None:
                    await self.writes.door(self.writes.mark, hr.host.name, RESTORED)
            else:
                hr.error = f"could not switch back to {hr.previous}: {hr.error}. Check this host by hand."
            self.state(hr, HostState.REVERTED if ok else HostState.FAILED)

        await every(one(hr) for hr in switched)

    async def journal(
        self,
        runs: list[HostRun],
        line: JournalLine,
        outcome_for: Callable[[HostRun], str | None],
        then: Callable[[HostRun], str | None] = lambda _hr: None,
    ) -> None:
        """One journal line on every connected host ``outcome_for`` gives an outcome (None: no line), then in the
        same exec the host's ``then`` command (:func:`deploy.hosts.guarded.with_last`)."""

        async def one(hr: HostRun) -> None:
            outcome = outcome_for(hr)
            if outcome and hr.conn:
                entry = journal.entry(
                    action=line.action, run=self.run_id, user=line.user, sha=line.sha, release=line.release,
                    previous=hr.previous, outcome=outcome,
                )  # fmt: skip
                extra = line.capistrano_commands(hr.host.deploy_to, hr.previous) if outcome == "success" else []
                commands = [remote.append_journal(hr.host.deploy_to, entry.to_line()), *extra]
                await self.quiet(hr, *guarded.with_last(commands, then(hr), self.timeouts.command))

        await every(one(hr) for hr in runs)

    async def listing(self, hr: HostRun) -> listing.ReleaseListing | None:
        """The host's releases, current, pinned releases and journal (:mod:`deploy.hosts.listing`), read whole as data;
        None when it could not be read."""
        if hr.conn is None:
            return None
        frame = framing.new()
        result = await hr.conn.read(listing.command(hr.host.deploy_to, frame), self.timeouts.command)
        return await self._saw(hr, listing.parse(result.output, frame) if result.ok else None)

    async def _saw(self, hr: HostRun, found: ReleaseListing | None) -> ReleaseListing | None:
        if found is not None and self._seen is not None:
            await self._seen(hr.host.name, found)
        return found

    async def close(self, runs: list[HostRun]) -> None:
        await asyncio.gather(*(hr.conn.close() for hr in runs if hr.conn), return_exceptions=True)

    def finish(
        self,
        runs: Iterable[HostRun],
        outcome: Outcome,
        message: str,
        release: str | None,
        sha: str | None,
        notes: tuple[str, ...] = (),
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
        self.phase(Phase.DONE)
        finished = RunFinished(self.run_id, outcome, message, time.monotonic() - self._started, tuple(hosts), notes)
        self.sink(finished)
        return finished
