"""Continue and Abort on a run that a dead process left paused, after this process took it over at start-up."""

from __future__ import annotations

import asyncio

from commands.ports import RunEnded
from commands.replies import Refusal, Resumed
from deploy.records import RunRecord
from tests.commands.usecases.world import FROZEN, MAIN, NOW, World


def left_waiting(world: World, run_id: str = "r0900", env: str = "production") -> RunRecord:
    record = RunRecord(run_id, "deploy", "shop", env, "U0ALICE", "main", MAIN, "rel", "waiting", NOW - 60)
    world.engine.taken_over[run_id] = record
    return record


async def test_continue_resumes_the_taken_over_run_once_reported_in_its_channel(world: World) -> None:
    left_waiting(world)
    refused = await world.service.resume("r0900", "U0EVE", "C0DEPLOYS", True)  # not a deployer of production
    assert isinstance(refused, Refusal) and "r0900" in world.engine.taken_over

    answered = await world.service.resume("r0900", "U0BOB", "C0DEPLOYS", True)
    again = await world.service.resume("r0900", "U0BOB", "C0DEPLOYS", True)
    await world.service.supervisor.drain()

    assert isinstance(answered, Resumed) and (answered.by, answered.go, answered.run.user) == ("U0BOB", True, "U0ALICE")
    assert Refusal("r0900 is not waiting at a pause", "`status` shows what runs and waits.") == again
    assert [("resume", "r0900", True, "a person chose Abort")] == world.engine.calls
    assert world.engine.pauses[-1] is not None, "a later pause of the resumed run gets a gate with working buttons"
    assert ["r0900"] == world.reporter.started
    ended = [n for n in world.reporter.notices if isinstance(n, RunEnded)]
    assert [("r0900", "C0DEPLOYS", MAIN)] == [(n.run.run_id, n.run.channel, n.run.sha) for n in ended]
    assert any(a[1] == "continue" for a in world.store.audit)


async def test_abort_is_answered_during_a_freeze_and_continue_is_not() -> None:
    frozen = World(FROZEN)
    left_waiting(frozen)
    refused = await frozen.service.resume("r0900", "U0BOB", "C0DEPLOYS", True)
    assert isinstance(refused, Refusal) and "launch week" in refused.reason
    aborted = await frozen.service.resume("r0900", "U0ALICE", "C0DEPLOYS", False)
    await frozen.service.supervisor.drain()
    assert isinstance(aborted, Resumed) and not aborted.go
    assert [("resume", "r0900", False, "a person chose Abort")] == frozen.engine.calls


async def test_an_unanswered_taken_over_pause_is_aborted_when_its_timeout_passes(world: World) -> None:
    left_waiting(world)
    left_waiting(world, "r0901", "staging")
    world.service.expire_taken_over("r0900", "C0DEPLOYS", 0.05)
    world.service.expire_taken_over("r0901", "C0DEPLOYS", 0.05)
    await world.service.resume("r0901", "U0BOB", "C0DEPLOYS", True)  # answered in time: the timeout leaves it
    await asyncio.sleep(0.2)
    await world.service.supervisor.drain()
    expected = [
        ("resume", "r0901", True, "a person chose Abort"),
        ("resume", "r0900", False, "nobody answered within 0.1s"),
    ]
    assert expected == world.engine.calls
