"""A run's lease outlives slow statements: while every store thread is held (statements waiting on a lock, a slow
disk, thousands of step records of a large fleet), the run's heartbeat renews on its own lane
(:meth:`deploy.store.door.StoreDoor.urgent`) and the deploy ends green, instead of losing a lease no one else
wanted and stopping as if another controller had taken the run over."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from deploy.config.models import parse_config
from deploy.events import Event, Outcome, RunStarted
from deploy.hosts.ssh import SshConnector
from deploy.run.engine import Engine
from deploy.store.door import THREADS
from deploy.store.tables import Store
from tests.engine.conftest import PIPELINE
from tests.support.gitrepo import GitRepo
from tests.support.sshd_fleet import FleetFactory

pytestmark = pytest.mark.sshd

TTL = 2.0  # seconds: the store threads are held three times as long


async def test_a_deploy_keeps_its_lease_while_slow_statements_hold_every_store_thread(
    tmp_path: Path, sshd_fleet: FleetFactory, app_repo: GitRepo
) -> None:
    fleet = await sshd_fleet(2)
    pipeline = {**PIPELINE, "build": ["./build.sh", "sleep 2"]}
    config = parse_config(fleet.config_yaml(repo=app_repo.path, pipeline=pipeline), "test.yml")
    store = Store.in_data_dir(tmp_path / "data", lease_ttl=TTL)
    engine = Engine(config, store, tmp_path / "data", SshConnector)
    slow: list[asyncio.Future[None]] = []

    def clog(event: Event) -> None:
        """Once the run holds its lease, every store thread takes a statement that lasts 3 TTLs."""
        if isinstance(event, RunStarted):
            slow.extend(asyncio.ensure_future(store.door(time.sleep, 3 * TTL)) for _ in range(THREADS["sqlite"]))

    try:
        result = await engine.deploy("staging", "main", user="U0ALICE", sink=clog)
        await asyncio.gather(*slow)
        status = await engine.status("staging")
    finally:
        store.close()

    assert (Outcome.SUCCESS, len(slow)) == (result.outcome, THREADS["sqlite"]), result.message
    assert {app_repo.sha("main")} == {h.sha for h in status.hosts}
