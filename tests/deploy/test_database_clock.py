"""Every expiry and age is the database's clock, not a replica's: one replica's clock is skewed (``time.time`` moved
by hours or days in this process while it acts), the database is real (a SQLite file, a PostgreSQL database), and
what the other replicas see does not move. Each test fails with the replica's own clock: the skewed replica would
forget a delivery it just took, hide a bot that serves, drop a request just asked, end a lock early, expire an
approval at once or tear down a preview just pushed."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager

import pytest

from commands.approval_book import ApprovalBook, PendingApproval
from commands.command import Deploy
from commands.runs import RunRequest
from deploy.records import RunRecord
from deploy.store.clock import StoreClock
from deploy.store.control_requests import CANCEL, KEEP
from deploy.store.database import Database
from deploy.store.ports import Waiting
from deploy.store.tables import Store
from deploy.store.waiting import KEEP_FINAL, REJECTED

HOUR, DAY = 3600.0, 86400.0


@pytest.fixture
def skewed(monkeypatch: pytest.MonkeyPatch) -> Callable[[float], AbstractContextManager[None]]:
    """``with skewed(s):`` this process's wall clock is ``s`` seconds off while the block runs."""
    real = time.time

    @contextmanager
    def skew(seconds: float) -> Iterator[None]:
        monkeypatch.setattr(time, "time", lambda: real() + seconds)
        try:
            yield
        finally:
            monkeypatch.setattr(time, "time", real)

    return skew


@pytest.mark.parametrize(
    ("kind", "key", "keep"), [("slack", "msg:C1:1.0", HOUR), ("push", "push:github:gh-1", 8 * DAY)]
)
def test_a_delivery_taken_by_a_replica_whose_clock_is_behind_is_not_taken_again(
    stores: Callable[[], Store],
    skewed: Callable[[float], AbstractContextManager[None]],
    kind: str,
    key: str,
    keep: float,
) -> None:
    """The inbox's de-dup (Slack's re-deliveries and twins, a forge's redelivery) is judged by the database's clock:
    a replica whose clock is behind, or one whose clock is ahead pruning, never lets the same key in twice."""
    behind, ahead, other = stores(), stores(), stores()
    with skewed(-2 * keep):
        assert behind.inbox.receive(key, kind, "{}")
    with skewed(2 * keep):
        ahead.inbox.prune([kind], keep)
    assert not other.inbox.receive(key, kind, "{}"), "the re-delivery is still dropped"


def test_a_bot_whose_clock_is_behind_is_still_seen_serving(
    stores: Callable[[], Store], skewed: Callable[[float], AbstractContextManager[None]]
) -> None:
    behind, stopping = stores(), stores()
    with skewed(-DAY):
        behind.presence.beat(behind.owner)
    ahead = stores()
    with skewed(DAY):
        ahead.presence.beat(ahead.owner)
    assert sorted([behind.owner, ahead.owner]) == stopping.presence.others(stopping.owner, within=10)
    with skewed(DAY):  # and a stopping bot whose clock is ahead still sees the others
        assert sorted([behind.owner, ahead.owner]) == sorted(stopping.presence.others(stopping.owner, within=10))


def test_a_control_request_asked_on_a_replica_whose_clock_is_behind_is_not_pruned_before_it_is_taken(
    stores: Callable[[], Store], skewed: Callable[[float], AbstractContextManager[None]]
) -> None:
    clicked, holder = stores(), stores()
    with skewed(-KEEP - DAY):
        clicked.controls.ask("r0001", CANCEL, "U0BOB")
    holder.controls.prune()
    [request] = holder.controls.pending(["r0001"])
    assert abs(request.at - holder.db.clock()) < 60, "stamped with the database's time"
    with skewed(KEEP + DAY):  # a replica far ahead prunes nothing fresh either
        holder.controls.prune()
    assert holder.controls.take(request)


def test_a_lock_is_not_ended_early_by_a_replica_whose_clock_is_ahead(
    stores: Callable[[], Store], skewed: Callable[[float], AbstractContextManager[None]]
) -> None:
    owner, ahead = stores(), stores()
    clock = StoreClock(owner.db)
    owner.lock("shop", "production", "U0ALICE", "release", expires_at=clock() + HOUR)
    with skewed(2 * HOUR):
        held = ahead.get_lock("shop", "production")
        assert held is not None and not held.expired(StoreClock(ahead.db)())
    assert owner.get_lock("shop", "production") is not None
    with skewed(-DAY):  # locked by a replica whose clock is behind: "since" is the database's time
        owner.unlock("shop", "production", "U0ALICE")
        lock = ahead.lock("shop", "production", "U0BOB", "next")
    assert abs(lock.since - owner.db.clock()) < 60


def test_an_approval_asked_on_a_replica_whose_clock_is_behind_does_not_expire_at_once(
    stores: Callable[[], Store], skewed: Callable[[float], AbstractContextManager[None]]
) -> None:
    asking, sweeping = stores(), stores()
    with skewed(-DAY):
        now = StoreClock(asking.db)()
        run = RunRequest("r0001", "deploy", "shop", "production", "U0ALICE", "C1", now, ref="main", sha="a" * 40)
        asyncio.run(book(asking).add(PendingApproval(run, Deploy("shop", "production", "main"), ("U0BOB",), now + 900)))
    assert [] == asyncio.run(book(sweeping).take_expired(StoreClock(sweeping.db)()))
    with skewed(DAY):  # nor does one far ahead expire it
        assert [] == asyncio.run(book(sweeping).take_expired(StoreClock(sweeping.db)()))
    assert asyncio.run(book(sweeping).get("r0001")) is not None


def test_a_decided_request_is_kept_for_late_approvers_whatever_the_clock_of_the_replica_that_decided(
    stores: Callable[[], Store], skewed: Callable[[float], AbstractContextManager[None]]
) -> None:
    deciding, pruning = stores(), stores()
    deciding.waiting.add("r0001", "shop", "production", "awaiting", "{}", expires_at=9e12)
    with skewed(-KEEP_FINAL - DAY):
        assert deciding.waiting.move("r0001", "awaiting", REJECTED, by="U0BOB")
    assert 0 == pruning.waiting.prune()
    row = pruning.waiting.get("r0001")
    assert row is not None and row.decided_at is not None and abs(row.decided_at - pruning.db.clock()) < 60


def test_a_preview_pushed_from_a_replica_whose_clock_is_behind_is_not_due(
    stores: Callable[[], Store], skewed: Callable[[float], AbstractContextManager[None]]
) -> None:
    pushing, sweeping = stores(), stores()
    with skewed(-DAY):
        assert pushing.previews.reserve("shop", "feature-x", "feature/x", 8001, ["web1"], "U0ALICE")
        pushing.previews.live("shop", "feature-x", "b" * 40, "U0ALICE")
    assert [] == sweeping.previews.due("shop", ttl=HOUR)
    assert [] == sweeping.previews.due("shop", StoreClock(sweeping.db)() - HOUR)
    assert ["feature-x"] == [r.name for r in sweeping.previews.due("shop", ttl=-60)], "past its time: due"


def test_the_store_clock_is_the_databases_time_on_a_skewed_replica_and_keeps_going_without_it(
    databases: Callable[[], Database], skewed: Callable[[float], AbstractContextManager[None]]
) -> None:
    db = databases()
    with skewed(DAY):
        clock = StoreClock(db)
        first = clock()
        assert abs(first - db.clock()) < 5
        db.close()  # gone: the clock carries its last reading forward on the monotonic clock
        clock.read()
        time.sleep(0.05)
        assert first < clock() < first + 5


def test_how_long_a_run_has_waited_at_its_pause_is_the_databases_time_whoever_reads_it(
    stores: Callable[[], Store], skewed: Callable[[float], AbstractContextManager[None]]
) -> None:
    """A replica taking over a paused run counts the pause's timeout from when it began (not from its own start),
    and a wall clock a day off on either side changes nothing."""
    driving, taking_over = stores(), stores()
    record = RunRecord("r0001", "deploy", "shop", "production", "U0A", "main", "a" * 40, "20260101", "running", 1.0)
    writes = driving.writes(driving.start_run(record, "shop main"))
    assert taking_over.ledger.waited("r0001") is None
    with skewed(-DAY):
        writes.wait(1, "20260101000000", "a" * 40)
    time.sleep(0.3)
    with skewed(DAY):
        waited = taking_over.ledger.waited("r0001")
    assert waited is not None and 0.25 <= waited < 30, waited
    writes.resumed()
    assert taking_over.ledger.waited("r0001") is None


def book(store: Store) -> ApprovalBook:
    """The approvals of ``store``, through its async port."""
    return ApprovalBook(Waiting(store.waiting, store.door))
