"""GitHub deployments a killed bot took and never decided: the live bot's timer decides each once, under the run id
the killed bot gave it, and never starts a run that was already asked for. The use case over ChatService (the shop
world's fakes of the engine and Slack) with the store's real inbox and run table (SQLite, behind the door)."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass, field

import pytest

from commands.command import Deploy
from commands.forge_deployments import DeploymentEvent
from commands.ports import Announcement
from commands.replies import AwaitingApproval
from commands.usecases.forge_service import DeploymentStarts, ForgeStatusReporter
from deploy.notify.forge_config import Deployments, GitHubDeployments
from deploy.notify.forge_runs import ForgeRuns
from deploy.records import RunRecord
from deploy.store.database import Database
from deploy.store.inbox import Inbox
from deploy.store.tables import Store
from tests.commands.fakes import Clock, FakeEngine, RunIds
from tests.commands.helpers import config
from tests.commands.usecases.world import ACCESS, NOW, World

SHA = "f" * 40
KEY = "deployment:github:acme/shop:{}"


class ShaEngine(FakeEngine):
    """The fake engine, taking a full commit id as the real one does."""

    async def resolve_ref(self, ref: str) -> str:
        return ref if re.fullmatch(r"[0-9a-f]{40}", ref) else await super().resolve_ref(ref)


@dataclass
class Told:
    announced: list[Announcement] = field(default_factory=list)

    async def announce(self, announcement: Announcement) -> str | None:
        self.announced.append(announcement)
        return None


@dataclass
class Bot:
    world: World
    store: Store
    told: Told
    starts: DeploymentStarts
    forge: ForgeStatusReporter

    async def killed_replica_took(
        self, deployment: int, creator: str = "octocat", environment: str = "staging"
    ) -> DeploymentEvent:
        event = DeploymentEvent(
            "github", "d", str(deployment), "acme/shop", SHA, "main", "deploy", environment, creator
        )
        dead = Inbox(self.store.db, "killed-replica", 0.0)  # its hold ran out at once
        assert await self.store.door(dead.receive, KEY.format(deployment), "deployment", json.dumps(asdict(event)))
        return event

    async def unanswered(self) -> list[str]:
        return await self.store.door(self.store.inbox.unanswered, ["deployment"])


@pytest.fixture
async def bot() -> AsyncIterator[Bot]:
    cfg = config(
        environments=("staging", "canary", "production"), access={**ACCESS, "github_users": {"octocat": "U0ALICE"}}
    )
    cfg = cfg.model_copy(update={"deployments": Deployments(github=GitHubDeployments(repo="acme/shop"))})
    world = World(engine=ShaEngine(cfg, Clock(NOW)), access=cfg.access)
    store, told = Store(Database("sqlite://")), Told()
    store.outbox.route_config(cfg)
    runs = ForgeRuns(store.db)
    forge = ForgeStatusReporter(world.reporter, {"shop": cfg}, runs, store.door, store.outbox)
    starts = DeploymentStarts(
        {"shop": world.engine}, world.service.policies, world.service.execute, store.inbox, runs, store.door, forge,
        told, world.service.approval_posted, RunIds(), world.service.started,
    )  # fmt: skip
    yield Bot(world, store, told, starts, forge)
    await forge.close()
    store.close()


async def test_a_deployment_a_killed_bot_took_is_deployed_once_by_the_live_one(bot: Bot) -> None:
    await bot.killed_replica_took(7001)
    await bot.starts.recover()
    await bot.world.settle()
    [call] = [c for c in bot.world.engine.calls if c[0] == "deploy"]
    assert ("deploy", "staging", SHA, "U0ALICE", SHA) == (call[0], call[1], call[2], call[3], call[6])
    assert [] == await bot.unanswered()
    await bot.starts.recover()  # the next tick finds nothing more
    await bot.world.settle()
    assert 1 == len([c for c in bot.world.engine.calls if c[0] == "deploy"])


async def test_the_run_id_the_killed_bot_gave_is_kept_and_a_run_already_asked_for_is_not_started_again(
    bot: Bot,
) -> None:
    runs = ForgeRuns(bot.store.db)
    started = await bot.killed_replica_took(7002)  # killed after its run started (it has ended since)
    await bot.store.door(runs.record, "r-started", started.target("shop"))
    bot.world.engine.records.insert(0, RunRecord(
        "r-started", "deploy", "shop", "staging", "U0ALICE", SHA, SHA, "rel", "success", NOW,
    ))  # fmt: skip
    never = await bot.killed_replica_took(7003)  # killed after writing its run down, before asking for it
    await bot.store.door(runs.record, "r-never", never.target("shop"))
    await bot.starts.recover()
    await bot.world.settle()
    assert ["r-never"] == [c[5] for c in bot.world.engine.calls if c[0] == "deploy"]
    assert [] == await bot.unanswered()


async def test_a_picked_up_deployment_from_an_unmapped_user_is_refused_once(bot: Bot) -> None:
    await bot.killed_replica_took(7004, creator="mallory")
    await bot.starts.recover()
    await bot.forge.settled()
    assert [("7004", "error")] == [
        (n.document["deployment_id"], n.document["deployment_state"])
        for n in await bot.store.door(bot.store.outbox.listing)
    ]  # written to the outbox, for its sender to deliver
    assert [] == [c for c in bot.world.engine.calls if c[0] == "deploy"] and [] == await bot.unanswered()


async def test_a_deployment_a_killed_bot_asked_approval_for_gets_its_queued_status_once(bot: Bot) -> None:
    """Killed after asking for the approval, before writing the ``queued`` status: the live bot writes it (once),
    and does not ask again."""
    event = await bot.killed_replica_took(7005, environment="production")
    await bot.store.door(ForgeRuns(bot.store.db).record, "r-waiting", event.target("shop"))
    reply = await bot.world.service.execute(Deploy("shop", "production", SHA), "U0ALICE", "C0DEPLOY", "r-waiting")
    assert isinstance(reply, AwaitingApproval), reply
    await bot.starts.recover()
    await bot.starts.recover()
    assert [("7005", "queued", "waiting for approval in chat")] == [
        (n.document["deployment_id"], n.document["deployment_state"], n.document["description"])
        for n in await bot.store.door(bot.store.outbox.listing)
    ]
    assert [] == [c for c in bot.world.engine.calls if c[0] == "deploy"] and [] == await bot.unanswered()


async def test_a_deployment_whose_approval_a_killed_bot_rejected_ends_in_error(bot: Bot) -> None:
    """Rejected in chat by a bot killed before it wrote the ``error`` status: the live bot's recovery writes it,
    once, a while after the rejection (before that, the rejecting bot's own status, with its reason, wins)."""
    event = await bot.killed_replica_took(7006, environment="production")
    await bot.store.door(bot.store.inbox.answered, KEY.format(7006))
    await bot.store.door(ForgeRuns(bot.store.db).record, "r-rejected", event.target("shop"))
    await bot.store.door(bot.store.waiting.add, "r-rejected", "shop", "production", "awaiting", "{}")
    assert await bot.store.door(bot.store.waiting.move, "r-rejected", "awaiting", "rejected", by="U0CAROL")
    await bot.starts.recover()
    assert [] == await bot.store.door(
        bot.store.outbox.listing
    )  # just rejected: its own process may still be writing the status
    await bot.store.door(bot.store.db.execute, "UPDATE waiting_requests SET updated_at = updated_at - 3600")
    await bot.starts.recover()
    await bot.starts.recover()
    assert [("7006", "error", "rejected in chat")] == [
        (n.document["deployment_id"], n.document["deployment_state"], n.document["description"])
        for n in await bot.store.door(bot.store.outbox.listing)
    ]
