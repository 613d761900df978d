"""A dry run: what a deploy would do, shaped from its plan and what the hosts run now (pure).

:func:`shape` takes the :class:`~deploy.run.plan.DeployPlan` a deploy would run, what it ships
(:class:`~deploy.records.Shipment`), the promotion order's verdict and each host's live state (read-only, the
``status`` probe) and returns a :class:`DryRun`: per host the release that would be created, the one it replaces,
and each step's name and command line as it would run (secrets are placeholders in a plan, and any value that
slipped in is redacted). :func:`as_json` is the ``shipbot deploy --dry-run --json`` shape. Nothing here opens a
connection or writes anything.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from deploy.delivery.promotion import PromotionBlock
from deploy.hosts import bluegreen, guarded, remote
from deploy.records import HostStatus, Shipment
from deploy.redact import Redactor
from deploy.run.plan import DeployPlan, HostPlan


@dataclass(frozen=True)
class PlannedStep:
    name: str
    command: str


@dataclass(frozen=True)
class HostDryRun:
    address: str
    release: str  # the release the deploy would create
    replaces: str | None  # where ``current`` points now (None: no release yet, or the host could not be read)
    steps: tuple[PlannedStep, ...]
    error: str = ""  # why the live state could not be read
    name: str = ""  # how people see the host (``hosts[].name``, its SRV target); empty: the address


@dataclass(frozen=True)
class DryRun:
    app: str
    environment: str
    ref: str
    sha: str
    shipment: Shipment
    promotion: PromotionBlock | None  # the promotion order refuses this deploy (None: it may go, or it is forced)
    hosts: tuple[HostDryRun, ...]
    strategy: str = "all"
    batches: tuple[tuple[str, ...], ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def live_sha(self) -> str | None:
        return self.shipment.live_sha


def planned_steps(plan: DeployPlan, hp: HostPlan) -> tuple[PlannedStep, ...]:
    """Every step ``plan`` runs on the host of ``hp``, in order, as it would run (secrets redacted)."""
    redact = Redactor(plan.secret_values)
    steps = [PlannedStep(step.name, guarded.body_of(step.command)) for step in hp.prepare]
    if plan.migrate and plan.migrate_host == hp.host.name:
        steps.append(PlannedStep("migrate", plan.migrate.command))
    if hp.colours:
        c = hp.colours
        upstream = bluegreen.upstream_path(c.deploy_to, c.upstream_file)
        steps.append(
            PlannedStep(
                "blue/green",
                f"start the idle colour (blue: port {c.ports['blue']}, green: {c.ports['green']}), verify "
                f"{c.verify_url}, point upstream {c.upstream} in {upstream} at it, {c.nginx_test} && {c.nginx_reload}",
            )
        )
    else:
        steps.append(PlannedStep("switch", remote.switch(hp.host.deploy_to, plan.release)))
    if hp.restart:
        steps.append(PlannedStep("restart", hp.restart.command))
    if hp.healthcheck:
        steps.append(PlannedStep("healthcheck", hp.healthcheck.run))
    return tuple(PlannedStep(s.name, redact(s.command)) for s in steps)


def live_sha(hosts: Mapping[str, HostStatus], recorded: str | None) -> str | None:
    """What the environment runs: the SHA every reachable host reports when they agree, else the store's record."""
    shas = {h.sha for h in hosts.values() if h.reachable and h.sha}
    return shas.pop() if len(shas) == 1 else recorded


def shape(
    plan: DeployPlan,
    ref: str,
    shipment: Shipment,
    promotion: PromotionBlock | None,
    live: Mapping[str, HostStatus],
) -> DryRun:
    """The dry run of ``plan``; ``live`` maps host names to what they run now."""
    hosts = []
    for hp in plan.hosts:
        now = live.get(hp.host.name)
        hosts.append(
            HostDryRun(
                hp.host.name,
                plan.release,
                now.release if now is not None else None,
                planned_steps(plan, hp),
                "" if now is None or (now.reachable and not now.error) else now.error or "unreachable",
                hp.host.label,
            )
        )
    return DryRun(
        plan.app, plan.environment, ref, plan.sha, shipment, promotion, tuple(hosts), plan.strategy, plan.batches,
        plan.notes,
    )  # fmt: skip


def as_json(dry: DryRun, refused: str | None) -> dict[str, Any]:
    """``{"environment", "ref", "sha", "live_sha", "commits", "refused", "hosts"}``; ``refused``: why the deploy
    would be refused (worded by the caller), or ``None``."""
    return {
        "environment": dry.environment,
        "ref": dry.ref,
        "sha": dry.sha,
        "live_sha": dry.live_sha,
        "commits": [{"sha": c.sha, "author": c.author, "subject": c.subject} for c in dry.shipment.commits],
        "refused": refused,
        "hosts": [
            {
                "address": h.address,
                "release": h.release,
                "replaces": h.replaces,
                "steps": [{"name": s.name, "command": s.command} for s in h.steps],
            }
            for h in dry.hosts
        ],
    }
