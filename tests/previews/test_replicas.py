"""Two replicas (two stores, each with its own lease owner and git mirror, on one database: a SQLite file and
PostgreSQL) change one preview at once, on a real sshd host behind a real nginx: they take turns on the preview's
lease (one waits, or is refused when it would wait too long), and the preview ends consistent: the row, the host's
``current``, the one app running and what nginx serves all agree."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from cli.engines import build_previews
from deploy.config.models import parse_config
from deploy.hosts.ssh import SshConnector
from deploy.previews.preview_lease import PreviewBusy, PreviewLeases
from deploy.previews.preview_runner import PreviewRunner
from deploy.run.engine import Engine
from deploy.store import leases
from deploy.store.tables import Store
from tests.previews.conftest import DOMAIN, Nginx, previews_config, processes_under
from tests.support.gitrepo import GitRepo
from tests.support.ports import free_range
from tests.support.sshd_fleet import FleetFactory, SshdFleet

pytestmark = pytest.mark.sshd

HOST = f"demo-xyz.{DOMAIN}"
BRANCH = "demo/xyz"


class Replicas:
    def __init__(self, fleet: SshdFleet, builds: Path, runners: list[PreviewRunner], store: Store) -> None:
        self.fleet, self.builds, self.runners, self.store = fleet, builds, runners, store

    @property
    def folder(self) -> Path:
        return self.fleet.hosts[0].local_deploy_to / "previews" / "demo-xyz"

    def spans(self) -> list[tuple[float, float]]:
        """(start, end) of every build, from the log the builds wrote on the host."""
        started: dict[str, float] = {}
        spans = []
        for line in self.builds.read_text().splitlines():
            what, sha, at = line.split()
            if what == "start":
                started[sha] = float(at)
            else:
                spans.append((started.pop(sha), float(at)))
        return sorted(spans)


ReplicaFactory = Callable[..., Awaitable[Replicas]]


@pytest.fixture
def replicas(
    tmp_path: Path, sshd_fleet: FleetFactory, nginx: Nginx, preview_repo: GitRepo, stores: Callable[[], Store]
) -> ReplicaFactory:
    """``r = await replicas(wait=...)``: two preview runners of one app on the test's database. Each build logs
    when it starts and ends and takes a second, so two changes at once would overlap in the log."""

    async def make(wait: float | None = None) -> Replicas:
        fleet = await sshd_fleet(1)
        builds = tmp_path / "builds.log"
        build = (
            f'echo "start $SHIPBOT_RELEASE-$SHIPBOT_SHA $(date +%s.%N)" >> {builds}; ./build.sh; sleep 1; '
            f'echo "end $SHIPBOT_RELEASE-$SHIPBOT_SHA $(date +%s.%N)" >> {builds}'
        )
        first, last = free_range(3)
        config: dict[str, Any] = previews_config(
            fleet, preview_repo, nginx, f"{first}-{last}", pipeline={"build": [build]}
        )
        runners, store = [], None
        for i in (1, 2):
            store = stores()
            engine = Engine(parse_config(config, "test.yml"), store, tmp_path / f"data{i}", SshConnector)
            if wait is None:  # as the bot builds them
                runners.append(build_previews(engine, store))
            else:
                lease = PreviewLeases(store.db, store.owner, store.lease_ttl, wait=wait)
                runners.append(PreviewRunner(engine.config, store.previews, engine.mirror, SshConnector, leases=lease))
        assert store is not None
        return Replicas(fleet, builds, runners, store)

    return make


def push(repo: GitRepo, text: str) -> str:
    repo.checkout(BRANCH)
    sha = repo.commit(f"change {text}", {"VERSION": f"{text}\n"})
    repo.checkout("main")
    return sha


async def test_two_replicas_updating_one_preview_take_turns_and_it_ends_consistent(
    replicas: ReplicaFactory, preview_repo: GitRepo, nginx: Nginx
) -> None:
    r = await replicas()
    one, two = r.runners
    first = preview_repo.sha(BRANCH)
    await one.up(BRANCH, first, "ada")
    a, b = push(preview_repo, "from-a"), push(preview_repo, "from-b")

    outcomes = await asyncio.gather(one.up(BRANCH, a, "ada"), two.up(BRANCH, b, "bob"))

    assert all(not o.created for o in outcomes)
    spans = r.spans()
    assert 3 == len(spans)
    assert all(end <= nxt for (_s, end), (nxt, _e) in itertools.pairwise(spans)), f"overlapped: {spans}"
    row = await one.find(BRANCH)
    assert row is not None and "live" == row.state and row.sha in (a, b)
    assert row == await two.find(BRANCH)
    assert (200, f"{row.sha}\n") == await nginx.page(HOST)
    assert row.sha == (r.folder / "current" / "REVISION").read_text().strip()
    assert 1 == len(processes_under(r.folder)), "one app runs"
    assert leases.holder(r.store.db, leases.preview_key("shop", BRANCH)) is None, "the lease was given up"
    await two.down(BRANCH, "bob")
    assert not r.folder.exists()


async def test_a_replica_that_would_wait_too_long_is_refused_and_changes_nothing(
    replicas: ReplicaFactory, preview_repo: GitRepo, nginx: Nginx
) -> None:
    r = await replicas(wait=0.5)
    one, two = r.runners
    first = preview_repo.sha(BRANCH)
    key = leases.preview_key("shop", BRANCH)
    making = asyncio.create_task(one.up(BRANCH, first, "ada"))
    deadline = time.monotonic() + 20
    while leases.holder(r.store.db, key) is None and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    holder = leases.holder(r.store.db, key)
    other = push(preview_repo, "other")

    with pytest.raises(PreviewBusy, match="is being changed by another shipbot") as refused:
        await two.up(BRANCH, other, "bob")
    made = await making

    assert holder is not None and holder in str(refused.value)
    assert made.created and first == made.info.sha
    assert 1 == len(r.spans()), "the refused replica built nothing"
    assert (200, f"{first}\n") == await nginx.page(HOST)
    assert first == (r.folder / "current" / "REVISION").read_text().strip()
    await two.down(BRANCH, "bob")
    assert not r.folder.exists()
