"""Rollbacks: the previous good release comes back in one step, a chosen release passes a deploy's gates
(approval, freeze), and ``rollback!`` forces one through a freeze where ``deploy!`` may, recorded and announced."""

from __future__ import annotations

from commands.ports import ApprovalDecided
from commands.replies import Approved, AwaitingApproval, Refusal, RunAccepted
from commands.runs import RunRequest
from tests.commands.usecases.world import FROZEN, FROZEN_UNTIL, NOW, World


def rollback(run_id: str, user: str, to: str = "", **kw: object) -> RunRequest:
    return RunRequest(run_id, "rollback", "shop", "production", user, "C0DEPLOYS", NOW, ref=to, **kw)  # type: ignore[arg-type]


async def test_a_rollback_to_a_chosen_release_waits_for_approval_in_production(world: World) -> None:
    asked = await world.service.handle("rollback production to v1.4.1", "U0ALICE", "C0DEPLOYS")
    pending = rollback("r0001", "U0ALICE", "v1.4.1")
    assert asked == AwaitingApproval(pending, (), ("@sre",), NOW + 900)
    assert world.engine.calls == []
    own = await world.service.handle("approve r0001", "U0ALICE", "C0DEPLOYS")
    assert own == Refusal("you cannot approve your own deploy", "Ask someone else: @sre.")
    approved = await world.service.approve("r0001", "U0CAROL", "C0DEPLOYS")
    assert approved == Approved(pending, "U0CAROL", RunAccepted(pending))
    await world.service.supervisor.drain()
    assert world.engine.calls == [("rollback", "production", "v1.4.1", "U0ALICE", "r0001")]
    assert world.reporter.notices[0] == ApprovalDecided(pending, "U0CAROL", approved=True)
    assert world.store.audit == [
        ("U0CAROL", "approve", "production", "approved r0001 by U0ALICE: a rollback to v1.4.1"),
        ("U0ALICE", "lock", "production", "rolled back by U0ALICE: redeploy on purpose with unlock"),
    ]


async def test_a_plain_rollback_stays_one_step(world: World) -> None:
    reply = await world.service.handle("rollback production", "U0CAROL", "C0DEPLOYS")
    assert reply == RunAccepted(rollback("r0001", "U0CAROL"))
    await world.service.supervisor.drain()
    assert world.engine.calls == [("rollback", "production", None, "U0CAROL", "r0001")]


async def test_a_rollback_to_a_chosen_release_is_refused_in_a_freeze() -> None:
    world = World(FROZEN)
    reply = await world.service.handle("rollback production to v1.4.1", "U0ALICE", "C0DEPLOYS")
    assert reply == Refusal(f"production is frozen: launch week, {FROZEN_UNTIL}", "Wait until it ends.")
    bob = await world.service.handle("rollback production to v1.4.1", "U0BOB", "C0DEPLOYS")
    assert bob == Refusal(
        f"production is frozen: launch week, {FROZEN_UNTIL}",
        "You may force it with `rollback! [APP] ENV to RELEASE|SHA`.",
    )
    assert world.engine.calls == []


async def test_a_plain_rollback_is_not_stopped_by_a_freeze() -> None:
    world = World(FROZEN)
    reply = await world.service.handle("rollback production", "U0CAROL", "C0DEPLOYS")
    assert reply == RunAccepted(rollback("r0001", "U0CAROL"))
    await world.service.supervisor.drain()
    assert world.engine.calls == [("rollback", "production", None, "U0CAROL", "r0001")]


async def test_a_forced_rollback_passes_the_freeze_is_recorded_and_still_waits_for_approval() -> None:
    world = World(FROZEN)
    override = f"forced through a freeze: launch week, {FROZEN_UNTIL}"
    refused = await world.service.handle("rollback! production to v1.4.1", "U0ALICE", "C0DEPLOYS")
    assert refused == Refusal(
        "U0ALICE may not force rollbacks of production: that is for U0BOB", "Drop the `!` to roll back normally."
    )
    asked = await world.service.handle("rollback! production to v1.4.1", "U0BOB", "C0DEPLOYS")
    forced = rollback("r0001", "U0BOB", "v1.4.1", forced=True, overrides=(override,))
    assert asked == AwaitingApproval(forced, (), ("@sre",), NOW + 900)
    assert world.store.audit == [
        ("U0BOB", "override rollback", "production", override),
        ("U0BOB", "force", "production", "rollback! to v1.4.1 (r0001)"),
    ]
    approved = await world.service.approve("r0001", "U0CAROL", "C0DEPLOYS")
    assert approved == Approved(forced, "U0CAROL", RunAccepted(forced))
    await world.service.supervisor.drain()
    assert world.engine.calls == [("rollback", "production", "v1.4.1", "U0BOB", "r0001")]
    assert world.store.audit[2:] == [
        ("U0CAROL", "approve", "production", "approved r0001 by U0BOB: a rollback to v1.4.1"),
        ("U0BOB", "lock", "production", "rolled back by U0BOB: redeploy on purpose with unlock"),
    ]


async def test_an_approved_rollback_is_dropped_when_a_freeze_began_meanwhile() -> None:
    world = World(FROZEN)
    midnight = NOW - 73_600  # the freeze begins at 2026-05-28 00:00 UTC
    world.clock.now = midnight - 300
    await world.service.handle("rollback production to v1.4.1", "U0ALICE", "C0DEPLOYS")
    world.clock.now = midnight + 300
    approved = await world.service.approve("r0001", "U0CAROL", "C0DEPLOYS")
    assert isinstance(approved, Approved)
    assert approved.then == Refusal(
        f"the rollback cannot start now: production is frozen: launch week, {FROZEN_UNTIL}", "Wait until it ends."
    )
    assert world.engine.calls == []
