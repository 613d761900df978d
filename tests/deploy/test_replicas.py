"""Several replicas on one database: each store here has its own engine and connection pool, as a second shipbot
process or container would, and they race in threads released together by a barrier. What must be exclusive stays
exclusive on both engines (PostgreSQL runs READ COMMITTED: the run slot, a person's lock, an approval and a lease
takeover are each decided by one statement on a key). Lease expiry follows the database's clock, not a replica's."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from functools import partial
from typing import TypeVar

import pytest

from deploy.errors import EnvironmentBusy, EnvironmentLocked
from deploy.records import RunRecord
from deploy.store.database import Database
from deploy.store.leases import Lease, LeaseGuard
from deploy.store.tables import Store
from deploy.store.waiting import APPROVED, AWAITING, REJECTED
from tests.support.databases import other_process
from tests.support.ports import free_port

T = TypeVar("T")
REPLICAS = 6


@pytest.fixture
def replicas(database_url: str) -> Iterator[list[Store]]:
    stores = [Store(Database(database_url)) for _ in range(REPLICAS)]
    yield stores
    for s in stores:
        s.close()


def race(stores: list[Store], attempt: Callable[[int, Store], T]) -> list[T | Exception]:
    """Every store runs ``attempt`` at the same moment; what each returned or raised, in store order."""
    start = threading.Barrier(len(stores))
    out: list[T | Exception] = [RuntimeError("did not run")] * len(stores)

    def go(i: int) -> None:
        start.wait()
        try:
            out[i] = attempt(i, stores[i])
        except Exception as exc:
            out[i] = exc

    threads = [threading.Thread(target=go, args=(i,)) for i in range(len(stores))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


def run(run_id: str, user: str) -> RunRecord:
    return RunRecord(run_id, "deploy", "shop", "production", user, "main", "0" * 40, "r", "running", time.time())


def test_of_replicas_racing_for_one_environments_run_slot_exactly_one_runs(replicas: list[Store]) -> None:
    for round_ in range(3):
        results = race(replicas, lambda i, s, n=round_: s.start_run(run(f"r{n}-{i}", f"U{i}"), f"deploy by U{i}"))
        winners = [i for i, r in enumerate(results) if isinstance(r, Lease)]
        busy = [r for r in results if isinstance(r, EnvironmentBusy)]
        assert (1, REPLICAS - 1) == (len(winners), len(busy)), results
        winner = f"r{round_}-{winners[0]}"
        assert {winner} == {b.run_id for b in busy}, "every loser is told who runs"
        assert winner == getattr(replicas[0].active_run("shop", "production"), "run_id", None)
        assert 1 == len([r for r in replicas[0].list_runs(limit=100) if r.state == "running"])
        replicas[winners[0]].finish_run(winner, "success", "")


def test_of_two_people_locking_one_environment_on_two_replicas_one_holds_it(replicas: list[Store]) -> None:
    results = race(replicas[:2], lambda i, s: s.lock("shop", "production", f"U{i}", "mine"))
    locked = [r for r in results if not isinstance(r, Exception)]
    refused = [r for r in results if isinstance(r, EnvironmentLocked)]
    assert (1, 1) == (len(locked), len(refused)), results
    assert locked[0] == replicas[1].get_lock("shop", "production")


def test_of_two_approvers_on_two_replicas_exactly_one_decides(replicas: list[Store]) -> None:
    replicas[0].waiting.add("r1", "shop", "production", AWAITING, "{}", expires_at=9e9)
    results = race(
        replicas[:2], lambda i, s: s.waiting.move("r1", AWAITING, APPROVED if i == 0 else REJECTED, by=f"U{i}")
    )
    row = replicas[1].waiting.get("r1")
    assert (1, True) == (results.count(True), row is not None)
    assert row is not None and (row.state, row.decided_by) == (
        (APPROVED, "U0") if results[0] is True else (REJECTED, "U1")
    )


def test_of_replicas_taking_over_one_dead_run_exactly_one_wins(replicas: list[Store], database_url: str) -> None:
    replicas[0].start_run(run("r1", "U0"), "x")
    other_process(database_url, "UPDATE leases SET expires_at = expires_at - 3600 WHERE run_id = ?", "r1")
    results = race(replicas, lambda i, s: s.take_over("r1") is not None)
    assert 1 == results.count(True), results
    assert replicas[results.index(True)].owner == replicas[0].lease_holder("r1")


def test_a_lease_is_judged_by_the_database_clock_not_a_replicas(
    replicas: list[Store], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A replica whose clock runs a day ahead, or a day behind, still sees a fresh lease alive, and a lapsed one
    dead."""
    quick = Store(replicas[0].db, lease_ttl=0.4)
    quick.start_run(run("r1", "U0"), "x")
    real = time.time
    for skew in (86400.0, -86400.0):
        monkeypatch.setattr(time, "time", lambda skew=skew: real() + skew)
        assert ([], quick.owner) == (replicas[1].dead_runs(), replicas[1].lease_holder("r1"))
    monkeypatch.setattr(time, "time", real)
    time.sleep(0.6)
    assert (["r1"], None) == ([r.run_id for r in replicas[1].dead_runs()], replicas[1].lease_holder("r1"))


def test_a_lease_is_stamped_with_the_database_clock(replicas: list[Store]) -> None:
    replicas[0].start_run(run("r1", "U0"), "x")
    db = replicas[0].db
    row = db.execute(f"SELECT heartbeat_at, expires_at, {db.now} FROM leases WHERE run_id = ?", ("r1",)).fetchone()
    assert row is not None
    heartbeat, expires, now = (float(v) for v in row)
    assert (30.0, True) == (round(expires - heartbeat, 3), 0 <= now - heartbeat < 5)


def test_a_replica_whose_database_stops_answering_trusts_its_lease_only_until_its_local_deadline() -> None:
    """The renewal fails with the driver's own error (nothing answers on the port): the guard keeps acting only
    within the fraction of the TTL it had left, then stops."""
    url = f"postgresql://postgres@127.0.0.1:{free_port()}/shipbot"
    gone = Store(Database(url, upgrade=False, statement_timeout=0.1), lease_ttl=0.5)
    try:
        guard = LeaseGuard(partial(gone.door, gone.renew_lease, "r1"), ttl=0.5)
        within = asyncio.run(guard.renew_now())
        time.sleep(0.5)
        assert (True, False, False) == (within, asyncio.run(guard.renew_now()), guard.lost)
    finally:
        gone.close()
