"""Shared fixtures."""

from __future__ import annotations

import signal
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from deploy.store.database import Database
from deploy.store.tables import Store
from tests.support.databases import drop_template, fresh_postgres
from tests.support.dnsmasq import DNSMASQ, Dnsmasq
from tests.support.gitrepo import GitRepo, make_app_repo
from tests.support.pg_cluster import Cluster, own_cluster
from tests.support.sshd_fleet import FleetFactory, SshdFleet, sshd_unavailable_reason

# A shell starts a background job (``make test &``, a CI runner's step) with SIGINT ignored, and every process it
# starts inherits that: a ``shipbot deploy`` the tests start would then ignore the Ctrl-C they send it, as a
# person's own background job would, and the cancel tests would wait for nothing. The suite's processes get the
# default, which a child turns back into "interrupt me".
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture
async def sshd_fleet(tmp_path: Path) -> AsyncIterator[FleetFactory]:
    """``fleet = await sshd_fleet(3, **SshdFleet options)``: real sshd hosts, all stopped at teardown.

    Skips the test when the OpenSSH server is not installed; mark such tests ``@pytest.mark.sshd``.
    """
    reason = sshd_unavailable_reason()
    if reason is not None:
        pytest.skip(reason)
    fleets: list[SshdFleet] = []

    async def make(count: int = 3, **options: Any) -> SshdFleet:
        fleet = SshdFleet(tmp_path / f"fleet{len(fleets) + 1}", count, **options)
        fleets.append(fleet)
        return await fleet.astart()

    try:
        yield make
    finally:
        for fleet in fleets:
            fleet.stop()


@pytest.fixture
def app_repo(tmp_path: Path) -> GitRepo:
    """A real git repo of a tiny app: ``main`` (v1), ``feature/new-login`` (v2), ``broken-health``, tag ``v1.0.0``."""
    return make_app_repo(tmp_path / "repo")


@pytest.fixture
def dnsmasq(tmp_path: Path) -> Iterator[Dnsmasq]:
    """A real DNS server on loopback (``dnsmasq.start(records)``), stopped at teardown; skips without dnsmasq."""
    if not DNSMASQ.exists():
        pytest.skip("dnsmasq is not installed (.ci/run installs dnsmasq-base)")
    server = Dnsmasq(tmp_path / "dns")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The store's database on each engine: a SQLite file in ``tmp_path``, and a fresh PostgreSQL database."""
    if request.param == "sqlite":
        (tmp_path / "data").mkdir(exist_ok=True)
        yield f"sqlite:///{tmp_path / 'data' / 'shipbot.sqlite3'}"
        return
    with fresh_postgres() as url:
        yield url


@pytest.fixture(scope="module")
def pg_cluster() -> Iterator[Cluster]:
    """A PostgreSQL cluster of the module's own (initdb + pg_ctl on a free port), for tests that stop, restart or
    cut off the database; the machine's shared server is never touched. ``pg_cluster.database()`` gives a test a
    database of its own on it."""
    with own_cluster() as cluster:
        yield cluster


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    drop_template()


@pytest.fixture
def databases(database_url: str) -> Iterator[Callable[[], Database]]:
    """``databases()``: one more connection to the test's database (as another process has), closed at teardown."""
    opened: list[Database] = []

    def one() -> Database:
        opened.append(Database.open(database_url))
        return opened[-1]

    yield one
    for db in opened:
        db.close()


@pytest.fixture
def stores(databases: Callable[[], Database]) -> Iterator[Callable[[], Store]]:
    """``stores()``: one more store on the test's database (as another process opens it), closed at teardown."""

    def one() -> Store:
        return Store(databases())  # its database is closed by ``databases``

    yield one
