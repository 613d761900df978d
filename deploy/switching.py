"""How a batch of hosts goes live, as a step set the runner is given (see :mod:`deploy.runner`).

A step set implements :class:`SwitchSteps`: ``stage`` readies a batch without touching traffic, ``go_live`` puts
it live, ``put_back`` returns hosts holding this run's changes to what they had, ``retire`` runs after success.
:class:`ReleaseSwitch` is the Capistrano switch of ``all`` and ``rolling`` (nothing to stage; per host verify
REVISION, write the intent, rename ``current`` (one exec, :func:`deploy.guarded.switch`), restart, healthcheck; the
intent is in the run ledger before the command is sent, so a switch whose answer never comes counts as possibly
done; put back = the previous release, decided on the host, restarted);
:class:`~deploy.colours.ColourSwitch` is blue/green's.
"""

from __future__ import annotations

from typing import Protocol

from deploy import guarded
from deploy.events import HostState
from deploy.fanout import every
from deploy.hostrun import HostRun
from deploy.intents import SWITCHED
from deploy.plan import DeployPlan, HostPlan, Step
from deploy.steps import RunSteps


class SwitchSteps(Protocol):
    rollback_verb: str  # how a successful rollback says what it did ("rolled back", "swapped back")

    async def stage(self, batch: list[HostRun], release: str, sha: str) -> None: ...

    async def go_live(self, batch: list[HostRun], release: str, sha: str) -> None: ...

    async def put_back(self, hosts: list[HostRun]) -> None: ...

    async def retire(self, hosts: list[HostRun]) -> None: ...

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
        s, hp, d = self._steps, self._hps[hr.host.name], hr.host.deploy_to
        restart = self._restart(hp, release, sha)
        # write-ahead: from here until the switch command answers, the host may be on the new release
        hr.target, hr.maybe_switched = release, True
        if s.ledger is not None:
            s.ledger.switching(s.run_id, hr.host.name, hr.previous, hr.previous_sha, release, sha)
        result = await s.run(hr, "switch", guarded.switch(d, s.run_id, hr.previous, release, sha), s.timeouts.switch)
        if not result.ok:
            if result.exit_status is not None or not result.sent:  # it answered, or never ran: nothing renamed
                hr.maybe_switched = False
                if result.exit_status == guarded.NOT_VERIFIED:
                    verify_error(hr, release, sha)
            s.state(hr, HostState.FAILED)
            return
        if s.ledger is not None:
            s.ledger.mark(s.run_id, hr.host.name, SWITCHED)
        hr.maybe_switched = False
        hr.switched = True
        s.state(hr, HostState.SWITCHED)
        if restart and not await s.step(hr, "restart", restart.command, restart.timeout):
            s.state(hr, HostState.FAILED)
            return
        if hp.healthcheck and not await s.healthcheck(hr, hp.healthcheck, release):
            s.state(hr, HostState.FAILED)
            return
        s.state(hr, HostState.HEALTHY)

    async def put_back(self, hosts: list[HostRun]) -> None:
        await self._steps.revert(hosts, self.restart_previous)

    async def retire(self, hosts: list[HostRun]) -> None:
        """Nothing keeps running besides ``current``."""

    def holds_changes(self, hr: HostRun) -> bool:
        return hr.switched or hr.maybe_switched
