"""A feature flag raise waiting for an approver is a request in the store like a deploy's: it survives a restart,
expires telling the requester and changing nothing, is applied exactly once when approved (also when the process
that approved it died before applying it), and is dropped, telling the requester, when the flag service refuses it
at that moment (a freeze that came meanwhile)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from commands.command import ChangeFlag
from commands.flag_replies import FlagChanged
from commands.policy import Decision
from commands.ports import ApprovalExpired, RunDropped
from commands.replies import Approved, AwaitingApproval, Refusal
from commands.runs import RunRequest
from deploy.flags.app_flags import Written
from deploy.flags.flag_defs import FlagDef
from deploy.flags.flag_store import FlagChange
from deploy.store.waiting import APPROVED, DROPPED, STARTED
from tests.commands.usecases.world import NOW, World, stored

RAISE = ChangeFlag("ramp", "new-login", "shop", "production", tenths=100)
ASKED = Decision(True, "U0ALICE may change feature flags", approval_required=True, approvers=("@sre",))


@dataclass
class Applier:
    """The flag service's side: what it was asked to apply, and what it answers."""

    refuse: str = ""
    applied: list[tuple[str, ChangeFlag]] = field(default_factory=list)

    async def apply_approved(self, run: RunRequest, command: ChangeFlag) -> FlagChanged | Refusal:
        if self.refuse:
            return Refusal(self.refuse)
        self.applied.append((run.run_id, command))
        change = FlagChange("shop", "production", command.name, 1, run.user, NOW, "chat", "ramp", None, FlagDef(100))
        return FlagChanged(change, Written(1, "0" * 64, ()))


def with_flags(world: World, applier: Applier) -> World:
    world.service._approvals.flags = applier  # what the chat service wires to its flag service
    return world


async def ask(world: World, run_id: str = "f0001") -> AwaitingApproval:
    what = "flag new-login to 10% in production, from 0%"
    run = RunRequest(run_id, "flag", "shop", "production", "U0ALICE", "C0DEPLOYS", NOW, ref=what)
    return await world.service._approvals.ask_flag(run, RAISE, ASKED)


async def test_a_flag_raise_asked_before_a_restart_is_applied_once_when_approved_after_it(tmp_path: Path) -> None:
    before = with_flags(World(waiting=stored(tmp_path)), Applier())
    asked = await ask(before)
    assert (asked.approvers, asked.expires_at) == (("@sre",), NOW + 900)
    applier = Applier()
    after = with_flags(World(waiting=stored(tmp_path), engine=before.engine), applier)

    status = await after.service.handle("status production", "U0CAROL", "C0DEPLOYS")
    assert "flag new-login to 10% in production, from 0%" in str(status)
    approved = await after.service.approve("f0001", "U0CAROL")

    assert isinstance(approved, Approved) and isinstance(approved.then, FlagChanged)
    assert applier.applied == [("f0001", RAISE)]
    assert (await after.waiting.get("f0001")).state == STARTED  # type: ignore[union-attr]
    await after.service.pick_up()
    await before.service.approve("f0001", "U0CAROL")
    assert applier.applied == [("f0001", RAISE)], "applied once"


async def test_an_approved_raise_whose_process_died_is_applied_by_the_next_one(tmp_path: Path) -> None:
    before = with_flags(World(waiting=stored(tmp_path)), Applier())
    await ask(before)
    assert await before.waiting.move("f0001", "awaiting", APPROVED, by="U0CAROL")  # approved, then the process died
    applier = Applier()
    after = with_flags(World(waiting=stored(tmp_path), engine=before.engine), applier)
    await after.service.pick_up()
    await after.service.pick_up()
    assert applier.applied == [("f0001", RAISE)]


async def test_a_flag_raise_nobody_approves_expires_telling_the_requester_and_changes_nothing(tmp_path: Path) -> None:
    applier = Applier()
    world = with_flags(World(waiting=stored(tmp_path)), applier)
    await ask(world)
    world.clock.now = NOW + 901
    await world.service.sweep()
    expired = [n for n in world.reporter.notices if isinstance(n, ApprovalExpired)]
    assert [(n.run.run_id, n.run.user) for n in expired] == [("f0001", "U0ALICE")]
    late = await world.service.approve("f0001", "U0CAROL")
    assert isinstance(late, Refusal) and "expired" in late.reason
    assert applier.applied == []


async def test_an_approved_raise_the_flag_service_now_refuses_is_dropped_telling_the_requester(tmp_path: Path) -> None:
    world = with_flags(World(waiting=stored(tmp_path)), Applier(refuse="production is frozen: launch week"))
    await ask(world)
    approved = await world.service.approve("f0001", "U0CAROL")
    assert isinstance(approved, Approved) and approved.then == Refusal("production is frozen: launch week")
    dropped = [n for n in world.reporter.notices if isinstance(n, RunDropped)]
    assert [(n.run.user, n.reason) for n in dropped] == [("U0ALICE", "production is frozen: launch week")]
    assert (await world.waiting.get("f0001")).state == DROPPED  # type: ignore[union-attr]
