"""Abort at a pause during a freeze: a freeze stops changes going out, never one coming back."""

from __future__ import annotations

import asyncio

import pytest

from commands.replies import Refusal, Resumed
from deploy.events import BatchGate
from tests.commands.usecases.world import FROZEN, World


@pytest.fixture
def frozen() -> World:
    return World(FROZEN)


async def paused(world: World) -> asyncio.Task[bool]:
    """U0BOB forces a deploy to frozen production, U0CAROL approves, the run waits at its pause."""
    world.engine.hold = True
    await world.service.handle("deploy! main to production", "U0BOB", "C0DEPLOYS")
    await world.service.approve("r0001", "U0CAROL", "C0DEPLOYS")
    await world.settle()
    gate = world.engine.pauses[-1]
    assert gate is not None
    waiting = asyncio.create_task(gate(BatchGate("r0001", 2, 2, ("h1",), ("h2",))))
    await world.settle()
    return waiting


async def finish(world: World) -> None:
    world.engine.hold = False
    world.service.supervisor.cancel("r0001")
    await world.service.supervisor.drain()


@pytest.mark.parametrize(
    "who",
    [
        pytest.param("U0BOB", id="the-requester"),
        pytest.param("U0CAROL", id="an-approver"),
        pytest.param("U0ADMIN", id="an-admin"),
        pytest.param("U0ALICE", id="a-deployer"),
    ],
)
async def test_abort_at_a_pause_is_answered_during_a_freeze(frozen: World, who: str) -> None:
    waiting = await paused(frozen)

    answered = await frozen.service.resume("r0001", who, "C0DEPLOYS", False)

    assert isinstance(answered, Resumed) and (answered.by, answered.go) == (who, False)
    assert False is await waiting
    await finish(frozen)


async def test_continue_during_a_freeze_and_abort_by_a_stranger_are_refused(frozen: World) -> None:
    waiting = await paused(frozen)

    onwards = await frozen.service.resume("r0001", "U0ALICE", "C0DEPLOYS", True)
    stranger = await frozen.service.resume("r0001", "U0EVE", "C0DEPLOYS", False)

    assert isinstance(onwards, Refusal) and "frozen" in onwards.reason
    assert isinstance(stranger, Refusal) and "may not abort" in stranger.reason
    assert not waiting.done()
    await finish(frozen)
    waiting.cancel()
