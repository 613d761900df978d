"""Asking for runs: deploys start pinned, busy and queued environments, rollbacks and tasks, overrides, shutdown."""

from __future__ import annotations

import asyncio
import re

from commands.ports import QueueMoved, RunEnded
from commands.replies import Queued, Refusal, RunAccepted, StatusReply
from commands.runs import Busy, RunRequest
from deploy.events import Outcome, RunFinished
from deploy.records import LockRecord, RunRecord
from tests.commands.fakes import REFS
from tests.commands.usecases.world import COMMITS, MAIN, NOW, World, run


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


async def test_a_run_whose_controller_stopped_answering_is_named_so_with_when_it_is_taken_over(world: World) -> None:
    """Its replica died elsewhere (or froze): the store shows the run stalled until its lease runs out and another
    replica repairs it; a deploy meanwhile is told so, not that someone is deploying."""
    world.engine.records.insert(0, RunRecord(
        "rdead1", "deploy", "shop", "staging", "U0CLI", "v1.4.2", REFS["v1.4.2"], "r1", "running", NOW - 60,
        stalled=(21.4, 8.6),
    ))  # fmt: skip
    reply = await world.service.handle("deploy main to staging", "U0BOB", "C0DEPLOYS")
    assert isinstance(reply, Refusal)
    assert re.fullmatch(
        r"staging is held by run rdead1 \(U0CLI: v1\.4\.2 \(ddddddd\)\), whose controller stopped answering 21s "
        r"ago; the run is taken over and repaired at \d\d:\d\d:\d\d UTC \(in 9s\) unless it answers first",
        reply.reason,
    ), reply.reason
    assert ("Try again then: the run is repaired first, and your deploy goes ahead.", []) == (
        reply.hint,
        [c for c in world.engine.calls if c[0] == "deploy"],
    )


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


async def test_a_rollback_locks_the_environment_against_redeploys(world: World) -> None:
    reply = await world.service.handle("rollback production", "U0CAROL", "C0DEPLOYS")
    rollback = RunRequest("r0001", "rollback", "shop", "production", "U0CAROL", "C0DEPLOYS", NOW)
    assert reply == RunAccepted(rollback)
    await world.service.supervisor.drain()
    lock = LockRecord("production", "U0CAROL", "rolled back by U0CAROL: redeploy on purpose with unlock", NOW)
    assert world.store.locks == {("shop", "production"): lock}
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


async def test_a_user_without_a_slack_id_is_refused(world: World) -> None:
    reply = await world.service.handle("deploy main to staging", "alice", "C0X")
    assert reply == Refusal("shipbot knows people by their Slack user ID, and this message has none it can use")


async def test_shutdown_keeps_everyone_waiting_for_the_next_start(world: World) -> None:
    world.engine.hold = True
    await world.service.handle("deploy main to canary", "U0ALICE", "C0X")
    await world.service.handle("deploy feature/x to canary", "U0EVE", "C0X")
    await world.service.handle("deploy main to production", "U0ALICE", "C0X")
    await world.settle()
    await world.service.shutdown(cancel=True)
    assert world.reporter.notices == [RunEnded(run("r0001", "U0ALICE", "canary", channel="C0X"), None, "cancelled")]
    assert world.engine.records[0].state == "cancelled"
    assert [c[5] for c in world.engine.calls] == ["r0001"], "nothing starts from the line while shutting down"
    after = World(waiting=world.waiting, engine=world.engine)
    view = await after.service.handle("status", "U0EVE", "C0X")
    assert isinstance(view, StatusReply)
    places = {v.environment: (v.queued, v.awaiting_approval) for v in view.environments}
    queued = run("r0002", "U0EVE", "canary", channel="C0X", ref="feature/x", sha=REFS["feature/x"])
    assert places["canary"] == ((queued,), ())
    assert places["production"] == ((), (run("r0003", "U0ALICE", "production", channel="C0X"),))
