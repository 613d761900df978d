"""Approvals and the queue live in the store: a second process (a restart, or a crash and a new start) sees them,
decides them once, and moves the line when a run ends anywhere, the CLI included. Two worlds given the same SQLite
store and engine are one shipbot before and after a restart."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field, replace
from pathlib import Path

from commands.ports import ApprovalExpired, QueueMoved
from commands.replies import AlreadyDecided, Approved, AwaitingApproval, Queued, Refusal, RunAccepted, StatusReply
from commands.runs import Busy
from deploy.records import RunRecord
from deploy.store.waiting import APPROVED, AWAITING
from tests.commands.fakes import REFS
from tests.commands.usecases.world import NOW, World, run, stored


def restarted(before: World) -> World:
    """A new shipbot on the same store and fleet (the process before it stopped or died)."""
    return World(waiting=before.waiting, engine=before.engine)


async def test_an_approval_asked_before_a_restart_is_approved_after_it_and_deploys_once(tmp_path: Path) -> None:
    before = World(waiting=stored(tmp_path))
    asked = await before.service.handle("deploy main to production", "U0ALICE", "C0DEPLOYS")
    assert isinstance(asked, AwaitingApproval)
    after = World(waiting=stored(tmp_path), engine=before.engine)  # its own connection

    approved = await after.service.approve("r0001", "U0CAROL")

    pending = run("r0001", "U0ALICE", "production")
    assert isinstance(approved, Approved) and approved.then == RunAccepted(pending, asked.commits)
    await after.service.supervisor.drain()
    assert [c[5] for c in before.engine.calls] == ["r0001"]
    late = await before.service.approve("r0001", "U0CAROL")  # the old process's button, pressed again
    assert late == AlreadyDecided(pending, "U0CAROL", "approved")
    assert [c[5] for c in before.engine.calls] == ["r0001"]


@dataclass
class GatedGroups:
    """Group look-ups that, once :meth:`close` was called, all wait at one gate: both approvers are past every
    other check when it opens."""

    handles: dict[str, frozenset[str]]
    gate: asyncio.Event = field(default_factory=asyncio.Event)
    waiting: int = 0

    def __post_init__(self) -> None:
        self.gate.set()

    def close(self) -> None:
        self.gate.clear()
        self.waiting = 0

    async def members(self, handle: str) -> frozenset[str]:
        self.waiting += 1
        await self.gate.wait()
        return self.handles.get(handle, frozenset())


async def test_two_approvers_at_once_admit_the_deploy_once_and_the_second_hears_who_was_first(tmp_path: Path) -> None:
    waiting = stored(tmp_path)
    groups = GatedGroups({"sre": frozenset({"U0CAROL", "U0DAVE"})})
    one, two = World(waiting=waiting, groups=groups), World(waiting=waiting, groups=groups)  # two processes
    asked = await one.service.handle("deploy main to production", "U0ALICE", "C0DEPLOYS")
    assert isinstance(asked, AwaitingApproval)
    groups.close()

    carol = asyncio.create_task(one.service.approve("r0001", "U0CAROL"))
    dave = asyncio.create_task(two.service.approve("r0001", "U0DAVE"))
    while groups.waiting < 2:
        await asyncio.sleep(0)
    groups.gate.set()
    replies = {"U0CAROL": await carol, "U0DAVE": await dave}

    pending = run("r0001", "U0ALICE", "production")
    first = [who for who, reply in replies.items() if isinstance(reply, Approved)]
    assert len(first) == 1, f"exactly one approval counts: {replies}"  # whichever statement the store took first
    second = "U0DAVE" if first == ["U0CAROL"] else "U0CAROL"
    assert replies[first[0]] == Approved(pending, first[0], RunAccepted(pending, asked.commits))
    assert replies[second] == AlreadyDecided(pending, first[0], "approved")
    await one.service.supervisor.drain()
    await two.service.supervisor.drain()
    assert [c[5] for c in one.engine.calls + two.engine.calls] == ["r0001"]
    view = await two.service.handle("status production", "U0ALICE", "C0DEPLOYS")
    assert isinstance(view, StatusReply)
    assert (view.environments[0].queued, view.environments[0].awaiting_approval) == ((), ()), "not also queued"


async def test_an_approval_expires_after_a_restart_and_the_requester_hears_it(tmp_path: Path) -> None:
    before = World(waiting=stored(tmp_path))
    await before.service.handle("deploy main to production", "U0ALICE", "C0DEPLOYS")
    after = restarted(before)
    after.clock.now = NOW + 900

    await after.service.pick_up()

    pending = run("r0001", "U0ALICE", "production")
    assert after.reporter.notices == [ApprovalExpired(pending, NOW + 900)]
    await after.service.sweep()
    assert len(after.reporter.notices) == 1, "told once"
    late = await after.service.approve("r0001", "U0CAROL")
    assert late == Refusal(
        "the approval request for r0001 expired at 2026-05-28 20:41 UTC", "Ask U0ALICE to ask for the deploy again."
    )
    assert after.engine.calls == []


async def test_the_queue_keeps_its_order_across_a_restart_and_moves_on_after_it(tmp_path: Path) -> None:
    before = World(waiting=stored(tmp_path))
    before.engine.hold = True
    await before.service.handle("deploy main to canary", "U0ALICE", "C0X")
    await before.service.handle("deploy feature/x to canary", "U0EVE", "C0X")
    await before.service.handle("deploy! v1.4.2 to canary", "U0BOB", "C0X")  # forced: the front of the line
    await before.service.shutdown(cancel=True)
    after = restarted(before)

    view = await after.service.handle("status canary", "U0EVE", "C0X")

    forced = run("r0003", "U0BOB", "canary", channel="C0X", ref="v1.4.2", sha=REFS["v1.4.2"], forced=True)
    eve = run("r0002", "U0EVE", "canary", channel="C0X", ref="feature/x", sha=REFS["feature/x"])
    assert isinstance(view, StatusReply) and view.environments[0].queued == (forced, eve)
    await after.service.pick_up()
    await after.settle()
    assert [c[5] for c in after.engine.calls] == ["r0001", "r0003"]
    assert after.reporter.notices == [QueueMoved(eve, 1, Busy("r0003", "U0BOB", "v1.4.2 (ddddddd)"))]
    after.engine.release("r0003")
    after.engine.release("r0002")
    await after.service.supervisor.drain()
    assert [c[5] for c in after.engine.calls] == ["r0001", "r0003", "r0002"]


async def test_a_deploy_queued_behind_a_cli_run_starts_when_the_cli_run_ends(world: World) -> None:
    cli = RunRecord("rcli01", "deploy", "shop", "canary", "U0CLI", "v1.4.2", REFS["v1.4.2"], "rel", "running", NOW)
    world.engine.records.insert(0, cli)  # what `shipbot deploy` writes to the shared store
    queued = await world.service.handle("deploy main to canary", "U0ALICE", "C0X")
    assert queued == Queued(
        run("r0001", "U0ALICE", "canary", channel="C0X"), 1, Busy("rcli01", "U0CLI", "v1.4.2 (ddddddd)")
    )
    await world.service.advance()
    assert world.engine.calls == [], "the CLI run still holds canary"

    world.engine.records[world.engine.records.index(cli)] = replace(cli, state="success", finished_at=NOW + 60)
    await world.service.advance()  # the bot's timer

    await world.service.supervisor.drain()
    assert [c[5] for c in world.engine.calls] == ["r0001"]
    await world.service.advance()
    assert [c[5] for c in world.engine.calls] == ["r0001"], "started once"


async def test_an_approval_whose_process_died_before_admitting_it_is_admitted_at_the_next_start(
    tmp_path: Path,
) -> None:
    before = World(waiting=stored(tmp_path))
    await before.service.handle("deploy main to production", "U0ALICE", "C0DEPLOYS")
    assert await before.waiting.move("r0001", AWAITING, APPROVED, by="U0CAROL")  # approved; then the process died
    after = restarted(before)

    await after.service.pick_up()
    await after.service.supervisor.drain()

    assert [c[5] for c in after.engine.calls] == ["r0001"]
    await restarted(after).service.pick_up()
    assert [c[5] for c in after.engine.calls] == ["r0001"], "admitted once"
