"""The commands that only read: where can I deploy, help, status, history."""

from __future__ import annotations

from commands.help_text import SYNTAX
from commands.replies import EnvironmentView, HelpReply, HistoryEntry, HistoryReply, StatusReply, WhereEntry, WhereReply
from deploy.records import EnvironmentStatus, HostStatus, LockRecord
from tests.commands.fakes import REFS
from tests.commands.usecases.world import NOW, World, run


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
        "converge",
        "cancel",
        "plan",
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
