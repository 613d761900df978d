"""How a batch of hosts goes live, as a step set the runner is given (see :mod:`deploy.run.runner`).

A step set implements :class:`SwitchSteps`: ``stage`` readies a batch without touching traffic, ``go_live`` puts
it live, ``put_back`` returns hosts holding this run's changes to what they had, ``retiring`` is what a host that
went live runs at the end of its last exec after success.
:class:`ReleaseSwitch` is the Capistrano switch of ``all`` and ``rolling`` (nothing to stage; per host verify
REVISION, write the intent, rename ``current`` (one exec, :func:`deploy.hosts.guarded.switch`), restart, healthcheck;
the intent is in the run ledger before the command is sent, so a switch whose answer never comes counts as possibly
done; put back = the previous release, decided on the host, restarted);
:class:`~deploy.run.colours.ColourSwitch` is blue/green's.
"""

from __future__ import annotations

from typing import Protocol

from deploy.events import HostState
from deploy.hosts import chained, guarded, remote
from deploy.hosts.chain import Link, chainable
from deploy.hosts.connector import StepResult
from deploy.run.fanout import every
from deploy.run.hostrun import HostRun
from deploy.run.plan import DeployPlan, HostPlan, Step
from deploy.run.steps import RunSteps
from deploy.store.intents import SWITCHED


class SwitchSteps(Protocol):
    rollback_verb: str  # how a successful rollback says what it did ("rolled back", "swapped back")

    async def stage(self, batch: list[HostRun], release: str, sha: str) -> None: ...

    async def go_live(self, batch: list[HostRun], release: str, sha: str) -> None: ...

    async def put_back(self, hosts: list[HostRun]) -> None: ...

    def retiring(self, hr: HostRun) -> str | None: ...

    def holds_changes(self, hr: HostRun) -> bool: ...


def verify_error(hr: HostRun, release: str, sha: str) -> None:
    """A failed REVISION check says what it checked (a dropped connection speaks for itself)."""
    if not hr.lost:
        hr.error = f"REVISION in release {release} is not {sha[:12]}: {hr.error}"


class ReleaseSwitch:
    rollback_verb = "rolled back"

    def __init__(self, steps: RunSteps, plan: DeployPlan) -> None:
        self._steps = steps
        self._plan = plan
        self._hps = {hp.host.name: hp for hp in plan.hosts}

    def _restart(self, hp: HostPlan, release: str, sha: str) -> Step | None:
        if release == self._plan.release:  # a deploy: the planned restart
            return hp.restart
        command = self._plan.restart_in(hp, release, sha)
        return Step("restart", command, hp.restart.timeout if hp.restart else 60) if command else None

    def restart_previous(self, hr: HostRun) -> str | None:
        hp = self._hps[hr.host.name]
        return self._plan.restart_in(hp, hr.previous, hr.previous_sha) if hr.previous else None

    async def stage(self, batch: list[HostRun], release: str, sha: str) -> None:
        """Nothing to stage: the release was prepared, and switching is one rename."""

    async def go_live(self, batch: list[HostRun], release: str, sha: str) -> None:
        await every(self._switch_one(hr, release, sha) for hr in batch)

    async def _switch_one(self, hr: HostRun, release: str, sha: str) -> None:
        """Switch, restart and the healthcheck's first try in one session (:mod:`deploy.hosts.chain`), each its own
        step; a restart that reads secrets, and what follows it, run on their own, as do the healthcheck's later
        tries."""
        s, hp, d = self._steps, self._hps[hr.host.name], hr.host.deploy_to
        restart, hc = self._restart(hp, release, sha), hp.healthcheck
        links = [Link("switch", guarded.switch(d, s.run_id, hr.previous, release, sha), s.timeouts.switch)]
        if restart and chainable(restart.command):
            links.append(Link("restart", restart.command, restart.timeout))
        if hc and (restart is None or len(links) == 2):
            links.append(Link("healthcheck", remote.in_release(d, release, {}, hc.run), hc.timeout))
        # write-ahead: from here until the switch command answers, the host may be on the new release
        hr.target, hr.maybe_switched = release, True
        if s.writes is not None:
            await s.writes.door(s.writes.switching, hr.host.name, hr.previous, hr.previous_sha, release, sha)

        async def ended(index: int, result: StepResult) -> None:
            if index == 0:  # the ledger hears of the switch as soon as it answers, while the restart runs
                await self._switched(hr, result, release, sha)

        if len(links) == 1:
            results = [await s.run(hr, "switch", links[0].command, links[0].timeout)]
            await ended(0, results[0])
        else:
            checked = links[-1].name == "healthcheck"  # its failed first try is reported with the tries after it
            results = await chained.run(
                s, hr, links, ended=ended, retried=frozenset({len(links) - 1} if checked else ())
            )
        ran = {links[i].name: result for i, result in enumerate(results)}
        if not hr.switched:
            return  # the switch failed: the host is marked failed
        if restart:
            restarted = ran["restart"].ok if "restart" in ran else None
            if restarted is None:  # not in the session (it reads secrets): on its own
                restarted = await s.step(hr, "restart", restart.command, restart.timeout)
            if not restarted:
                s.state(hr, HostState.FAILED)
                return
        if hc:
            first = ran.get("healthcheck")
            if first is None:
                healthy = await s.healthcheck(hr, hc, release)
            elif first.ok or hc.retries > 1:
                healthy = first.ok or await s.healthcheck(hr, hc, release, tried=1)
            else:
                error = f"still failing after {hc.retries} tries: {first.describe()}"
                await s.step_finished(hr, "healthcheck", first, error)
                healthy = False
            if not healthy:
                s.state(hr, HostState.FAILED)
                return
        s.state(hr, HostState.HEALTHY)

    async def _switched(self, hr: HostRun, result: StepResult, release: str, sha: str) -> None:
        """The switch step's answer: the host is on the new release, or it failed (and whether it may be)."""
        s = self._steps
        if not result.ok:
            if result.exit_status is not None or not result.sent:  # it answered, or never ran: nothing renamed
                hr.maybe_switched = False
                if result.exit_status == guarded.NOT_VERIFIED:
                    verify_error(hr, release, sha)
            s.state(hr, HostState.FAILED)
            return
        if s.writes is not None:
            await s.writes.door(s.writes.mark, hr.host.name, SWITCHED)
        hr.maybe_switched = False
        hr.switched = True
        s.state(hr, HostState.SWITCHED)

    async def put_back(self, hosts: list[HostRun]) -> None:
        await self._steps.revert(hosts, self.restart_previous)

    def retiring(self, hr: HostRun) -> str | None:
        """Nothing keeps running besides ``current``."""
        return None

    def holds_changes(self, hr: HostRun) -> bool:
        return hr.switched or hr.maybe_switched
