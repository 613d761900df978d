"""The outbox on SQLite and on PostgreSQL: a run's notifications are written with the run (and only when it is),
claimed by one replica at a time, head of each queue only (in order), retried on a backoff, given up after 24 h."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from deploy.errors import EnvironmentBusy
from deploy.notify.outbox import GIVE_UP_AFTER, Notification, backoff
from deploy.records import RunRecord
from deploy.store.tables import Store
from tests.support.outbox_runs import route, run

HOOK = {"url": "http://127.0.0.1:9/hooks", "secret_env": "HOOK_SECRET"}
OTHER = {"url": "http://127.0.0.1:9/other", "secret_env": "HOOK_SECRET"}


def _types(rows: list[Notification]) -> list[tuple[str | None, str]]:
    return [(n.run_id, n.type) for n in rows]


def test_a_run_writes_its_start_and_end_for_every_routed_sink(stores: Callable[[], Store]) -> None:
    store = stores()
    route(store, "webhook", HOOK)
    route(store, "irc", {"server": "irc.test", "port": 6667, "tls": False, "channel": "#d", "nick": "shipbot"})
    run(store, "r1", "failed")
    rows = store.outbox.of_run("r1")
    assert [("webhook", "run.started"), ("irc", "run.started"), ("webhook", "run.failed"), ("irc", "run.failed")] == [
        (n.sink, n.type) for n in rows
    ]
    assert rows[0].event_id == rows[1].event_id != rows[2].event_id  # one event, told to two sinks
    assert {False} == {n.document["reverted"] for n in rows[2:]}


def test_a_run_refused_at_its_start_writes_nothing(stores: Callable[[], Store]) -> None:
    store = stores()
    route(store, "webhook", HOOK)
    busy = RunRecord("r1", "deploy", "shop", "staging", "U1", "main", "abc", "rel", "running", time.time())
    store.start_run(busy, "shop main")
    with pytest.raises(EnvironmentBusy):
        store.start_run(RunRecord("r2", "deploy", "shop", "staging", "U2", "main", "abc", "rel", "running",
                                  time.time()), "shop main")  # fmt: skip
    assert [("r1", "run.started")] == _types(store.outbox.listing())


def test_an_environment_without_sinks_writes_nothing(stores: Callable[[], Store]) -> None:
    store = stores()
    route(store, "webhook", HOOK, environment="production")
    run(store, "r1")
    assert [] == store.outbox.listing()


def test_two_replicas_never_claim_the_same_row_and_a_queue_goes_in_order(stores: Callable[[], Store]) -> None:
    first, second = stores(), stores()
    route(first, "webhook", HOOK)
    route(first, "webhook", OTHER)
    run(first, "r1")
    one = first.outbox.claim("replica-a")
    other = second.outbox.claim("replica-b")
    assert [("r1", "run.started")] * 2 == _types(one)  # the head of each of the two queues
    assert [] == other  # both heads are claimed; the rows behind them wait for their heads
    for n in one:
        assert first.outbox.delivered(n.seq, "replica-a")
    assert [("r1", "run.succeeded")] * 2 == _types(second.outbox.claim("replica-b"))


def test_a_claim_of_a_dead_replica_runs_out_by_the_database_clock(stores: Callable[[], Store]) -> None:
    first, second = stores(), stores()
    route(first, "webhook", HOOK)
    run(first, "r1")
    claimed = first.outbox.claim("dead-replica", claim_for=0.3)
    assert [] == second.outbox.claim("replica-b")
    time.sleep(0.4)
    retaken = second.outbox.claim("replica-b")
    assert [claimed[0].id] == [n.id for n in retaken]
    assert not first.outbox.delivered(claimed[0].seq, "dead-replica")  # its late answer changes nothing


def test_a_failure_waits_its_backoff_and_a_row_older_than_a_day_is_given_up(stores: Callable[[], Store]) -> None:
    store = stores()
    route(store, "webhook", HOOK)
    run(store, "r1")
    head = store.outbox.claim("me")[0]
    assert "pending" == store.outbox.failed(head.seq, "me", "HTTP 500", 60.0)
    assert [] == store.outbox.claim("me")  # not due for a minute
    store.db.execute("UPDATE outbox SET next_attempt_at = 0, created_at = created_at - ? WHERE seq = ?",
                     (GIVE_UP_AFTER, head.seq))  # fmt: skip
    again = store.outbox.claim("me")[0]
    assert "gave_up" == store.outbox.failed(again.seq, "me", "HTTP 500", 60.0)
    listed = store.outbox.listing(failed=True)[0].shown()
    assert ("gave_up", 2, "HTTP 500", None) == (
        listed["state"],
        listed["attempts"],
        listed["last_error"],
        listed["next_attempt_at"],
    )
    assert [("r1", "run.succeeded")] == _types(store.outbox.claim("me"))  # the queue goes on behind it


def test_backoff_doubles_with_jitter_up_to_its_ceiling() -> None:
    for attempts, ceiling in ((1, 2.0), (2, 4.0), (5, 32.0), (30, 3600.0)):
        waits = [backoff(attempts) for _ in range(50)]
        assert all(ceiling / 2 <= w <= ceiling for w in waits)
        assert len(set(waits)) > 1


def test_deployments_created_here_are_remembered(stores: Callable[[], Store]) -> None:
    store = stores()
    store.outbox.remember_deployment("github", "acme/shop", "42", "r1")
    store.outbox.remember_deployment("github", "acme/shop", "42", "r1")  # a retry writes nothing twice
    assert ("42", None) == (
        store.outbox.deployment_of("github", "acme/shop", "r1"),
        store.outbox.deployment_of("github", "acme/shop", "r2"),
    )
    assert (True, False) == (
        store.outbox.created_here("github", "acme/shop", "42"),
        store.outbox.created_here("github", "acme/other", "42"),
    )


def test_a_lock_taken_relocked_and_released_is_told_twice(stores: Callable[[], Store]) -> None:
    store = stores()
    route(store, "webhook", HOOK)
    store.lock("shop", "staging", "U0ALICE", "db migration")
    store.lock("shop", "staging", "U0ALICE", "db migration, take two")  # her own lock, a new reason: not a new lock
    store.unlock("shop", "staging", "U0ALICE")
    assert [("lock.taken", "U0ALICE", "db migration"), ("lock.released", "U0ALICE", "db migration, take two")] == [
        (n.type, n.document["user"], n.document["reason"]) for n in store.outbox.listing()
    ]


def test_a_runs_events_carry_its_messages_permalink_once_the_bot_posted_it(stores: Callable[[], Store]) -> None:
    store = stores()
    route(store, "webhook", HOOK)
    record = RunRecord("r1", "deploy", "shop", "staging", "U0ALICE", "main", "abc", "rel", "running", time.time())
    store.start_run(record, "shop main")  # told before the run's message exists
    link = "https://acme.slack.com/archives/C0DEPLOYS/p1765100000000100"
    store.ledger.remember_place("r1", "C0DEPLOYS", "1765100000.000100", link)
    store.ledger.remember_place("r1", "C0DEPLOYS", "1765100000.000100")  # a later place keeps the link
    store.finish_run("r1", "success", "live on 1 host")
    started = store.outbox.claim("me")[0]
    assert ("run.started", link) == (started.type, started.document["url"])  # added when it is sent
    assert store.outbox.delivered(started.seq, "me")
    ended = store.outbox.claim("me")[0]
    assert ("run.succeeded", link) == (ended.type, ended.document["url"])  # written with it
