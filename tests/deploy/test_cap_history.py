"""deploy.capistrano.cap_history: Capistrano's lines read from hosts kept once in the store, on SQLite and
PostgreSQL."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import pytest

from deploy.capistrano import revisions_log
from deploy.capistrano.cap_entries import from_listing
from deploy.capistrano.cap_history import CapistranoHistory, recorder
from deploy.hosts import framing, journal, listing
from deploy.store.database import Database
from deploy.store.tables import Store

A, B = "20260101120000", "20260102120000"
SHA_A, SHA_B = "a" * 40, "b" * 40
CAP_LOG = [
    revisions_log.deploy_line("main", SHA_A, A, "carol"),
    revisions_log.deploy_line("main", SHA_B, B, "carol"),
    revisions_log.rollback_line("carol", A),
]


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    s = Store(Database(database_url))
    yield s
    s.close()


def host_listing(lines: list[str], journal_lines: tuple[journal.Entry, ...] = ()) -> listing.ReleaseListing:
    """A host's listing as shipbot reads it: the framed listing, then the revisions.log section."""
    frame = framing.new()
    start, marker, end = listing.markers(frame)
    numbered = "".join(f"{i}\t{t}\n" for i, t in enumerate(lines, 1))
    output = (
        f"{start}\ncurrent\t{A}\nrelease\t{A}\t{SHA_A}\nrelease\t{B}\t{SHA_B}\n{marker}\n"
        + "".join(e.to_line() + "\n" for e in journal_lines)
        + f"{end}\n{revisions_log.START}\n{revisions_log.PRESENT}\n{numbered}{revisions_log.END}\n"
    )
    found = listing.parse(output, frame)
    assert found is not None
    return found


async def test_a_line_read_again_or_from_another_host_is_kept_once(store: Store) -> None:
    seen = recorder(store, "shop", "production")
    await seen("web1", host_listing(CAP_LOG[:2]))
    await seen("web2", host_listing(CAP_LOG[:2]))
    await seen("web1", host_listing(CAP_LOG))  # a cap rollback since: only it is new
    kept = CapistranoHistory(store.db).entries("shop", "production")
    assert [("rollback", A, "web1", 3), ("deploy", B, "web1", 2), ("deploy", A, "web1", 1)] == [
        (e.action, e.release, e.host, e.line) for e in kept
    ]
    assert kept[0].at >= kept[1].at  # the rollback: when first seen, after the deploys' stamps
    assert [] == CapistranoHistory(store.db).entries("shop", "staging")
    assert [] == CapistranoHistory(store.db).entries("billing", "production")


async def test_lines_shipbot_wrote_itself_are_left_to_its_runs(store: Store) -> None:
    mine = journal.Entry("2026-01-03T00:00:00Z", "rollback", "r1", "alice", SHA_A, A, B, "success")
    lines = [*CAP_LOG[:2], revisions_log.rollback_line("alice", A)]
    await recorder(store, "shop", "production")("web1", host_listing(lines, (mine,)))
    kept = CapistranoHistory(store.db).entries("shop", "production")
    assert [("deploy", B), ("deploy", A)] == [(e.action, e.release) for e in kept]


async def test_the_newest_come_first_and_the_limit_holds(store: Store) -> None:
    await recorder(store, "shop", "production")("web1", host_listing(CAP_LOG))
    history = CapistranoHistory(store.db)
    assert ["rollback"] == [e.action for e in history.entries("shop", "production", 1)]
    assert 3 == len(history.entries("shop", None, 10))


def test_of_replicas_reading_the_same_log_at_once_each_line_is_kept_once(
    store: Store, databases: Callable[[], Database]
) -> None:
    others = [databases() for _ in range(3)]
    found = host_listing(CAP_LOG)
    news: list[int] = []
    barrier = threading.Barrier(len(others))

    def read_on(db: Database) -> None:
        barrier.wait()
        assert found.capistrano is not None
        news.append(CapistranoHistory(db).record(from_listing("shop", "production", "web1", found.capistrano, (),
                                                              time.time())))  # fmt: skip

    threads = [threading.Thread(target=read_on, args=(db,)) for db in others]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert 3 == sum(news)
    assert 3 == len(CapistranoHistory(store.db).entries("shop", "production"))


async def test_a_log_with_no_capistrano_lines_writes_nothing(store: Store) -> None:
    await recorder(store, "shop", "production")("web1", host_listing(["deployed by some other script"]))
    assert [] == CapistranoHistory(store.db).entries("shop", "production")
