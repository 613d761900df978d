"""How the new version reaches traffic: which hosts switch when, and when a run must stop (pure).

A :class:`Strategy` is built from a plan (:func:`for_deploy`, :func:`for_rollback`); the one runner
(:mod:`deploy.run.runner`) asks it, and does the steps::

    all          one batch, every host; any failure stops the run and every switched host goes back
    rolling      batch by batch (:mod:`deploy.run.batches`; the first batch is the canary): per host of the batch
                 verify, switch ``current``, restart, healthcheck
    blue_green   batch by batch: the idle colour is staged on every host of the batch while the live colour
                 serves; once the batch is staged, traffic moves per host (:mod:`deploy.run.colours`)

The failure budget (``max_failures``) of ``rolling`` and ``blue_green`` counts hosts over the whole run, whatever
the phase (connect, prepare, a batch; a host whose SSH connection drops between batches fails its next step). A
host that fails is put back on its previous release at once. While the failures stay within the budget the run
goes on and ends SUCCESS, the failed hosts reported in ``RunFinished`` as put back on the previous release: with
``max_failures`` above 0 the fleet may end on two versions, as Ansible's ``max_fail_percentage`` does. One
failure more than the budget (or a failed migration, or a cancel, or an abort at a pause) stops the run: no new
batch starts, and every host already switched, in every batch, goes back.

Between batches the run pauses when the environment says so: ``pause: <duration>`` waits that long;
``pause: true`` awaits the caller's gate (True: next batch; False: abort); nobody answering within
``timeouts.pause`` is an abort. The engine refuses to start a ``pause: true`` run without a gate.

A rollback is one batch of every host with no budget: rolling and ``all`` environments switch every host back at
once; a blue/green rollback is a swap back (the idle colour normally still runs the previous release, so traffic
moves back with no rebuild and no restart; otherwise the idle colour is staged with the target release first).
"""

from __future__ import annotations

from dataclasses import dataclass

from deploy.run.plan import DeployPlan


@dataclass(frozen=True)
class Strategy:
    name: str  # all | rolling | blue_green
    batches: tuple[tuple[str, ...], ...]  # host names per batch
    max_failures: int | None = None  # hosts allowed to fail; None: no budget, any failure stops the run
    pause: bool | float = False  # between batches: no, wait for a person, or wait this many seconds
    announce_batches: bool = False  # each batch is reported with BatchStarted
    put_back_at_once: bool = False  # a host that fails in a batch goes back before the run goes on

    def must_stop(self, failures: int, fatal: bool = False, aborted: bool = False) -> bool:
        """Whether no host may start a new step: a fatal failure, an abort, or more failures than allowed."""
        return fatal or aborted or failures > (self.max_failures or 0)

    def over_budget(self, failures: int, fatal: bool = False) -> bool:
        """Whether the run stopped because its failures went over a budget (not a fatal failure)."""
        return self.max_failures is not None and not fatal and failures > self.max_failures

    def pauses_before(self, index: int) -> bool:
        """Whether the run pauses before the batch numbered ``index`` (from 1)."""
        return index > 1 and bool(self.pause)


def for_deploy(plan: DeployPlan) -> Strategy:
    if plan.strategy == "all":
        return Strategy("all", (tuple(hp.host.name for hp in plan.hosts),))
    return Strategy(plan.strategy, plan.batches, plan.max_failures, plan.pause, True, True)


def for_rollback(plan: DeployPlan) -> Strategy:
    names = (tuple(hp.host.name for hp in plan.hosts),)
    if plan.strategy == "blue_green":
        return Strategy("blue_green", names, announce_batches=True, put_back_at_once=True)
    return Strategy(plan.strategy, names)
