"""The answer at a pause between batches reaches the run, and only while it waits."""

from __future__ import annotations

import asyncio

from commands.replies import Refusal, Resumed
from deploy.events import BatchGate
from tests.commands.usecases.world import World


async def test_the_answer_at_a_pause_reaches_the_run_and_only_while_it_waits(world: World) -> None:
    """The gate a deploy gets waits until someone who may deploy there presses Continue or Abort."""
    world.engine.hold = True
    await world.service.handle("deploy main to production", "U0ALICE", "C0DEPLOYS")  # needs approval first
    await world.service.approve("r0001", "U0CAROL", "C0DEPLOYS")
    await world.settle()
    gate = world.engine.pauses[-1]
    assert gate is not None
    not_yet = await world.service.resume("r0001", "U0BOB", "C0DEPLOYS", True)
    assert Refusal("r0001 is not waiting at a pause", "`status` shows what runs and waits.") == not_yet

    waiting = asyncio.create_task(gate(BatchGate("r0001", 2, 2, ("h1",), ("h2",))))
    await world.settle()
    refused = await world.service.resume("r0001", "U0EVE", "C0DEPLOYS", True)
    assert isinstance(refused, Refusal) and not waiting.done()

    answered = await world.service.resume("r0001", "U0BOB", "C0DEPLOYS", False)
    assert isinstance(answered, Resumed) and (answered.by, answered.go) == ("U0BOB", False)
    assert False is await waiting
    world.engine.hold = False
    world.service.supervisor.cancel("r0001")
    await world.service.supervisor.drain()
