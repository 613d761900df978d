"""The store when PostgreSQL goes away and comes back, on a cluster of the test's own (initdb + pg_ctl on a free port;
the machine's shared server is never touched): a restart or killed backends cost the callers nothing once the server
is back (dropped connections are replaced before a statement is sent), a statement asked while the server is coming
back waits for it within its time, one asked while it stays down fails as StoreUnavailable, and the lease holder's
watch of control requests outlives the outage: a Cancel asked afterwards from another replica is acted on."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from functools import partial

import pytest

from deploy.errors import StoreUnavailable
from deploy.records import RunRecord
from deploy.run.control_watch import RunControl
from deploy.store.control_requests import CANCEL
from deploy.store.database import Database
from deploy.store.leases import LeaseGuard
from deploy.store.tables import Store
from tests.support.pg_cluster import Cluster


@pytest.fixture
def url(pg_cluster: Cluster) -> Iterator[str]:
    with pg_cluster.database() as (_name, url):
        yield url


def test_a_restart_or_killed_backends_cost_the_next_statements_nothing(pg_cluster: Cluster, url: str) -> None:
    db = Database(url, statement_timeout=5)
    try:
        db.execute("INSERT INTO audit (at, actor, action, environment, detail) VALUES (1, 'U', 'a', 'e', '')")
        assert pg_cluster.terminate(url.rsplit("/", 1)[1]) >= 1, "the pooled session was cut"
        db.execute("INSERT INTO audit (at, actor, action, environment, detail) VALUES (2, 'U', 'a', 'e', '')")
        pg_cluster.restart()
        db.execute("INSERT INTO audit (at, actor, action, environment, detail) VALUES (3, 'U', 'a', 'e', '')")
        assert [(1.0,), (2.0,), (3.0,)] == db.execute("SELECT at FROM audit ORDER BY at").fetchall()
    finally:
        db.close()


def test_a_statement_asked_while_the_server_comes_back_waits_for_it_and_one_that_stays_down_fails(
    pg_cluster: Cluster, url: str
) -> None:
    db = Database(url, statement_timeout=4)
    try:
        db.execute("SELECT 1")
        pg_cluster.stop()
        back = threading.Timer(1.0, pg_cluster.start)
        back.start()
        started = time.monotonic()
        db.execute("INSERT INTO audit (at, actor, action, environment, detail) VALUES (1, 'U', 'a', 'e', '')")
        waited = time.monotonic() - started
        back.join()
        assert 0.8 < waited < 4, f"{waited:.2f}s"
        assert 1 == len(db.execute("SELECT at FROM audit").fetchall()), "written once"

        pg_cluster.stop()
        quick = Database(url, upgrade=False, statement_timeout=0.5)
        try:
            started = time.monotonic()
            with pytest.raises(StoreUnavailable):
                quick.execute("SELECT 1")
            assert time.monotonic() - started < 3
        finally:
            quick.close()
    finally:
        pg_cluster.up()
        db.close()


async def test_the_control_watch_outlives_the_database_going_away_and_acts_on_a_cancel_asked_afterwards(
    pg_cluster: Cluster, url: str
) -> None:
    holder = Store(Database(url, statement_timeout=0.5), lease_ttl=60)
    replica = Store(Database(url, statement_timeout=0.5))
    holder.start_run(RunRecord("r1", "deploy", "shop", "staging", "U0A", "main", "a" * 40, "x", "running", 1.0), "x")
    run = asyncio.create_task(asyncio.sleep(3600))
    control = RunControl(holder.controls, "r1", LeaseGuard(partial(holder.door, holder.renew_lease, "r1"), 60), run)
    watch = asyncio.create_task(control.watch())
    try:
        await asyncio.sleep(1.2)
        await asyncio.to_thread(pg_cluster.stop)
        await asyncio.sleep(3.5)  # several polls fail meanwhile
        assert not watch.done(), "the watch is still there while the database is down"
        await asyncio.to_thread(pg_cluster.start)
        await asyncio.to_thread(replica.controls.ask, "r1", CANCEL, "U0BOB")
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(run, 10)
        assert "U0BOB" == control.cancelled_by
    finally:
        watch.cancel()
        run.cancel()
        pg_cluster.up()
        holder.close()
        replica.close()
