"""deploy.store.inbox: what Slack and the forges send is written down once per key, held by the process that received it
while it renews it, and handed to exactly one live process once its holder stopped, on SQLite and PostgreSQL (each
``Inbox`` here on a connection of its own, as another replica has)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from deploy.store.database import Database
from deploy.store.inbox import Inbox
from tests.support.databases import other_process


def inbox(databases: Callable[[], Database], holder: str, ttl: float = 30.0) -> Inbox:
    return Inbox(databases(), holder, ttl)


def test_a_key_is_taken_once_whichever_process_receives_it(databases: Callable[[], Database]) -> None:
    one, two = inbox(databases, "one"), inbox(databases, "two")
    assert [True, False, True, False] == [
        one.receive("msg:C1:1.1", "slack", "{}"),
        two.receive("msg:C1:1.1", "slack", "{}"),  # a re-delivery, or the mention's twin, on the other replica
        two.receive("push:github:d-1", "push", "{}"),
        one.receive("push:github:d-1", "push", "{}"),
    ]


def test_many_replicas_receiving_one_delivery_at_once_take_it_once(databases: Callable[[], Database]) -> None:
    replicas = [inbox(databases, f"r{i}") for i in range(6)]
    start = threading.Barrier(len(replicas))
    answers: list[bool] = []

    def take(i: Inbox) -> None:
        start.wait()
        answers.append(i.receive("event:Ev9", "slack", "{}"))

    threads = [threading.Thread(target=take, args=(r,)) for r in replicas]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [False] * 5 + [True] == sorted(answers)


def test_an_entry_whose_holder_stopped_renewing_goes_to_one_live_process_with_what_it_said(
    databases: Callable[[], Database],
) -> None:
    dead, one, two = inbox(databases, "dead", ttl=0.3), inbox(databases, "one"), inbox(databases, "two")
    assert dead.receive("msg:C1:1.1", "slack", '{"text": "deploy main to staging"}')
    assert [] == one.take_over(["slack"]), "held while its holder's TTL runs"
    time.sleep(0.5)
    taken = [*one.take_over(["slack"]), *two.take_over(["slack"])]
    assert 1 == len(taken)
    [entry] = taken
    assert ("msg:C1:1.1", "slack", '{"text": "deploy main to staging"}', 2) == (
        entry.key, entry.kind, entry.payload, entry.attempts,
    )  # fmt: skip
    assert 0.4 < entry.age < 30
    assert [] == [*one.take_over(["slack"]), *two.take_over(["slack"])], "now held by a live process"


def test_a_holder_that_renews_keeps_its_entries_and_an_answered_one_is_never_taken(
    databases: Callable[[], Database],
) -> None:
    alive, other = inbox(databases, "alive", ttl=0.6), inbox(databases, "other")
    alive.receive("msg:C1:1.1", "slack", "{}")
    alive.receive("msg:C1:2.2", "slack", "{}")
    alive.answered("msg:C1:2.2")
    for _ in range(4):
        time.sleep(0.2)
        assert 1 == alive.renew()
    assert [] == other.take_over(["slack"])
    time.sleep(0.8)
    assert ["msg:C1:1.1"] == [e.key for e in other.take_over(["slack"])]
    assert 0 == alive.renew(), "what it let expire is no longer its own"


def test_only_the_kinds_asked_for_are_taken_over(databases: Callable[[], Database]) -> None:
    dead, live = inbox(databases, "dead", ttl=0.0), inbox(databases, "live")
    dead.receive("push:github:d-1", "push", "{}")
    dead.receive("slash:T1", "slack", "{}")
    assert ["slash:T1"] == [e.key for e in live.take_over(["slack"])]
    assert ["push:github:d-1"] == live.unanswered(["push"])


def test_old_entries_are_forgotten_by_the_databases_clock(databases: Callable[[], Database], database_url: str) -> None:
    one = inbox(databases, "one")
    one.receive("msg:C1:1.1", "slack", "{}")
    one.receive("push:github:d-1", "push", "{}")
    # the replica's own clock says nothing: rows are aged in the database's time
    other_process(database_url, "UPDATE inbox SET received_at = received_at - 7200")
    one.receive("msg:C1:2.2", "slack", "{}")
    assert 1 == one.prune(["slack"], keep=3600)
    assert one.receive("msg:C1:1.1", "slack", "{}"), "a re-delivery later than the keep is new"
    assert not one.receive("push:github:d-1", "push", "{}"), "another kind's keep"
    assert not one.receive("msg:C1:2.2", "slack", "{}")
