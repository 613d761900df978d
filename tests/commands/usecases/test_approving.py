"""Deploys that wait for a second person: approve, reject, expiry."""

from __future__ import annotations

from commands.ports import ApprovalDecided, ApprovalExpired
from commands.replies import AlreadyDecided, Approved, AwaitingApproval, Refusal, Rejected, RunAccepted
from deploy.records import Shipment
from tests.commands.usecases.world import COMMITS, MAIN, NOW, World, run


async def test_production_waits_for_an_approver_who_is_not_the_requester(world: World) -> None:
    asked = await world.service.handle("deploy main to production", "U0ALICE", "C0DEPLOYS")
    pending = run("r0001", "U0ALICE", "production")
    assert asked == AwaitingApproval(pending, COMMITS, ("@sre",), NOW + 900, Shipment(None, MAIN, COMMITS))
    assert world.engine.calls == []
    own = await world.service.handle("approve r0001", "U0ALICE", "C0DEPLOYS")
    assert own == Refusal("you cannot approve your own deploy", "Ask someone else: @sre.")
    bob = await world.service.approve("r0001", "U0BOB")
    assert bob == Refusal(
        "U0BOB may not approve deploys to production: that is for @sre",
        "`where can I deploy` lists what you may do; an admin can change access in the config.",
    )
    carol = await world.service.approve("r0001", "U0CAROL")
    assert carol == Approved(pending, "U0CAROL", RunAccepted(pending, COMMITS))
    await world.service.supervisor.drain()
    assert world.engine.calls == [("deploy", "production", "main", "U0ALICE", None, "r0001", MAIN, False)]
    assert world.reporter.notices[0] == ApprovalDecided(pending, "U0CAROL", approved=True)


async def test_an_expired_approval_is_refused(world: World) -> None:
    await world.service.handle("deploy main to production", "U0ALICE", "C0DEPLOYS")
    world.clock.now = NOW + 900
    reply = await world.service.handle("approve r0001", "U0CAROL", "C0DEPLOYS")
    assert reply == Refusal(
        "the approval request for r0001 expired at 2026-05-28 20:41 UTC",
        "Ask U0ALICE to ask for the deploy again.",
    )
    assert world.reporter.notices == [ApprovalExpired(run("r0001", "U0ALICE", "production"), NOW + 900)]
    assert world.engine.calls == []


async def test_just_before_expiry_an_approval_counts(world: World) -> None:
    await world.service.handle("deploy main to production", "U0ALICE", "C0DEPLOYS")
    world.clock.now = NOW + 899
    reply = await world.service.approve("r0001", "U0CAROL")
    assert isinstance(reply, Approved)
    await world.service.supervisor.drain()


async def test_a_rejection_ends_the_request_with_the_reason(world: World) -> None:
    await world.service.handle("deploy main to production", "U0ALICE", "C0DEPLOYS")
    reply = await world.service.handle("reject r0001 tests are red", "U0CAROL", "C0DEPLOYS")
    pending = run("r0001", "U0ALICE", "production")
    assert reply == Rejected(pending, "U0CAROL", "tests are red")
    assert world.reporter.notices == [ApprovalDecided(pending, "U0CAROL", approved=False, reason="tests are red")]
    again = await world.service.approve("r0001", "U0CAROL")
    assert again == AlreadyDecided(pending, "U0CAROL", "rejected")
    unknown = await world.service.approve("r0009", "U0CAROL")
    assert unknown == Refusal(
        "no deploy r0009 is waiting for approval",
        "`status` lists the requests waiting for approval; ask for the deploy again if it is not there.",
    )
