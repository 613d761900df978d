"""Cancel, wherever the request is: running, queued, waiting; someone else's needs the right."""

from __future__ import annotations

from commands.ports import RunEnded
from commands.replies import AwaitingApproval, Cancelled, Refusal, RunAccepted
from tests.commands.usecases.world import World, run


async def test_cancel_a_running_deploy(world: World) -> None:
    world.engine.hold = True
    await world.service.handle("deploy main to staging", "U0ALICE", "C0DEPLOYS")
    await world.settle()
    # staging lets everyone cancel (cancel defaults to the deploy list)
    other = await world.service.handle("cancel r0001", "U0EVE", "C0DEPLOYS")
    started = run("r0001", "U0ALICE", "staging")
    assert other == Cancelled(started, "running")
    await world.service.supervisor.drain()
    assert world.reporter.notices == [RunEnded(started, None, "cancelled")]
    assert world.engine.records[0].state == "cancelled"


async def test_cancel_needs_the_right_for_someone_elses_run(world: World) -> None:
    world.engine.hold = True
    await world.service.handle("deploy main to canary", "U0ALICE", "C0DEPLOYS")
    await world.service.handle("deploy feature/x to canary", "U0ALICE", "C0DEPLOYS")
    reply = await world.service.handle("cancel r0002", "U0CAROL", "C0DEPLOYS")
    assert isinstance(reply, Cancelled)  # canary: everyone may deploy, so everyone may cancel
    prod = await world.service.handle("deploy main to production", "U0ALICE", "C0DEPLOYS")
    assert isinstance(prod, AwaitingApproval)
    refused = await world.service.handle("cancel r0003", "U0EVE", "C0DEPLOYS")
    assert refused == Refusal(
        "U0EVE may not cancel runs in production: that is for @deployers", "Ask U0ALICE, who started it."
    )
    mine = await world.service.handle("cancel r0003", "U0ALICE", "C0DEPLOYS")
    assert mine == Cancelled(run("r0003", "U0ALICE", "production"), "awaiting approval")
    world.engine.release("r0001")
    await world.service.supervisor.drain()


async def test_cancel_without_a_run_id_cancels_my_only_run(world: World) -> None:
    assert await world.service.handle("cancel", "U0ALICE", "C0X") == Refusal(
        "you have no run to cancel", "Name one: `cancel RUN-ID` or `cancel ENV`."
    )
    world.engine.hold = True
    await world.service.handle("deploy main to staging", "U0ALICE", "C0X")
    reply = await world.service.handle("cancel", "U0ALICE", "C0X")
    assert reply == Cancelled(run("r0001", "U0ALICE", "staging", channel="C0X"), "running")
    await world.service.supervisor.drain()


async def test_a_cancel_right_after_the_start_still_reports_the_end(world: World) -> None:
    world.engine.hold = True
    await world.service.handle("deploy main to staging", "U0ALICE", "C0X")
    reply = await world.service.handle("cancel staging", "U0ALICE", "C0X")  # no chance to start yet
    started = run("r0001", "U0ALICE", "staging", channel="C0X")
    assert reply == Cancelled(started, "running")
    await world.service.supervisor.drain()
    assert world.reporter.notices == [RunEnded(started, None, "cancelled")]
    assert isinstance(await world.service.handle("deploy main to staging", "U0BOB", "C0X"), RunAccepted)
    world.engine.release("r0002")
    await world.service.supervisor.drain()
