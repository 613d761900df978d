"""The in-memory fakes of the store's ports (deploy.store.fakes) answer as the real ports over SQLite do: the same
scenario runs against both, so a use case tested on the fakes meets the same store in production."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from deploy.errors import EnvironmentLocked
from deploy.store.database import Database
from deploy.store.fakes import InMemoryInbox, InMemoryLocks, InMemoryPushes, InMemoryWaiting
from deploy.store.ports import InboxPort, LockStore, PushLedger, WaitingStore, ports_of
from deploy.store.push_table import HELD, PENDING
from deploy.store.tables import Store
from deploy.store.waiting import APPROVED, AWAITING, CANCELLED, QUEUED


@dataclass
class Ports:
    locks: LockStore
    waiting: WaitingStore
    pushes: PushLedger
    inbox: InboxPort


@pytest.fixture(params=["in-memory", "sqlite"])
async def ports(request: pytest.FixtureRequest) -> AsyncIterator[Ports]:
    if request.param == "in-memory":
        yield Ports(InMemoryLocks(), InMemoryWaiting(), InMemoryPushes(), InMemoryInbox())
        return
    store = Store(Database("sqlite://"))
    real = ports_of(store)
    yield Ports(real.locks, real.waiting, real.pushes, real.inbox)
    store.close()


async def test_a_waiting_request_moves_once_from_the_state_it_was_read_in(ports: Ports) -> None:
    await ports.waiting.add("r1", "shop", "production", AWAITING, "{}", expires_at=1.0)
    assert await ports.waiting.move("r1", AWAITING, APPROVED, by="U0CAROL")
    assert not await ports.waiting.move("r1", AWAITING, APPROVED, by="U0DAVE"), "the second approver comes late"
    row = await ports.waiting.get("r1")
    assert row is not None and (row.state, row.decided_by) == (APPROVED, "U0CAROL")
    assert await ports.waiting.get("r9") is None
    assert not await ports.waiting.move("r9", AWAITING, APPROVED)


async def test_the_line_keeps_its_order_and_a_forced_request_goes_first(ports: Ports) -> None:
    for run_id in ("r1", "r2"):
        await ports.waiting.add(run_id, "shop", "canary", QUEUED, "{}")
    await ports.waiting.add("r3", "shop", "canary", QUEUED, "{}", front=True)
    await ports.waiting.add("r4", "api", "canary", QUEUED, "{}")
    assert [r.run_id for r in await ports.waiting.in_state(QUEUED, "shop", "canary")] == ["r3", "r1", "r2"]
    assert await ports.waiting.places() == [("api", "canary"), ("shop", "canary")]
    assert await ports.waiting.move("r1", QUEUED, CANCELLED)
    assert [r.run_id for r in await ports.waiting.in_state(QUEUED, "shop")] == ["r3", "r2"]
    await ports.waiting.set_message("r2", "C0X", "1700000000.000100")
    row = await ports.waiting.get("r2")
    assert row is not None and (row.channel, row.ts) == ("C0X", "1700000000.000100")


async def test_only_awaiting_requests_whose_time_is_up_are_due(ports: Ports) -> None:
    await ports.waiting.add("r1", "shop", "production", AWAITING, "{}", expires_at=100.0)
    await ports.waiting.add("r2", "shop", "production", AWAITING, "{}", expires_at=50.0)
    await ports.waiting.add("r3", "shop", "production", AWAITING, "{}", expires_at=500.0)
    await ports.waiting.add("r4", "shop", "canary", QUEUED, "{}")
    assert await ports.waiting.move("r1", AWAITING, APPROVED, by="U0CAROL")
    assert [r.run_id for r in await ports.waiting.due(200.0)] == ["r2"]


async def test_a_commit_is_claimed_once_and_given_up_only_by_its_run(ports: Ports) -> None:
    sha = "4" * 40
    assert await ports.pushes.claim("shop", "staging", sha, "r1", 10.0)
    assert not await ports.pushes.claim("shop", "staging", sha, "r2", 11.0)
    assert await ports.pushes.claim("shop", "production", sha, "r3", 12.0), "another environment is another claim"
    assert await ports.pushes.claimed("shop", "staging", sha) == "r1"
    assert await ports.pushes.newest_claim("shop", "staging") == 10.0
    assert await ports.pushes.newest_claim("api", "staging") is None
    await ports.pushes.unclaim("shop", "staging", sha, "r2")
    assert await ports.pushes.claimed("shop", "staging", sha) == "r1"
    await ports.pushes.unclaim("shop", "staging", sha, "r1")
    assert await ports.pushes.claimed("shop", "staging", sha) is None


async def test_the_newest_push_stays_parked_and_is_taken_once(ports: Ports) -> None:
    assert await ports.pushes.park("shop", "staging", HELD, "2" * 40, "main", "bob", 20.0) is None
    before = await ports.pushes.park("shop", "staging", HELD, "1" * 40, "main", "alice", 10.0)  # arrived earlier
    assert before is not None and before.sha == "2" * 40
    parked = await ports.pushes.parked("shop", "staging")
    assert parked is not None and (parked.sha, parked.pusher) == ("2" * 40, "bob")
    await ports.pushes.park("shop", "production", PENDING, "3" * 40, "main", "carol", 5.0)
    assert [p.environment for p in await ports.pushes.all_parked()] == ["production", "staging"]
    assert await ports.pushes.take(parked)
    assert not await ports.pushes.take(parked), "taken once"
    assert await ports.pushes.parked("shop", "staging") is None


async def test_what_is_received_is_received_once(ports: Ports) -> None:
    assert await ports.inbox.receive("push:github:d-1", "push", "{}")
    assert not await ports.inbox.receive("push:github:d-1", "push", "{}"), "a redelivery"
    await ports.inbox.answered("push:github:d-1")
    assert not await ports.inbox.receive("push:github:d-1", "push", "{}"), "answered is still received"


async def test_a_lock_is_the_owners_until_they_or_a_forcing_admin_unlock_it(ports: Ports) -> None:
    lock = await ports.locks.lock("shop", "production", "U0ALICE", "a migration")
    assert (lock.owner, lock.reason) == ("U0ALICE", "a migration")
    relocked = await ports.locks.lock("shop", "production", "U0ALICE", "a longer migration")
    assert (relocked.reason, relocked.since) == ("a longer migration", lock.since)
    with pytest.raises(EnvironmentLocked, match="locked by U0ALICE"):
        await ports.locks.lock("shop", "production", "U0BOB", "a hotfix")
    with pytest.raises(EnvironmentLocked):
        await ports.locks.unlock("shop", "production", "U0BOB")
    assert await ports.locks.get_lock("shop", "staging") is None
    unlocked = await ports.locks.unlock("shop", "production", "U0ADMIN", force=True)
    assert unlocked is not None and unlocked.owner == "U0ALICE"
    assert await ports.locks.get_lock("shop", "production") is None
    assert await ports.locks.unlock("shop", "production", "U0ALICE") is None


async def test_an_expired_lock_is_no_lock(ports: Ports) -> None:
    await ports.locks.lock("shop", "staging", "U0ALICE", "lunch", expires_at=1.0)  # long past, on any clock
    assert await ports.locks.get_lock("shop", "staging") is None
    assert (await ports.locks.lock("shop", "staging", "U0BOB", "a hotfix")).owner == "U0BOB"
