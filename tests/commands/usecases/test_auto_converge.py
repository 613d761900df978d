"""``converge: auto``: the bot converges an environment whose hosts are behind, as itself, reported in the first
``notify`` channel, and waits while a run, someone's lock or a freeze holds the environment."""

from __future__ import annotations

from typing import Any

from commands.ports import RunAnnounced, RunEnded
from tests.commands.fakes import Clock, FakeEngine
from tests.commands.helpers import config
from tests.commands.usecases.world import ACCESS, FROZEN, NOW, World


def auto_world(access: dict[str, Any] = ACCESS) -> World:
    cfg = config(environments=("staging", "canary", "production"), access=access)
    envs = {
        name: env.model_copy(update={"converge": "auto", "notify": ["C0NOTIFY", "C0OTHER"]})
        for name, env in cfg.environments.items()
    }
    engine = FakeEngine(cfg.model_copy(update={"environments": envs}), Clock(NOW))
    return World(access=access, engine=engine)


async def test_hosts_behind_are_converged_by_the_bot_and_reported_in_the_notify_channel() -> None:
    world = auto_world()
    world.engine.deployed["staging"] = "a" * 40
    world.engine.behind["staging"] = ["web9"]

    run = await world.service.auto_converge("shop", "staging")
    await world.settle()

    assert run is not None and (run.kind, run.user, run.channel) == ("converge", "U0SHIPBOT", "C0NOTIFY")
    assert ("converge", "staging", "U0SHIPBOT", run.run_id) in world.engine.calls
    ended = [n for n in world.reporter.notices if isinstance(n, RunEnded)]
    assert [(n.run.run_id, n.run.channel) for n in ended] == [(run.run_id, "C0NOTIFY")]
    told = [n for n in world.reporter.notices if isinstance(n, RunAnnounced)]
    assert [(n.run.run_id, n.channel, n.behind) for n in told] == [(run.run_id, "C0OTHER", ("web9",))]
    assert await world.service.auto_converge("shop", "staging") is None  # caught up: nothing more to do


async def test_nothing_behind_starts_nothing() -> None:
    world = auto_world()
    world.engine.deployed["staging"] = "a" * 40

    assert await world.service.auto_converge("shop", "staging") is None
    assert world.engine.calls == []


async def test_a_lock_a_freeze_or_a_run_makes_the_bot_wait() -> None:
    world = auto_world()
    world.engine.behind["staging"] = ["web9"]
    await world.store.lock("shop", "staging", "U0BOB", "a migration")
    assert await world.service.auto_converge("shop", "staging") is None

    frozen = auto_world(FROZEN)
    frozen.engine.behind["production"] = ["web9"]
    assert await frozen.service.auto_converge("shop", "production") is None

    busy = auto_world()
    busy.engine.behind["staging"] = ["web9"]
    busy.engine.hold = True
    await busy.service.handle("deploy main to staging", "U0ALICE", "C0DEPLOYS")
    await busy.settle()
    assert await busy.service.auto_converge("shop", "staging") is None
    assert [c[0] for c in busy.engine.calls] == ["deploy"]
    for run_id in list(busy.engine.gates) or [r.run_id for r in busy.engine.records]:
        busy.engine.release(run_id)
    await busy.settle()

    assert world.engine.calls == [] and frozen.engine.calls == []
