"""The commands that only read: where can I deploy, help, status, history."""

from __future__ import annotations

from commands.help_text import SYNTAX
from commands.replies import EnvironmentView, HelpReply, HistoryEntry, HistoryReply, StatusReply, WhereEntry, WhereReply
from deploy.capistrano.cap_entries import CapEntry
from deploy.records import EnvironmentStatus, HostStatus, LockRecord, RunRecord
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
        "flags",
        "flag",
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


def cap_entry(release: str, at: float, action: str = "deploy", user: str = "carol") -> CapEntry:
    return CapEntry("shop", "canary", release, action, user, "a" * 40, "main", at, "web1", 1)


def run_record(run_id: str, started_at: float) -> RunRecord:
    return RunRecord(run_id, "deploy", "shop", "canary", "U0ALICE", "main", "b" * 40, "", "success", started_at)


async def test_history_shows_capistranos_deploys_and_rollbacks_among_the_runs_newest_first(world: World) -> None:
    world.engine.records = [run_record("r0003", 300.0), run_record("r0001", 100.0)]
    world.engine.capistrano = [cap_entry("20260103", 250.0, "rollback"), cap_entry("20260102", 200.0),
                               cap_entry("20260101", 50.0)]  # fmt: skip
    history = await world.service.handle("history canary 3", "U0BOB", "C0X")
    assert history == HistoryReply(
        (HistoryEntry("shop", "canary", (world.engine.records[0],), tuple(world.engine.capistrano[:2])),)
    )
    assert isinstance(history, HistoryReply)
    assert ["r0003", "20260103", "20260102"] == [
        r.run_id if isinstance(r, RunRecord) else r.release for r in history.entries[0].timeline()
    ]
