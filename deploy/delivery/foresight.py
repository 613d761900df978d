"""Looking at a deploy before it runs: what it ships, whether the promotion order lets it go, and its dry run.

The I/O around the pure cores: :func:`shipment` asks the controller's mirror for the commits and ancestry
(:mod:`deploy.delivery.compare` builds the page link); :func:`promotion` reads the store's run history for
:func:`deploy.delivery.promotion.promotion_block`; :func:`dry_run` reads each host's live state read-only (the
``status`` probe) and shapes the plan with :func:`deploy.run.dry_run.shape`. None of them writes to a host or to the
store's runs, run slots or audit; :func:`record_forced` is the one write, made by a deploy that was forced past the
order.
"""

from __future__ import annotations

import json
from typing import Protocol, cast

from deploy.config.models import Config
from deploy.delivery.compare import compare_url
from deploy.delivery.mirror import Mirror
from deploy.delivery.promotion import PromotionBlock, promotion_block
from deploy.delivery.refs import ref_problem
from deploy.errors import UsageError
from deploy.ids import new_release_id
from deploy.records import EnvironmentStatus, Shipment
from deploy.run import dry_run as dry_runs
from deploy.run.plan import DeployPlan, select_hosts
from deploy.store.tables import Store


class Looker(Protocol):
    """What a dry run asks of the engine (:class:`deploy.run.engine.Engine`): all of it reads, none writes."""

    config: Config

    async def resolve_ref(self, ref: str) -> str: ...

    async def plan(
        self, environment: str, sha: str, release: str, user: str, hosts_filter: str | None = None
    ) -> DeployPlan: ...

    async def status(self, environment: str) -> EnvironmentStatus: ...

    async def shipment(self, live_sha: str | None, sha: str, limit: int = 20) -> Shipment: ...

    async def promotion(self, environment: str, sha: str) -> PromotionBlock | None: ...

    async def deployed_sha(self, environment: str) -> str | None: ...


async def shipment(config: Config, mirror: Mirror, live_sha: str | None, sha: str, limit: int = 20) -> Shipment:
    """What a deploy of ``sha`` over ``live_sha`` ships: commits, the compare page, older than live or not."""
    if not live_sha or live_sha == sha:
        return Shipment(live_sha, sha)
    commits = await mirror.commits_between(live_sha, sha, limit)
    older = not commits and await mirror.is_ancestor(sha, live_sha)
    base, head = (sha, live_sha) if older else (live_sha, sha)
    return Shipment(live_sha, sha, tuple(commits), compare_url(config.repo, base, head), older)


def promotion(config: Config, store: Store, environment: str, sha: str) -> PromotionBlock | None:
    """The promotion order's verdict on deploying ``sha`` to ``environment`` (None: it may go)."""
    source = config.environments[environment].promote_from
    if source is None:
        return None
    return promotion_block(environment, source, sha, store.succeeded_on(config.app, sha))


def record_forced(store: Store, user: str, run_id: str, block: PromotionBlock | None) -> None:
    """A deploy forced past the promotion order, in the audit trail: who, which run, what and where it had been."""
    if block is None:
        return
    detail = {"run": run_id, "sha": block.sha, "promote_from": block.source, "on": list(block.seen_on)}
    store.record_audit(user, "force promotion", block.environment, json.dumps(detail))


async def dry_run(
    engine: Looker, environment: str, ref: str | None, user: str, hosts_filter: str | None, forced: bool
) -> dry_runs.DryRun:
    """What ``engine.deploy`` would do, changing nothing: the plan, what each host runs now (read over SSH,
    read-only, like ``status``), what it ships, and whether the promotion order refuses it (not when ``forced``)."""
    config = engine.config
    select_hosts(config, environment, hosts_filter)
    ref = ref or config.environments[environment].ref
    problem = ref_problem(ref)
    if problem:
        raise UsageError(f"{ref!r} is not a valid ref: {problem}")
    sha = await engine.resolve_ref(ref)
    plan = await engine.plan(environment, sha, new_release_id(), user, hosts_filter)
    status = await engine.status(environment)
    live = {h.address: h for h in status.hosts}
    found = await engine.shipment(dry_runs.live_sha(live, await engine.deployed_sha(environment)), sha)
    block = None if forced else await engine.promotion(environment, sha)
    return dry_runs.shape(plan, ref, found, block, live)


class Foresight:
    """The part of :class:`~deploy.run.engine.Engine` that looks at a deploy before it runs (the functions above)."""

    config: Config
    store: Store
    mirror: Mirror

    async def shipment(self, live_sha: str | None, sha: str, limit: int = 20) -> Shipment:
        """What a deploy of ``sha`` over ``live_sha`` ships (:func:`shipment`)."""
        return await shipment(self.config, self.mirror, live_sha, sha, limit)

    async def promotion(self, environment: str, sha: str) -> PromotionBlock | None:
        """The promotion order's verdict on deploying ``sha`` to ``environment`` (None: it may go)."""
        return await self.store.door(promotion, self.config, self.store, environment, sha)

    async def dry_run(
        self, environment: str, ref: str | None = None, *, user: str, hosts_filter: str | None = None,
        forced: bool = False,
    ) -> dry_runs.DryRun:  # fmt: skip
        """What ``deploy`` would do, changing nothing (:func:`dry_run`)."""
        return await dry_run(cast(Looker, self), environment, ref, user, hosts_filter, forced)
