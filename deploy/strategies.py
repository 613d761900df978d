"""How the new version reaches traffic: ``all``, ``rolling`` and ``blue_green`` (the runner for the last two).

``all`` is :meth:`Runner.deploy <deploy.runner.Runner.deploy>`: prepare everywhere, then switch everywhere.
:class:`StagedRunner` runs the other two. Both prepare every host first (no traffic touched), run the migration
once, then go batch by batch (:mod:`deploy.batches`; the first batch is the canary)::

    rolling      per host of the batch: verify, switch ``current``, restart, healthcheck
    blue_green   per host of the batch: the idle colour is staged (old app stopped, port free, link moved,
                 started, health-checked on its own port) while the live colour serves; once the whole batch is
                 staged, traffic moves per host (nginx swap, verify through nginx, labels swapped)

The failure budget (``max_failures``) counts hosts over the whole run, whatever the phase (connect, prepare, a
batch; a host whose SSH connection drops between batches fails its next step with "connection lost"). A host
that fails is put back on its previous release at once. While the failures stay within the budget the run goes
on and ends SUCCESS, the failed hosts reported in ``RunFinished`` as put back on the previous release: with
``max_failures`` above 0 the fleet may end on two versions, the failed hosts on the old one, as Ansible's
``max_fail_percentage`` does. One failure more than the budget (or a failed migration, or a cancel, or an abort
at a pause) stops the run: no new batch starts, and every host already switched, in every batch, goes back.

Between batches the run pauses when the environment says so: ``pause: <duration>`` waits that long (a
:class:`~deploy.events.BatchPaused` carries the countdown); ``pause: true`` awaits the caller's ``gate``
(True: next batch; False: abort). Nobody answering within ``timeouts.pause`` is an abort. The engine refuses to
start a ``pause: true`` run without a gate, so a run never waits for a person nobody asked.

A blue/green rollback is a swap back: the idle colour normally still runs the previous release (for
``keep_old``), so traffic moves back with no rebuild and no restart; when its app was stopped meanwhile, or the
target is another release, the idle colour is staged with the target release (its folder is still on the host)
exactly as in a deploy, then swapped. Rolling environments roll back through the regular path, all hosts at once.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from deploy import bluegreen, journal, remote
from deploy.durations import format_duration
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
from deploy.plan import DeployPlan, HostPlan
from deploy.runner import HostRun, Runner


@dataclass
class ColourRun:
    """What the runner knows about one blue/green host during a run."""

    live: str | None = None  # the live colour before the run
    colours: dict[str, bluegreen.ColourState] = field(default_factory=dict)
    idle: str = "blue"  # the colour this run stages into
    idle_previous: str | None = None  # the release the idle colour's link pointed to before the run
    staged: bool = False  # this run stopped the idle colour's app and moved its link
    labelled: bool = False  # .shipbot/live and current were swapped


class StagedRunner(Runner):
    """Runs ``rolling`` and ``blue_green`` deploys (and blue/green rollbacks); see the module docstring."""

    def __init__(self, *args: Any, gate: Gate | None = None, pause_timeout: float = 3600.0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._gate = gate
        self._pause_timeout = pause_timeout
        self._colours: dict[str, ColourRun] = {}
        self._fatal = False  # a failure no budget covers (migrate)
        self._runs: list[HostRun] = []
        self._budget = 0  # max_failures of a deploy; a rollback tolerates none
        self._aborted = ""  # why a person (or nobody) stopped the run at a pause

    # -- budget -------------------------------------------------------------------------------------------

    @staticmethod
    def _failures(runs: list[HostRun]) -> list[HostRun]:
        return [hr for hr in runs if hr.failed]

    def _stop(self) -> bool:
        """Whether the run must stop: over the budget, a fatal failure, or an abort."""
        return self._fatal or bool(self._aborted) or len(self._failures(self._runs)) > self._budget

    # -- deploy -------------------------------------------------------------------------------------------

    async def deploy(self, plan: DeployPlan, archive: bytes | None) -> RunFinished:
        runs = self._runs = [HostRun(hp.host) for hp in plan.hosts]
        self._budget = plan.max_failures
        by_name = {hr.host.name: hr for hr in runs}
        hps = {hp.host.name: hp for hp in plan.hosts}
        outcome, message, cancelled = Outcome.FAILED, "", False
        try:
            await self._connect(runs)
            if plan.strategy == "blue_green":
                await self._probe_colours(plan, runs)
            if not self._stop():
                await self._prepare(plan, runs, archive)
            if not self._stop() and plan.migrate and plan.migrate_host:
                self._phase(Phase.MIGRATE)
                hr = by_name[plan.migrate_host]
                if hr.failed or not await self._step(hr, "migrate", plan.migrate.command, plan.migrate.timeout):
                    self._fatal = True
                    self._emit_state(hr, HostState.FAILED)
            done: list[str] = []
            total = len(plan.batches)
            for index, names in enumerate(plan.batches, 1):
                if self._stop():
                    break
                if index > 1 and plan.pause and not await self._pause(plan, runs, index, done, names):
                    break
                batch = [by_name[n] for n in names if not by_name[n].failed]
                self._phase(Phase.SWITCH)
                self._sink(BatchStarted(self.run_id, index, total, tuple(hr.host.name for hr in batch)))
                if plan.strategy == "blue_green":
                    await self._blue_green_batch(plan, batch, hps, plan.release, plan.sha)
                else:
                    await self._rolling_batch(plan, batch, hps)
                done += [hr.host.name for hr in batch if not hr.failed]
            if not self._stop():
                outcome = Outcome.SUCCESS
        except asyncio.CancelledError:
            cancelled, outcome = True, Outcome.CANCELLED
        finally:
            if outcome is Outcome.SUCCESS:
                message = await asyncio.shield(self._after_staged_success(plan, runs))
            else:
                message = await asyncio.shield(self._undo_staged(plan, runs, cancelled))
            await asyncio.shield(self._close(runs))
        if self._aborted and not cancelled:
            outcome = Outcome.CANCELLED
        finished = self._finish(runs, outcome, message, plan.release, plan.sha)
        if cancelled:
            raise asyncio.CancelledError
        return finished

    async def _pause(
        self, plan: DeployPlan, runs: list[HostRun], index: int, done: list[str], names: tuple[str, ...]
    ) -> bool:
        total = len(plan.batches)
        wait = None if plan.pause is True else float(plan.pause)
        gate = BatchGate(
            self.run_id, index, total, tuple(done), tuple(names),
            tuple(hr.host.name for hr in self._failures(runs)), plan.max_failures, wait,
        )  # fmt: skip
        self._sink(BatchPaused(self.run_id, gate))
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
        self._sink(BatchResumed(self.run_id, index, total, go, reason))
        if not go:
            self._aborted = f"aborted at the pause before batch {index}/{total} ({reason})"
        return go

    # -- rolling ------------------------------------------------------------------------------------------

    async def _rolling_batch(self, plan: DeployPlan, batch: list[HostRun], hps: dict[str, HostPlan]) -> None:
        await asyncio.gather(
            *(
                self._switch_one(hr, plan.release, plan.sha, hps[hr.host.name].restart, hps[hr.host.name].healthcheck)
                for hr in batch
            )
        )
        await self._put_back(plan, [hr for hr in batch if hr.failed])

    async def _put_back(self, plan: DeployPlan, hosts: list[HostRun]) -> None:
        """Failed or aborted hosts go back to what they had: the previous release (rolling) or the old colour."""
        hps = {hp.host.name: hp for hp in plan.hosts}
        if plan.strategy == "blue_green":
            await self._swap_back(plan, [hr for hr in hosts if hr.switched or self._is_staged(hr)])
            return
        await self._revert(
            hosts,
            lambda hr: plan.restart_in(hps[hr.host.name], hr.previous, hr.previous_sha) if hr.previous else None,
        )

    # -- blue/green -----------------------------------------------------------------------------------------

    async def _probe_colours(self, plan: DeployPlan, runs: list[HostRun]) -> None:
        hps = {hp.host.name: hp for hp in plan.hosts}

        async def one(hr: HostRun) -> None:
            c = hps[hr.host.name].colours
            assert c is not None
            result = await self._quiet(hr, bluegreen.probe(c.deploy_to, c.address, c.ports))
            parsed = bluegreen.parse_probe(result.output) if result and result.ok else None
            if parsed is None:
                hr.failed_step = "probe colours"
                hr.error = result.describe() if result else "no connection"
                self._emit_state(hr, HostState.FAILED)
                return
            live, states = parsed
            self._colours[hr.host.name] = ColourRun(live, states, bluegreen.other(live) if live else "blue")

        await asyncio.gather(*(one(hr) for hr in runs if not hr.failed))

    def _env(self, hp: HostPlan, colour: str, release: str | None, sha: str | None) -> dict[str, str]:
        assert hp.colours is not None
        return bluegreen.colour_env(hp.env, hp.colours, colour, release or "", sha or "")

    async def _blue_green_batch(
        self, plan: DeployPlan, batch: list[HostRun], hps: dict[str, HostPlan], release: str, sha: str
    ) -> None:
        """Stage the idle colour on every host of the batch; then, within the budget, move their traffic."""
        await asyncio.gather(*(self._stage(plan, hps[hr.host.name], hr, release, sha) for hr in batch))
        await self._put_back(plan, [hr for hr in batch if hr.failed])
        if self._stop():
            return
        ready = [hr for hr in batch if not hr.failed]
        await asyncio.gather(*(self._move_traffic(hps[hr.host.name], hr, release, sha) for hr in ready))
        await self._put_back(plan, [hr for hr in ready if hr.failed])

    async def _stage(self, plan: DeployPlan, hp: HostPlan, hr: HostRun, release: str, sha: str) -> bool:
        """Start ``release`` in the idle colour and health-check it on its own port; traffic is not touched."""
        c, cr = hp.colours, self._colours[hr.host.name]
        assert c is not None and plan.restart_command is not None
        d, idle = c.deploy_to, cr.idle
        cr.idle_previous = cr.colours[idle].release
        if not await self._step(hr, "verify", remote.verify(d, release, sha), self._command_timeout):
            if not hr.error.startswith("connection lost"):
                hr.error = f"REVISION in release {release} is not {sha[:12]}: {hr.error}"
            self._emit_state(hr, HostState.FAILED)
            return False
        env = self._env(hp, idle, release, sha)
        hc = hp.healthcheck
        if cr.colours[idle].release == release and cr.colours[idle].running and hc:
            # a rollback to the release the idle colour still runs: no restart when it is healthy
            probe = await self._quiet(hr, bluegreen.in_colour(d, idle, env, hc.run), hc.timeout)
            if probe is not None and probe.ok:
                return True
        old_env = self._env(hp, idle, cr.colours[idle].release, cr.colours[idle].sha)
        await self._quiet(hr, bluegreen.stop(d, idle, old_env, c.stop), self._command_timeout)
        cr.staged = True
        restart_timeout = hp.restart.timeout if hp.restart else self._command_timeout
        for name, command, timeout in (
            (f"port {idle}", bluegreen.port_free(c.address, c.ports[idle], idle), self._command_timeout),
            (f"link {idle}", bluegreen.point(d, idle, release), self._switch_timeout),
            (f"start {idle}", bluegreen.start(d, idle, self.run_id, env, plan.restart_command), restart_timeout),
        ):
            if not await self._step(hr, name, command, timeout):
                if name.startswith("port"):
                    cr.staged = False  # nothing of ours changed on this host
                self._emit_state(hr, HostState.FAILED)
                return False
        if hc and not await self._healthcheck(
            hr, hc, release, bluegreen.in_colour(d, idle, env, hc.run), f"healthcheck on {idle}"
        ):
            hr.error += f"; traffic never moved to {idle}"
            self._emit_state(hr, HostState.FAILED)
            return False
        return True

    async def _move_traffic(self, hp: HostPlan, hr: HostRun, release: str, sha: str) -> None:
        c, cr = hp.colours, self._colours[hr.host.name]
        assert c is not None
        d, idle = c.deploy_to, cr.idle
        content = bluegreen.render_upstream(c.upstream, c.address, c.ports[idle], idle, release, sha)
        if not await self._step(hr, "nginx swap", bluegreen.swap(c, content, idle, cr.live), self._switch_timeout):
            self._emit_state(hr, HostState.FAILED)
            return
        hr.switched = True
        self._emit_state(hr, HostState.SWITCHED)
        verify_time = c.verify_retries * (c.verify_timeout + c.verify_interval) + 10
        if not await self._step(hr, "verify via nginx", bluegreen.verify(c, sha), verify_time):
            self._emit_state(hr, HostState.FAILED)
            return
        if not await self._step(hr, "swap labels", bluegreen.set_live(d, idle, release), self._switch_timeout):
            self._emit_state(hr, HostState.FAILED)
            return
        cr.labelled = True
        self._emit_state(hr, HostState.HEALTHY)

    async def _swap_back(self, plan: DeployPlan, hosts: list[HostRun]) -> None:
        """Traffic back to the colour that was live, labels back, the idle colour's new app stopped and its
        link back where it was."""
        if not hosts:
            return
        hps = {hp.host.name: hp for hp in plan.hosts}

        async def one(hr: HostRun) -> None:
            hp, cr = hps[hr.host.name], self._colours[hr.host.name]
            c = hp.colours
            assert c is not None
            d = c.deploy_to
            ok, was_switched = True, hr.switched
            if hr.switched and hr.conn is not None:
                if cr.live is not None:
                    old = cr.colours[cr.live]
                    content = bluegreen.render_upstream(
                        c.upstream, c.address, c.ports[cr.live], cr.live, old.release or "-", old.sha or "-"
                    )
                    ok = await self._step(
                        hr, "nginx swap back", bluegreen.swap(c, content, cr.live, cr.idle), self._switch_timeout
                    )
                if ok:
                    labels = bluegreen.set_live(d, cr.live, hr.previous) if cr.live else bluegreen.clear_live(d)
                    ok = await self._step(hr, "labels back", labels, self._switch_timeout)
                if ok:
                    hr.switched, cr.labelled = False, False
                else:
                    hr.error = f"could not move traffic back to {cr.live}: {hr.error}. Check this host by hand."
            if cr.staged and not hr.switched and hr.conn is not None:
                new_env = self._env(hp, cr.idle, None, None)
                await self._quiet(hr, bluegreen.stop(d, cr.idle, new_env, c.stop), self._command_timeout)
                await self._quiet(hr, bluegreen.point(d, cr.idle, cr.idle_previous), self._switch_timeout)
                cr.staged = False
            if not ok:
                self._emit_state(hr, HostState.FAILED)
            elif was_switched:
                self._emit_state(hr, HostState.REVERTED)

        self._phase(Phase.REVERT)
        await asyncio.gather(*(one(hr) for hr in hosts))

    # -- endings ------------------------------------------------------------------------------------------

    async def _after_staged_success(self, plan: DeployPlan, runs: list[HostRun]) -> str:
        ok = [hr for hr in runs if not hr.failed]
        failed = self._failures(runs)
        await self._cleanup_failed(failed, plan.release, plan.keep_failed_releases)
        self._phase(Phase.CLEANUP)
        await self._write_journal(
            runs,
            lambda hr: journal.entry(
                action="deploy", run=self.run_id, user=plan.user, sha=plan.sha, release=plan.release,
                previous=hr.previous, outcome="reverted" if hr.failed else "success",
            ).to_line() if hr.created or not hr.failed else None,
        )  # fmt: skip
        await self._retention(ok, plan.keep_releases)
        if plan.strategy == "blue_green":
            await self._retire_old_colours(plan, ok)
        for hr in runs:
            self._emit_state(hr, HostState.DONE if hr.state is HostState.HEALTHY else hr.state)
        message = f"{plan.app} {plan.sha[:12]} is live on {len(ok)} of {len(runs)} hosts of {plan.environment}"
        if not failed:
            return f"{plan.app} {plan.sha[:12]} is live on all {len(runs)} hosts of {plan.environment}"
        return (
            f"{message}; {len(failed)} host(s) failed and were put back on the previous release "
            f"(max_failures: {plan.max_failures}): {self._describe(failed)}"
        )

    async def _retire_old_colours(self, plan: DeployPlan, hosts: list[HostRun]) -> None:
        """The colour that was live keeps running for ``keep_old`` (a rollback swaps back to it), then stops."""
        hps = {hp.host.name: hp for hp in plan.hosts}

        async def one(hr: HostRun) -> None:
            hp, cr = hps[hr.host.name], self._colours.get(hr.host.name)
            c = hp.colours
            if cr is None or c is None or cr.live is None or cr.live == cr.idle or not cr.labelled:
                return
            env = self._env(hp, cr.live, cr.colours[cr.live].release, cr.colours[cr.live].sha)
            if c.keep_old <= 0:
                await self._quiet(hr, bluegreen.stop(c.deploy_to, cr.live, env, c.stop))
            else:
                await self._quiet(hr, bluegreen.schedule_stop(c.deploy_to, cr.live, c.keep_old, env, c.stop))

        await asyncio.gather(*(one(hr) for hr in hosts))

    @staticmethod
    def _describe(hosts: list[HostRun], limit: int = 5) -> str:
        text = "; ".join(f"{hr.host.name}: {hr.failed_step} failed: {hr.error}" for hr in hosts[:limit])
        return text + (f"; and {len(hosts) - limit} more" if len(hosts) > limit else "")

    async def _undo_staged(self, plan: DeployPlan, runs: list[HostRun], cancelled: bool) -> str:
        failed = self._failures(runs)
        await self._put_back(plan, [hr for hr in runs if hr.switched or self._is_staged(hr)])
        await self._cleanup_failed(runs, plan.release, plan.keep_failed_releases)
        outcome = "cancelled" if cancelled or self._aborted else "failed"
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
            elif hr.state is HostState.HEALTHY:
                self._emit_state(hr, HostState.REVERTED)
        stuck = [hr for hr in runs if hr.switched]
        switched_back = len([hr for hr in runs if hr.state is HostState.REVERTED])
        if cancelled:
            head = f"cancelled; {switched_back} switched host(s) reverted"
        elif self._aborted:
            head = f"{self._aborted}; {switched_back} switched host(s) switched back"
        elif self._fatal or len(failed) <= plan.max_failures:
            first = failed[0] if failed else None
            head = f"{first.host.name}: {first.failed_step} failed: {first.error}" if first else "failed"
            if len(failed) > 1:
                head += f" (and {len(failed) - 1} more host(s))"
        else:
            head = (
                f"{len(failed)} host(s) failed, more than max_failures: {plan.max_failures} allows, so the run "
                f"stopped and every switched host was put back: {self._describe(failed)}"
            )
        tail = (
            f"; {len(stuck)} host(s) could not be switched back: {', '.join(h.host.name for h in stuck)}"
            if stuck
            else f"; {plan.environment} is still on its previous release"
        )
        return head + tail

    def _is_staged(self, hr: HostRun) -> bool:
        cr = self._colours.get(hr.host.name)
        return cr is not None and cr.staged

    # -- blue/green rollback ------------------------------------------------------------------------------

    async def _rollback_ready(self, plan: DeployPlan, runs: list[HostRun]) -> None:
        if plan.strategy == "blue_green":
            self._runs = runs
            await self._probe_colours(plan, runs)

    def _rollback_failed(self, plan: DeployPlan, runs: list[HostRun]) -> bool:
        if plan.strategy != "blue_green":
            return super()._rollback_failed(plan, runs)
        return bool(self._failures(runs))

    async def _rollback_switch(self, plan: DeployPlan, runs: list[HostRun], target: journal.Entry) -> str:
        """A blue/green environment swaps back to the idle colour (see the module docstring)."""
        if plan.strategy != "blue_green":
            return await super()._rollback_switch(plan, runs, target)
        self._phase(Phase.SWITCH)
        self._sink(BatchStarted(self.run_id, 1, 1, tuple(hr.host.name for hr in runs)))
        await self._blue_green_batch(plan, runs, {hp.host.name: hp for hp in plan.hosts}, target.release, target.sha)
        return "swapped back"

    async def _rollback_undo(self, plan: DeployPlan, runs: list[HostRun]) -> None:
        if plan.strategy != "blue_green":
            await super()._rollback_undo(plan, runs)
            return
        await self._put_back(plan, [hr for hr in runs if hr.switched or self._is_staged(hr)])

    async def _rollback_done(self, plan: DeployPlan, runs: list[HostRun]) -> None:
        if plan.strategy == "blue_green":
            await self._retire_old_colours(plan, runs)
