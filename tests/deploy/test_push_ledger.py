"""What pushes leave in the store, shared by two processes on one database (two ``Store`` connections), on SQLite
and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable

from deploy.store.database import Database
from deploy.store.push_table import HELD, PENDING
from deploy.store.tables import Store


def test_a_commit_is_taken_once_whichever_process_sees_it(databases: Callable[[], Database]) -> None:
    one, two = Store(databases()).pushes, Store(databases()).pushes
    assert one.claim("shop", "staging", "a" * 40, "r1", 1.0)
    assert not two.claim("shop", "staging", "a" * 40, "r2", 2.0)
    assert two.claim("shop", "production", "a" * 40, "r3", 3.0)
    assert "r1" == two.claimed("shop", "staging", "a" * 40)
    assert 3.0 == one.newest_claim("shop", "production") and one.newest_claim("billing", "staging") is None
    two.unclaim("shop", "staging", "a" * 40, "r2")  # not its claim: nothing changes
    assert "r1" == one.claimed("shop", "staging", "a" * 40)
    one.unclaim("shop", "staging", "a" * 40, "r1")
    assert two.claim("shop", "staging", "a" * 40, "r4", 4.0)


def test_the_newest_parked_push_wins_and_is_taken_once(databases: Callable[[], Database]) -> None:
    one, two = Store(databases()).pushes, Store(databases()).pushes
    assert one.park("shop", "staging", HELD, "a" * 40, "main", "alice (push)", 10.0) is None
    replaced = two.park("shop", "staging", HELD, "b" * 40, "main", "bob (push)", 20.0)
    assert replaced is not None and "a" * 40 == replaced.sha
    parked = one.parked("shop", "staging")
    assert parked is not None and ("b" * 40, HELD, "bob (push)") == (parked.sha, parked.state, parked.pusher)
    stale = replaced
    assert not one.take(stale), "a push replaced meanwhile is not taken"
    one.park("shop", "staging", HELD, "e" * 40, "main", "eve (push)", 15.0)  # arrived before bob's: it loses
    assert parked == one.parked("shop", "staging")
    assert two.take(parked)
    assert not one.take(parked), "taken once"
    assert [] == one.all_parked()
    one.park("shop", "staging", PENDING, "c" * 40, "main", "carol (push)", 30.0)
    one.park("shop", "production", HELD, "d" * 40, "v1.0", "dan (push)", 40.0)
    assert [("staging", PENDING), ("production", HELD)] == [(p.environment, p.state) for p in two.all_parked()]
