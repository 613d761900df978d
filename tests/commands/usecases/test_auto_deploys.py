"""Auto-deploys through the same gates as a typed deploy: a freeze holds the newest push (kept in the store across
a restart) and deploys it when the freeze ends; approval is asked for; one deploy per commit even when two
processes share the store. ChatService with the in-memory engine fake, the real SQLite store for what waits."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from commands.ports import Announcement, ApprovalAsked, AutoDeployHeld, Pushed
from commands.push_rules import Push
from commands.usecases import ChatService
from commands.usecases.push_intake import Accepted, Duplicate
from deploy.config.models import parse_config
from deploy.config.preview_section import Previews
from deploy.store.fakes import InMemoryLocks
from deploy.store.ports import ports_of
from deploy.store.tables import Store
from tests.commands.fakes import Clock, FakeEngine, FakeGroups, FakeReporter, RunIds

NOW = 1_780_000_000.0  # Thursday 2026-05-28 20:26 UTC
SATURDAY = NOW + 2 * 86400
REPO = "git@example.com:acme/shop.git"
PREVIEWS = Previews.model_validate(
    {
        "branches": "preview/*",
        "hosts": [{"address": "127.0.0.1"}],
        "domain": "preview.example.com",
        "nginx": {"sites_dir": "/etc/nginx/shipbot-previews"},
    }
)
ACCESS: dict[str, Any] = {
    "environments": {
        "staging": {"deploy": ["U0NOBODY"]},
        "production": {"deploy": ["U0ALICE"], "approve": ["U0CAROL"], "approval": "required"},
    },
    "freeze": [{"environments": ["staging"], "from": "2026-05-28", "to": "2026-05-29", "reason": "launch week"}],
}


class ShaEngine(FakeEngine):
    """The engine fake, resolving full commit ids to themselves (the pushed commit is in the repository)."""

    async def resolve_ref(self, ref: str) -> str:
        return ref if re.fullmatch(r"[0-9a-f]{40}", ref) else await super().resolve_ref(ref)


class Announcements:
    def __init__(self) -> None:
        self.seen: list[Announcement] = []

    async def announce(self, announcement: Announcement) -> str | None:
        self.seen.append(announcement)
        return "1700000000.000100"


def engine(clock: Clock) -> ShaEngine:
    hosts = [{"address": "web1.example.com"}]
    envs = {
        name: {"hosts": hosts, "auto_deploy": {"branch": "main"}, "notify": ["C0DEPLOYS"]}
        for name in ("staging", "production")
    }
    data = {"app": "shop", "repo": REPO, "deploy_to": "/srv/shop", "environments": envs, "access": ACCESS}
    return ShaEngine(parse_config(data), clock)


def service(eng: ShaEngine, store: Store, said: Announcements) -> ChatService:
    ports = ports_of(store)
    return ChatService(
        {"shop": eng}, {"shop": InMemoryLocks(eng.clock)}, FakeGroups({}), FakeReporter(), waiting=ports.waiting,
        clock=eng.clock, run_ids=RunIds(), push_ledger=ports.pushes, inbox=ports.inbox, push_reporter=said,
    )  # fmt: skip


def push(sha: str, pusher: str = "alice", delivery: str = "") -> Push:
    return Push("github", delivery or sha, "refs/heads/main", "0" * 40, sha, pusher, (REPO,))


def deploys(eng: FakeEngine) -> list[tuple[object, ...]]:
    """(environment, sha, user) of every deploy the engine was asked for."""
    return [(c[1], c[6], c[3]) for c in eng.calls if c[0] == "deploy"]


async def test_a_freeze_holds_the_newest_push_across_a_restart_and_deploys_it_when_it_ends(tmp_path: Path) -> None:
    clock = Clock(NOW)
    eng, said = engine(clock), Announcements()
    store = Store.in_data_dir(tmp_path)
    chat = service(eng, store, said)
    assert chat.pushes is not None
    for sha, who in (("1" * 40, "alice"), ("2" * 40, "bob")):
        assert isinstance(await chat.pushes.receive(push(sha, who)), Accepted)
        await chat.supervisor.drain()
    held = [a for a in said.seen if isinstance(a, AutoDeployHeld)]
    assert [("1" * 40, False), ("2" * 40, False)] == [(a.sha, a.released) for a in held]
    assert "staging is frozen: launch week" in held[0].reason and held[0].channels == ("C0DEPLOYS",)
    assert [e for e in deploys(eng) if e[0] == "staging"] == []
    await chat.shutdown(cancel=False)
    store.close()

    # a restart: a new process on the same store; the freeze is over on Saturday
    clock.now = SATURDAY
    store = Store.in_data_dir(tmp_path)
    said = Announcements()
    chat = service(eng, store, said)
    await chat.advance()  # what the bot's timer does
    await chat.supervisor.drain()
    released = [a for a in said.seen if isinstance(a, AutoDeployHeld)]
    assert [("2" * 40, True)] == [(a.sha, a.released) for a in released]
    assert [("staging", "2" * 40, "bob (push)")] == [e for e in deploys(eng) if e[0] == "staging"]
    await chat.advance()
    await chat.supervisor.drain()
    assert 1 == len([e for e in deploys(eng) if e[0] == "staging"]), "deployed once"


async def test_an_auto_deploy_asks_for_approval_like_a_typed_deploy(tmp_path: Path) -> None:
    clock = Clock(SATURDAY)
    eng, said = engine(clock), Announcements()
    chat = service(eng, Store.in_data_dir(tmp_path), said)
    assert chat.pushes is not None
    await chat.pushes.receive(push("3" * 40))
    await chat.supervisor.drain()
    asked = [a for a in said.seen if isinstance(a, ApprovalAsked)]
    assert ["production"] == [a.reply.run.environment for a in asked]
    assert ("alice (push)", "3" * 40) == (asked[0].reply.run.user, asked[0].reply.run.sha)
    assert ("production",) not in [d[:1] for d in deploys(eng)]
    await chat.approve(asked[0].reply.run.run_id, "U0CAROL", "C0DEPLOYS")
    await chat.supervisor.drain()
    assert ("production", "3" * 40, "alice (push)") in deploys(eng)
    pushed = [a for a in said.seen if isinstance(a, Pushed)]
    assert [("staging", "production")] == [a.environments for a in pushed]


async def test_two_processes_on_one_store_deploy_a_commit_once(tmp_path: Path) -> None:
    clock = Clock(SATURDAY)
    eng = engine(clock)
    first, second = Store.in_data_dir(tmp_path), Store.in_data_dir(tmp_path)
    one, two = service(eng, first, Announcements()), service(eng, second, Announcements())
    assert one.pushes is not None and two.pushes is not None
    assert isinstance(await one.pushes.receive(push("4" * 40, delivery="d-1")), Accepted)
    assert isinstance(await two.pushes.receive(push("4" * 40, delivery="d-1")), Duplicate)  # a redelivery to the other
    again = await two.pushes.receive(push("4" * 40, delivery="d-2"))
    assert isinstance(again, Accepted), "the same commit, a new delivery"
    await one.supervisor.drain()
    await two.supervisor.drain()
    assert [("staging", "4" * 40, "alice (push)")] == [e for e in deploys(eng) if e[0] == "staging"]


class PreviewCalls:
    def __init__(self) -> None:
        self.calls: list[tuple[str, ...]] = []

    async def preview_pushed(self, app: str, branch: str, sha: str, pusher: str) -> None:
        self.calls.append(("pushed", app, branch, sha, pusher))

    async def preview_deleted(self, app: str, branch: str, pusher: str) -> None:
        self.calls.append(("deleted", app, branch, pusher))


async def test_preview_branches_are_handed_to_the_preview_builder(tmp_path: Path) -> None:
    clock = Clock(SATURDAY)
    eng = engine(clock)
    eng.config = eng.config.model_copy(update={"previews": PREVIEWS})
    ports, previews = ports_of(Store.in_data_dir(tmp_path)), PreviewCalls()
    chat = ChatService(
        {"shop": eng}, {"shop": InMemoryLocks(clock)}, FakeGroups({}), FakeReporter(), waiting=ports.waiting, clock=clock,
        run_ids=RunIds(), push_ledger=ports.pushes, inbox=ports.inbox, push_reporter=Announcements(), preview_events=previews,
    )  # fmt: skip
    assert chat.pushes is not None
    branch = "refs/heads/preview/login"
    await chat.pushes.receive(Push("gitlab", "p1", branch, "0" * 40, "5" * 40, "alice", (REPO,)))
    await chat.pushes.receive(Push("gitlab", "p2", branch, "5" * 40, "0" * 40, "bob", (REPO,)))
    await chat.supervisor.drain()
    assert {("pushed", "shop", "preview/login", "5" * 40, "alice"), ("deleted", "shop", "preview/login", "bob")} == (
        set(previews.calls)
    )
    assert [] == deploys(eng)


async def test_a_push_carried_out_after_a_newer_one_never_goes_live(tmp_path: Path) -> None:
    """Pushes are stamped when they arrive; one whose work ends late (a slow fetch, another bot) is superseded."""
    clock = Clock(SATURDAY)
    eng = engine(clock)
    chat = service(eng, Store.in_data_dir(tmp_path), Announcements())
    assert chat.pushes is not None
    newer = Push("github", "n", "refs/heads/main", "0" * 40, "7" * 40, "bob", (REPO,), received_at=SATURDAY + 2)
    older = Push("github", "o", "refs/heads/main", "0" * 40, "6" * 40, "alice", (REPO,), received_at=SATURDAY + 1)
    await chat.pushes.receive(newer)
    await chat.supervisor.drain()
    await chat.pushes.receive(older)
    await chat.supervisor.drain()
    assert [("staging", "7" * 40, "bob (push)")] == [e for e in deploys(eng) if e[0] == "staging"]


async def test_a_push_taken_but_not_carried_out_before_a_stop_deploys_after_the_restart(tmp_path: Path) -> None:
    clock = Clock(SATURDAY)
    eng = engine(clock)
    store = Store.in_data_dir(tmp_path)
    chat = service(eng, store, Announcements())
    assert chat.pushes is not None
    assert isinstance(await chat.pushes.receive(push("8" * 40, "erin")), Accepted)  # answered 202 ...
    await chat.shutdown(cancel=True)  # ... and stopped (SHIPBOT_ON_SHUTDOWN=cancel) before it was carried out
    store.close()
    assert [] == deploys(eng)

    store = Store.in_data_dir(tmp_path)
    chat = service(eng, store, Announcements())
    await chat.advance()
    await chat.supervisor.drain()
    assert [] == deploys(eng), "not before another process could still be carrying it out"
    clock.now += 61
    await chat.advance()
    await chat.supervisor.drain()
    assert [("staging", "8" * 40, "erin (push)")] == [e for e in deploys(eng) if e[0] == "staging"]
    await chat.advance()
    await chat.supervisor.drain()
    assert 1 == len([e for e in deploys(eng) if e[0] == "staging"])
    assert [] == [p for p in await ports_of(store).pushes.all_parked() if p.environment == "staging"]
