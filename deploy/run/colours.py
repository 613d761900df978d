"""Blue/green's step set (a :class:`~deploy.run.switching.SwitchSteps`): stage the idle colour, move traffic, swap
back, retire the old colour. The commands are built by :mod:`deploy.hosts.bluegreen`; this module runs them.

``stage``      per host: verify REVISION; the idle colour's old app stopped, its port free, its link moved to the
               release, started, health-checked on its own port; the live colour keeps serving. A rollback to the
               release the idle colour still runs healthy needs no restart.
``go_live``    per host: nginx swap, verify through nginx, labels swapped (``.shipbot/live``, ``current``)
``put_back``   traffic back to the colour that was live, labels back, the idle colour's new app stopped and its
               link back where it was
``retiring``   the colour that was live keeps running for ``keep_old`` (a rollback swaps back to it), then stops:
               a command run at the end of the host's last exec, after its journal line and retention, that stops
               it there (``keep_old: 0``, nginx drained) or schedules its stop on the host and returns at once

A colour leaves traffic only once nginx sends it nothing more: ``nginx -s reload`` only signals the master, and
the old workers keep handing requests to the upstream they started with until they exit. So every path that
stops a colour that was in traffic (swap back on a failure, a cancel or a failed rollback; ``keep_old: 0`` and
the ``keep_old`` expiry) waits, in the same command as the reload, until the workers from before the reload have
exited (``blue_green.nginx.pid_file``) or answers through nginx come from the colour that stays, at most
``blue_green.nginx.drain_timeout`` (:func:`deploy.hosts.bluegreen.drain_wait`); a colour nginx still reaches then is
left running (the next deploy into it stops it first). A swap that may have started counts as a switch: a run
cancelled mid-swap swaps back before it stops anything.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from deploy.events import HostState, Phase
from deploy.hosts import bluegreen, chained, remote
from deploy.hosts.chain import Link, chainable
from deploy.hosts.connector import StepResult
from deploy.run.fanout import every
from deploy.run.hostrun import HostRun
from deploy.run.plan import DeployPlan, HostPlan
from deploy.run.steps import RunSteps
from deploy.run.switching import verify_error
from deploy.store.intents import RESTORED, SWITCHED


@dataclass
class ColourRun:
    """What the run knows about one blue/green host."""

    live: str | None = None  # the live colour before the run
    colours: Mapping[str, bluegreen.ColourState] = field(default_factory=dict)
    idle: str = "blue"  # the colour this run stages into
    idle_previous: str | None = None  # the release the idle colour's link pointed to before the run
    staged: bool = False  # this run stopped the idle colour's app and moved its link
    labelled: bool = False  # .shipbot/live and current were swapped
    swapping: bool = False  # an nginx swap to the idle colour started and may have reloaded
    workers: tuple[int, ...] = ()  # nginx's workers before the swap's reload (with a pid file)
    drained: bool = False  # the swap waited until nginx sent the old colour nothing more
    sha: str = ""  # what the idle colour answers once live


_NOT_MOVED = (3, 4, 5)  # bluegreen.swap's exit statuses when the live include was put back and nothing reloaded


class ColourSwitch:
    rollback_verb = "swapped back"

    def __init__(self, steps: RunSteps, plan: DeployPlan) -> None:
        self._steps = steps
        self._plan = plan
        self._hps = {hp.host.name: hp for hp in plan.hosts}
        self._runs: dict[str, ColourRun] = {}  # a host's, from the colours the run read first (HostRun.colours)

    def _env(self, hp: HostPlan, colour: str, release: str | None, sha: str | None) -> dict[str, str]:
        assert hp.colours is not None
        return bluegreen.colour_env(hp.env, hp.colours, colour, release or "", sha or "")

    def _host(self, hr: HostRun) -> tuple[HostPlan, bluegreen.HostColours, ColourRun]:
        hp = self._hps[hr.host.name]
        assert hp.colours is not None
        return hp, hp.colours, self._runs[hr.host.name]

    def holds_changes(self, hr: HostRun) -> bool:
        cr = self._runs.get(hr.host.name)
        return hr.switched or (cr is not None and (cr.staged or cr.swapping))

    def _swap_timeout(self, c: bluegreen.HostColours, drain: bool) -> float:
        return self._steps.timeouts.switch + (c.drain_timeout + 5 if drain else 0)

    # -- stage --------------------------------------------------------------------------------------------

    async def stage(self, batch: list[HostRun], release: str, sha: str) -> None:
        await every(self._stage(hr, release, sha) for hr in batch)

    async def _stage(self, hr: HostRun, release: str, sha: str) -> None:
        found = hr.colours  # read by the run's first exec on the host (a deploy's), or its probe (a rollback's)
        if found is None:
            hr.failed_step, hr.error = "probe colours", "the host's colours were never read: nothing is guessed"
            self._steps.state(hr, HostState.FAILED)
            return
        if hr.host.name not in self._runs:
            idle = bluegreen.other(found.live) if found.live else "blue"
            self._runs[hr.host.name] = ColourRun(found.live, found.colours, idle)
        if not await self._staged(hr, release, sha):
            self._steps.state(hr, HostState.FAILED)

    async def _staged_in_one(self, hr: HostRun, release: str, sha: str, commands: tuple[str, str, str]) -> bool:
        """REVISION verified, the idle colour stopped, its port free, linked to ``release``, started and
        health-checked (first try) in one session (:mod:`deploy.hosts.chain`), each its own step; the healthcheck's
        later tries on their own."""
        s, (hp, c, cr) = self._steps, self._host(hr)
        d, idle, t, hc = c.deploy_to, cr.idle, s.timeouts, hp.healthcheck
        stop, start, check = commands
        quiet_stop = f"{{ {stop}\n}} >/dev/null 2>&1 </dev/null"  # its output was never shown: it still is not
        links = [
            Link("verify", remote.verify(d, release, sha), t.command),
            Link(f"port {idle}", f"{quiet_stop}; {bluegreen.port_free(c.address, c.ports[idle], idle)}", 2 * t.command),
            Link(f"link {idle}", bluegreen.point(d, idle, release), t.switch),
            Link(f"start {idle}", start, hp.restart.timeout if hp.restart else t.command),
        ]
        if hc:
            links.append(Link(f"healthcheck on {idle}", check, hc.timeout))
        cr.staged = True
        results = await chained.run(s, hr, links, retried=frozenset({4}) if hc else frozenset())
        if not results[0].ok:
            verify_error(hr, release, sha)
        if not all(r.ok for r in results[:2]):
            cr.staged = False  # nothing of ours changed on this host
        if len(results) < len(links) or (not results[-1].ok and not hc):
            return False
        if hc and not results[-1].ok:
            first = results[-1]
            if hc.retries > 1:
                healthy = await s.healthcheck(hr, hc, release, check, f"healthcheck on {idle}", tried=1)
            else:
                error = f"still failing after {hc.retries} tries: {first.describe()}"
                await s.step_finished(hr, f"healthcheck on {idle}", first, error)
                healthy = False
            if not healthy:
                hr.error += f"; traffic never moved to {idle}"
                return False
        return True

    async def _staged(self, hr: HostRun, release: str, sha: str) -> bool:
        """Start ``release`` in the idle colour and health-check it on its own port; traffic is not touched."""
        s, (hp, c, cr) = self._steps, self._host(hr)
        assert self._plan.restart_command is not None
        d, idle, t = c.deploy_to, cr.idle, s.timeouts
        cr.idle_previous = cr.colours[idle].release
        env, hc = self._env(hp, idle, release, sha), hp.healthcheck
        shortcut = cr.colours[idle].release == release and cr.colours[idle].running and hc
        stop = bluegreen.stop(d, idle, self._env(hp, idle, cr.colours[idle].release, cr.colours[idle].sha), c.stop)
        start = bluegreen.start(d, idle, s.run_id, env, self._plan.restart_command)
        check = bluegreen.in_colour(d, idle, env, hc.run) if hc else ""
        if not shortcut and all(chainable(command) for command in (stop, start, check)):
            return await self._staged_in_one(hr, release, sha, (stop, start, check))
        if not await s.step(hr, "verify", remote.verify(d, release, sha), t.command):
            verify_error(hr, release, sha)
            return False
        if shortcut and hc:
            # a rollback to the release the idle colour still runs: no restart when it is healthy
            found = await s.quiet(hr, bluegreen.in_colour(d, idle, env, hc.run), hc.timeout)
            if found is not None and found.ok:
                return True
        await s.quiet(hr, stop, t.command)
        cr.staged = True
        if not await s.step(hr, f"port {idle}", bluegreen.port_free(c.address, c.ports[idle], idle), t.command):
            cr.staged = False  # nothing of ours changed on this host
            return False
        restart_timeout = hp.restart.timeout if hp.restart else t.command
        if not await s.step(hr, f"link {idle}", bluegreen.point(d, idle, release), t.switch):
            return False
        if not await s.step(hr, f"start {idle}", start, restart_timeout):
            return False
        if hc and not await s.healthcheck(hr, hc, release, check, f"healthcheck on {idle}"):
            hr.error += f"; traffic never moved to {idle}"
            return False
        return True

    # -- traffic ------------------------------------------------------------------------------------------

    async def go_live(self, batch: list[HostRun], release: str, sha: str) -> None:
        await every(self._move_traffic(hr, release, sha) for hr in batch)

    async def _move_traffic(self, hr: HostRun, release: str, sha: str) -> None:
        s, (_hp, c, cr) = self._steps, self._host(hr)
        d, idle = c.deploy_to, cr.idle
        content = bluegreen.render_upstream(c.upstream, c.address, c.ports[idle], idle, release, sha)
        drain = c.keep_old <= 0 and cr.live is not None  # the old colour stops right after the run
        cr.swapping = True
        if s.writes is not None:  # write-ahead: a repair puts traffic back on the colour that runs ``from``
            was = cr.colours[cr.live] if cr.live else bluegreen.ColourState(None, None, False)
            await s.writes.door(s.writes.switching, hr.host.name, was.release, was.sha, release, sha)
        swap = bluegreen.swap(c, content, idle, cr.live, drain, sha)
        verify_time = c.verify_retries * (c.verify_timeout + c.verify_interval) + 10
        links = [
            Link("nginx swap", swap, self._swap_timeout(c, drain)),
            Link("verify via nginx", bluegreen.verify(c, sha), verify_time),
            Link("swap labels", bluegreen.set_live(d, idle, release), s.timeouts.switch),
        ]

        async def ended(index: int, result: StepResult) -> None:
            if index == 0:  # the ledger hears of the swap as soon as it answers
                await self._swapped(hr, result, sha)

        results = await chained.run(s, hr, links, ended=ended)  # one session: swap, verify through nginx, labels
        if not hr.switched:
            return
        if len(results) < len(links) or not results[-1].ok:
            s.state(hr, HostState.FAILED)
            return
        cr.labelled = True
        s.state(hr, HostState.HEALTHY)

    async def _swapped(self, hr: HostRun, result: StepResult, sha: str) -> None:
        """The nginx swap's answer: traffic is on the idle colour, or it failed (and whether it may have moved)."""
        s, (_hp, _c, cr) = self._steps, self._host(hr)
        cr.workers, cr.drained = bluegreen.parse_workers(result.output), bluegreen.drained(result.output)
        if not result.ok:
            cr.swapping = result.exit_status not in _NOT_MOVED
            if not cr.swapping and s.writes is not None:
                await s.writes.door(s.writes.mark, hr.host.name, RESTORED)
            s.state(hr, HostState.FAILED)
            return
        if s.writes is not None:
            await s.writes.door(s.writes.mark, hr.host.name, SWITCHED)
        cr.swapping, hr.switched, cr.sha = False, True, sha
        s.state(hr, HostState.SWITCHED)

    async def put_back(self, hosts: list[HostRun]) -> None:
        """Traffic back to the colour that was live, labels back, the idle colour's new app stopped and its
        link back where it was."""
        holding = [hr for hr in hosts if self.holds_changes(hr)]
        if not holding:
            return
        self._steps.phase(Phase.REVERT)
        await every(self._swap_back(hr) for hr in holding)

    async def _swap_back(self, hr: HostRun) -> None:
        s, (hp, c, cr) = self._steps, self._host(hr)
        d, t = c.deploy_to, s.timeouts
        ok, was_switched, drained = True, hr.switched or cr.swapping, True
        if was_switched and hr.conn is not None:
            if cr.live is not None:
                old = cr.colours[cr.live]
                content = bluegreen.render_upstream(
                    c.upstream, c.address, c.ports[cr.live], cr.live, old.release or "-", old.sha or "-"
                )
                swap = bluegreen.swap(c, content, cr.live, cr.idle, True, old.sha or "")
                result = await s.run(hr, "nginx swap back", swap, self._swap_timeout(c, True))
                ok, drained = result.ok, bluegreen.drained(result.output)
                if ok and not drained:  # nginx still reaches the idle colour: it stops once nginx no longer does
                    env = self._env(hp, cr.idle, None, None)
                    later = self._stop_later(hr, cr.idle, 0.0, env, bluegreen.parse_workers(result.output), old.sha)
                    await s.quiet(hr, later)
            if ok:
                labels = bluegreen.set_live(d, cr.live, hr.previous) if cr.live else bluegreen.clear_live(d)
                ok = await s.step(hr, "labels back", labels, t.switch)
            if ok:
                hr.switched, cr.labelled, cr.swapping = False, False, False
                if s.writes is not None:
                    await s.writes.door(s.writes.mark, hr.host.name, RESTORED)
            else:
                hr.error = f"could not move traffic back to {cr.live}: {hr.error}. Check this host by hand."
        if cr.staged and drained and not hr.switched and not cr.swapping and hr.conn is not None:
            await s.quiet(hr, bluegreen.stop(d, cr.idle, self._env(hp, cr.idle, None, None), c.stop), t.command)
            await s.quiet(hr, bluegreen.point(d, cr.idle, cr.idle_previous), t.switch)
            cr.staged = False
        if not ok:
            s.state(hr, HostState.FAILED)
        elif was_switched:
            s.state(hr, HostState.REVERTED)

    def retiring(self, hr: HostRun) -> str | None:
        """What retires the colour that was live on a host that went live in this run (None: nothing to retire), run
        at the end of the host's last exec, after its journal line and retention
        (:func:`deploy.hosts.bookkeeping.finish_hosts`): that colour keeps running for ``keep_old`` (a rollback swaps
        back to it), then stops. With ``keep_old: 0`` and nginx drained at the swap it stops right there; else the
        stop is scheduled on the host (:meth:`_stop_later`) and the exec ends at once."""
        hp, cr = self._hps[hr.host.name], self._runs.get(hr.host.name)
        c = hp.colours
        if cr is None or c is None or cr.live is None or cr.live == cr.idle or not cr.labelled:
            return None
        env = self._env(hp, cr.live, cr.colours[cr.live].release, cr.colours[cr.live].sha)
        if c.keep_old <= 0 and cr.drained:
            return bluegreen.stop(c.deploy_to, cr.live, env, c.stop)
        # keep_old, or nginx still reached the old colour at the swap: stop it later, once nginx no longer does
        return self._stop_later(hr, cr.live, max(c.keep_old, 0.0), env, cr.workers, cr.sha)

    def _stop_later(
        self, hr: HostRun, colour: str, after: float, env: dict[str, str], workers: tuple[int, ...], sha: str | None
    ) -> str:
        """The command that stops ``colour`` on the host after ``after`` seconds, once nginx's ``workers`` from
        before the swap have exited (or answers through nginx carry ``sha``), unless it is live again or was
        restarted by then (:func:`deploy.hosts.bluegreen.schedule_stop`: detached, the exec does not wait)."""
        _hp, c, _cr = self._host(hr)
        known = bluegreen.known_workers(c.pid_file, workers) if c.pid_file and workers else ""
        drain = f"{known}; {bluegreen.drain_wait(c, colour, sha or '')}".lstrip("; ")
        return bluegreen.schedule_stop(c, colour, after, env, c.stop, drain)
