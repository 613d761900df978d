"""Use cases against in-memory fakes of the ports: deploy, queue, busy, locks, approval, cancel, rollback."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from commands.help_text import SYNTAX
from commands.ports import ApprovalDecided, ApprovalExpired, QueueMoved, RunDropped, RunEnded
from commands.replies import (
    Approved,
    AwaitingApproval,
    Cancelled,
    EnvironmentView,
    HelpReply,
    HistoryEntry,
    HistoryReply,
    Locked,
    NotLocked,
    Queued,
    Refusal,
    Rejected,
    Resumed,
    RunAccepted,
    StatusReply,
    Unlocked,
    WhereEntry,
    WhereReply,
)
from commands.runs import Busy, RunRequest
from commands.usecases import ChatService
from deploy.events import BatchGate, Outcome, RunFinished
from deploy.records import Commit, EnvironmentStatus, HostStatus, LockRecord
from tests.commands.fakes import REFS, Clock, FakeEngine, FakeGroups, FakeReporter, FakeStore, RunIds
from tests.commands.helpers import config

ACCESS: dict[str, Any] = {
    "admins": ["U0ADMIN"],
    "groups": {"deployers": ["U0ALICE", "U0BOB"]},
    "environments": {
        "staging": {"deploy": ["*"], "lock": ["*"]},
        "canary": {"deploy": ["*"], "queue": True, "force": ["U0BOB"]},
        "production": {
            "deploy": ["@deployers"],
            "rollback": ["@deployers", "@sre"],
            "approve": ["@sre"],
            "lock": ["@sre"],
            "approval": "required",
            "queue": True,
        },
    },
}
NOW = 1_780_000_000.0  # 2026-05-28 20:26:40 UTC, a Thursday
MAIN = REFS["main"]
COMMITS = (Commit(MAIN, "U0ALICE", "Add the new login"), Commit("e" * 40, "U0BOB", "Fix the cart"))


class World:
    def __init__(self) -> None:
        self.clock = Clock(NOW)
        self.engine = FakeEngine(config(environments=("staging", "canary", "production"), access=ACCESS), self.clock)
        self.store = FakeStore(self.clock)
        self.groups = FakeGroups({"sre": frozenset({"U0CAROL"})})
        self.reporter = FakeReporter()
        self.service = ChatService(
            {"shop": self.engine},
            {"shop": self.store},
            self.groups,
            self.reporter,
            clock=self.clock,
            run_ids=RunIds(),
            bot_user_id="U0SHIPBOT",
        )

    async def settle(self) -> None:
        for _ in range(5):
            await asyncio.sleep(0)


@pytest.fixture
def world() -> World:
    return World()


def run(run_id: str, user: str, env: str, **kw: Any) -> RunRequest:
    fields: dict[str, Any] = {
        "kind": "deploy",
        "app": "shop",
        "channel": "C0DEPLOYS",
        "requested_at": NOW,
        "ref": "main",
        "sha": MAIN,
    }
    fields.update(kw)
    return RunRequest(run_id=run_id, user=user, environment=env, **fields)


async def test_a_deploy_starts_pinned_to_the_resolved_commit(world: World) -> None:
    reply = await world.service.handle("<@U0SHIPBOT> deploy main to staging/web", "U0EVE", "C0DEPLOYS")
    expected_run = run("r0001", "U0EVE", "staging", target="web")
    assert reply == RunAccepted(expected_run, COMMITS)
    await world.service.supervisor.drain()
    assert world.engine.calls == [("deploy", "staging", "main", "U0EVE", "web", "r0001", MAIN, False)]
    assert world.reporter.started == ["r0001"]
    assert world.reporter.notices == [
        RunEnded(expected_run, RunFinished("r0001", Outcome.SUCCESS, "deploy success", 1.0))
    ]


async def test_a_parse_error_is_a_refusal_with_a_hint(world: World) -> None:
    reply = await world.service.handle("deploy main to stagin", "U0EVE", "C0DEPLOYS")
    assert reply == Refusal(
        "unknown environment `stagin`", "did you mean `staging`? Try: `deploy [APP] [REF] to ENV[/ROLE-OR-HOST]`"
    )


async def test_an_unknown_ref_is_refused(world: World) -> None:
    reply = await world.service.handle("deploy nope to staging", "U0EVE", "C0DEPLOYS")
    assert reply == Refusal(
        "shop has no branch, tag or commit 'nope'", "Check the branch, tag or commit name; push it first if it is new."
    )


async def test_a_busy_environment_without_queue_refuses_naming_who_deploys_what(world: World) -> None:
    world.engine.hold = True
    await world.service.handle("deploy main to staging", "U0ALICE", "C0DEPLOYS")
    reply = await world.service.handle("deploy feature/x to staging", "U0BOB", "C0DEPLOYS")
    assert reply == Refusal(
        "staging is busy: U0ALICE is deploying main (aaaaaaa) (run r0001)",
        "Try again when it ends, or `cancel r0001` if you may.",
    )
    world.engine.release("r0001")
    await world.service.supervisor.drain()


async def test_a_run_started_outside_chat_makes_the_environment_busy(world: World) -> None:
    world.engine.hold = True
    task = asyncio.create_task(
        world.engine.deploy("staging", "v1.4.2", user="U0CLI", run_id="rcli01", sha=REFS["v1.4.2"])
    )
    await world.settle()
    reply = await world.service.handle("deploy main to staging", "U0BOB", "C0DEPLOYS")
    assert reply == Refusal(
        "staging is busy: U0CLI is deploying v1.4.2 (ddddddd) (run rcli01)",
        "Try again when it ends, or `cancel rcli01` if you may.",
    )
    world.engine.release("rcli01")
    await task


async def test_the_queue_reports_positions_and_moves_on(world: World) -> None:
    world.engine.hold = True
    first = await world.service.handle("deploy main to canary", "U0ALICE", "C0DEPLOYS")
    second = await world.service.handle("deploy feature/x to canary", "U0EVE", "C0DEPLOYS")
    third = await world.service.handle("deploy v1.4.2 to canary", "U0DAVE", "C0DEPLOYS")
    assert isinstance(first, RunAccepted)
    ahead = Busy("r0001", "U0ALICE", "main (aaaaaaa)")
    r2 = run("r0002", "U0EVE", "canary", ref="feature/x", sha=REFS["feature/x"])
    r3 = run("r0003", "U0DAVE", "canary", ref="v1.4.2", sha=REFS["v1.4.2"])
    assert second == Queued(r2, 1, ahead)
    assert third == Queued(r3, 2, ahead)
    world.engine.release("r0001")
    await world.settle()
    assert world.reporter.started == ["r0001", "r0002"]
    assert world.reporter.notices[1:] == [QueueMoved(r3, 1, Busy("r0002", "U0EVE", "feature/x (ccccccc)"))]
    world.engine.release("r0002")
    world.engine.release("r0003")
    await world.service.supervisor.drain()
    assert [c[5] for c in world.engine.calls] == ["r0001", "r0002", "r0003"]


async def test_a_forced_deploy_goes_to_the_front_of_the_queue_and_is_recorded(world: World) -> None:
    world.engine.hold = True
    await world.service.handle("deploy main to canary", "U0ALICE", "C0DEPLOYS")
    await world.service.handle("deploy feature/x to canary", "U0EVE", "C0DEPLOYS")
    reply = await world.service.handle("deploy! v1.4.2 to canary", "U0BOB", "C0DEPLOYS")
    forced = run("r0003", "U0BOB", "canary", ref="v1.4.2", sha=REFS["v1.4.2"], forced=True)
    assert reply == Queued(forced, 1, Busy("r0001", "U0ALICE", "main (aaaaaaa)"))
    assert world.store.audit == [("U0BOB", "force", "canary", "deploy! v1.4.2 (ddddddd) (r0003)")]
    refused = await world.service.handle("deploy! main to canary", "U0EVE", "C0DEPLOYS")
    assert refused == Refusal(
        "U0EVE may not force deploys to canary: that is for U0BOB", "Drop the `!` to deploy normally."
    )
    for run_id in ("r0001", "r0002", "r0003"):
        world.engine.release(run_id)
    await world.service.supervisor.drain()
    assert [c[5] for c in world.engine.calls] == ["r0001", "r0003", "r0002"]


async def test_a_lock_by_someone_else_refuses_with_who_why_and_since(world: World) -> None:
    locked = await world.service.handle("lock staging for demo at 3pm", "U0ALICE", "C0DEPLOYS")
    assert locked == Locked("shop", LockRecord("staging", "U0ALICE", "demo at 3pm", NOW))
    refused = await world.service.handle("deploy main to staging", "U0EVE", "C0DEPLOYS")
    assert refused == Refusal(
        "staging is locked by U0ALICE since 2026-05-28 20:26 UTC: demo at 3pm",
        "Ask U0ALICE to `unlock staging`; an admin can `unlock staging --force` (recorded).",
    )
    own = await world.service.handle("deploy main to staging", "U0ALICE", "C0DEPLOYS")
    assert isinstance(own, RunAccepted)
    await world.service.supervisor.drain()


async def test_unlock_by_owner_by_others_and_by_an_admin_with_force(world: World) -> None:
    await world.service.handle("lock staging for demo", "U0ALICE", "C0DEPLOYS")
    eve = await world.service.handle("unlock staging --force", "U0EVE", "C0DEPLOYS")
    assert eve == Refusal(
        "staging is locked by U0ALICE since 2026-05-28 20:26 UTC: demo; only they or an admin can unlock it",
        "Ask U0ALICE or an admin.",
    )
    admin = await world.service.handle("unlock staging --force", "U0ADMIN", "C0DEPLOYS")
    assert admin == Unlocked("shop", LockRecord("staging", "U0ALICE", "demo", NOW), forced=True)
    assert world.store.audit[-2:] == [
        ("U0ADMIN", "unlock --force", "staging", "demo"),
        ("U0ADMIN", "override unlock", "staging", "unlocked U0ALICE's lock (demo)"),
    ]
    assert await world.service.handle("unlock staging", "U0ALICE", "C0DEPLOYS") == NotLocked("shop", "staging")


async def test_an_expired_lock_counts_as_none(world: World) -> None:
    world.store.locks["staging"] = LockRecord("staging", "U0ALICE", "lunch", NOW - 3600, expires_at=NOW - 1)
    assert isinstance(await world.service.handle("deploy main to staging", "U0EVE", "C0X"), RunAccepted)
    await world.service.supervisor.drain()


async def test_production_waits_for_an_approver_who_is_not_the_requester(world: World) -> None:
    asked = await world.service.handle("deploy main to production", "U0ALICE", "C0DEPLOYS")
    pending = run("r0001", "U0ALICE", "production")
    assert asked == AwaitingApproval(pending, COMMITS, ("@sre",), NOW + 900)
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
    assert again == Refusal(
        "no deploy r0001 is waiting for approval",
        "It was approved, rejected, cancelled or expired, or shipbot restarted (which forgets requests that "
        "wait). Ask for the deploy again.",
    )


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


async def test_a_rollback_locks_the_environment_against_redeploys(world: World) -> None:
    reply = await world.service.handle("rollback production", "U0CAROL", "C0DEPLOYS")
    rollback = RunRequest("r0001", "rollback", "shop", "production", "U0CAROL", "C0DEPLOYS", NOW)
    assert reply == RunAccepted(rollback)
    await world.service.supervisor.drain()
    lock = LockRecord("production", "U0CAROL", "rolled back by U0CAROL: redeploy on purpose with unlock", NOW)
    assert world.store.locks == {"production": lock}
    assert world.reporter.notices == [
        RunEnded(rollback, RunFinished("r0001", Outcome.SUCCESS, "rollback success", 1.0), lock=lock)
    ]
    again = await world.service.handle("deploy main to production", "U0ALICE", "C0DEPLOYS")
    assert again == Refusal(
        "production is locked by U0CAROL since 2026-05-28 20:26 UTC: rolled back by U0CAROL: redeploy on purpose "
        "with unlock",
        "Ask U0CAROL to `unlock production`; an admin can `unlock production --force` (recorded).",
    )


async def test_a_failed_rollback_does_not_lock(world: World) -> None:
    world.engine.outcome = Outcome.FAILED
    await world.service.handle("rollback production", "U0CAROL", "C0DEPLOYS")
    await world.service.supervisor.drain()
    assert world.store.locks == {}


async def test_rollback_from_a_finished_deploy(world: World) -> None:
    await world.service.handle("deploy main to staging", "U0ALICE", "C0X")
    await world.service.supervisor.drain()
    reply = await world.service.rollback_run("r0001", "U0ALICE", "C0X")
    assert reply == RunAccepted(RunRequest("r0002", "rollback", "shop", "staging", "U0ALICE", "C0X", NOW))
    await world.service.supervisor.drain()
    assert await world.service.rollback_run("r0009", "U0ALICE", "C0X") == Refusal(
        "no deploy r0009 in the history", "`history ENV` lists recent runs."
    )


async def test_an_admin_override_is_recorded(world: World) -> None:
    reply = await world.service.handle("run migrate on production", "U0ADMIN", "C0X")
    assert reply == RunAccepted(
        RunRequest(
            "r0001",
            "task",
            "shop",
            "production",
            "U0ADMIN",
            "C0X",
            NOW,
            task="migrate",
            overrides=("admin: not in production's task list (@deployers)",),
        )
    )
    await world.service.supervisor.drain()
    assert world.store.audit == [
        ("U0ADMIN", "override task", "production", "admin: not in production's task list (@deployers)")
    ]


async def test_where_can_i_deploy_and_help(world: World) -> None:
    where = await world.service.handle("where can I deploy", "U0EVE", "C0X")
    assert where == WhereReply(
        (
            WhereEntry("shop", "staging", True, "U0EVE may deploy to staging (everyone)"),
            WhereEntry("shop", "canary", True, "U0EVE may deploy to canary (everyone)"),
            WhereEntry("shop", "production", False, "U0EVE may not deploy to production: that is for @deployers"),
        )
    )
    helped = await world.service.handle("help", "U0CAROL", "C0X")
    words = (
        "deploy",
        "rollback",
        "cancel",
        "status",
        "history",
        "lock",
        "unlock",
        "where",
        "run",
        "approve",
        "reject",
        "help",
    )
    assert helped == HelpReply(tuple(SYNTAX[w] for w in words))
    assert world.groups.asked == ["sre", "sre"]
    assert await world.service.handle("help deploy!", "U0EVE", "C0X") == HelpReply(
        (SYNTAX["deploy!"],), "deploy!", allowed_here=False
    )


async def test_a_user_without_a_slack_id_is_refused(world: World) -> None:
    reply = await world.service.handle("deploy main to staging", "alice", "C0X")
    assert reply == Refusal("shipbot knows people by their Slack user ID, and this message has none it can use")


async def test_shutdown_tells_everyone_waiting_that_they_are_forgotten(world: World) -> None:
    world.engine.hold = True
    await world.service.handle("deploy main to canary", "U0ALICE", "C0X")
    await world.service.handle("deploy feature/x to canary", "U0EVE", "C0X")
    await world.service.handle("deploy main to production", "U0ALICE", "C0X")
    await world.settle()
    await world.service.shutdown(cancel=True)
    reason = "shipbot is restarting and forgets requests that wait; nothing of this one ran"
    hint = "Ask again when shipbot is back."
    assert world.reporter.notices == [
        RunDropped(
            run("r0002", "U0EVE", "canary", channel="C0X", ref="feature/x", sha=REFS["feature/x"]), reason, hint
        ),
        RunDropped(run("r0003", "U0ALICE", "production", channel="C0X"), reason, hint),
        RunEnded(run("r0001", "U0ALICE", "canary", channel="C0X"), None, "cancelled"),
    ]
    assert world.engine.records[0].state == "cancelled"


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


async def test_status_and_history_show_runs_locks_and_queue(world: World) -> None:
    world.engine.hold = True
    await world.service.handle("deploy main to canary", "U0ALICE", "C0X")
    await world.service.handle("deploy feature/x to canary", "U0EVE", "C0X")
    await world.service.handle("lock staging for demo", "U0EVE", "C0X")
    await world.settle()
    status = await world.service.handle("status canary", "U0BOB", "C0X")
    first = run("r0001", "U0ALICE", "canary", channel="C0X")
    second = run("r0002", "U0EVE", "canary", channel="C0X", ref="feature/x", sha=REFS["feature/x"])
    assert status == StatusReply(
        (
            EnvironmentView(
                "shop",
                "canary",
                EnvironmentStatus("shop", "canary", (HostStatus("web1", True, "rel", None),)),
                running=(first,),
                queued=(second,),
            ),
        )
    )
    locked = await world.service.handle("status staging", "U0BOB", "C0X")
    assert isinstance(locked, StatusReply)
    assert locked.environments[0].lock == LockRecord("staging", "U0EVE", "demo", NOW)
    history = await world.service.handle("history canary 5", "U0BOB", "C0X")
    assert history == HistoryReply((HistoryEntry("shop", "canary", tuple(world.engine.records[:5])),))
    assert [r.run_id for r in world.engine.records] == ["r0001"]
    world.engine.release("r0001")
    world.engine.release("r0002")
    await world.service.supervisor.drain()


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
