"""A store that refuses to record a step's remote process group, on a real sshd host and a real database (SQLite
file and PostgreSQL): the step is killed on the host and its channel closed before the error goes on, and the run
ends as a failed run that says why, never as an internal error with the command still running on the host."""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from deploy.config.models import parse_config
from deploy.events import Outcome
from deploy.hosts.ssh import SshConnector
from deploy.run.engine import Engine
from deploy.run.hostrun import HostRun
from deploy.run.plan import Host
from deploy.run.steps import RunSteps
from deploy.store.database import Database
from deploy.store.fencing import RunWrites
from deploy.store.leases import Lease, acquire
from deploy.store.tables import Store
from tests.engine.conftest import PIPELINE
from tests.support.gitrepo import GitRepo
from tests.support.sshd_fleet import FleetFactory

pytestmark = pytest.mark.sshd


def pgrep(pattern: str) -> list[str]:
    return subprocess.run(["pgrep", "-f", pattern], capture_output=True, text=True).stdout.split()


async def test_a_step_whose_process_group_the_store_refuses_is_killed_on_the_host(
    sshd_fleet: FleetFactory, databases: Callable[[], Database]
) -> None:
    fleet = await sshd_fleet(1)
    h = fleet.hosts[0]
    db, other = databases(), databases()
    other.execute("DROP TABLE run_processes")  # another process broke the store: every write there is refused
    sleeper = f"sleep {random.randint(100_000, 999_999)}"
    connector = SshConnector(parse_config(fleet.config_yaml()).ssh)
    hr = HostRun(Host(h.address, h.port, fleet.user, h.deploy_to))
    hr.conn = await connector.connect(hr.host, 10)
    lease = Lease("run-1", "me", acquire(db, "run-1", "me", 60))  # the run's lease: its writes are fenced
    steps = RunSteps(connector, "run-1", lambda _event: None, writes=RunWrites(db, lease))
    try:
        result = await steps.exec(hr, f"{sleeper}; echo finished", 30)
        await asyncio.sleep(1.5)  # long enough for the sleep to have started on the host had it not been killed
        alive = pgrep(sleeper)
        after = await hr.conn.run("echo still usable", 10)
    finally:
        await hr.conn.close()
        await connector.close()

    assert [] == alive, "the step's process group still runs on the host"
    assert not result.ok
    assert "the store could not record the step's process group, so the step was stopped on the host" in result.error
    assert "finished" not in result.output
    assert (0, "still usable") == (after.exit_status, after.output.strip()), "only the step's channel was closed"


async def test_a_deploy_whose_store_refuses_the_step_fails_saying_so_and_changes_nothing(
    tmp_path: Path, sshd_fleet: FleetFactory, app_repo: GitRepo, database_url: str, databases: Callable[[], Database]
) -> None:
    fleet = await sshd_fleet(2)
    sleeper = f"sleep {random.randint(100_000, 999_999)}"
    config = parse_config(
        fleet.config_yaml(repo=app_repo.path, pipeline={**PIPELINE, "build": [sleeper]}, shared={"dirs": ["log"]}),
        "test.yml",
    )
    store = Store(databases())
    engine = Engine(config, store, tmp_path / "data", SshConnector)
    databases().execute("DROP TABLE run_processes")

    result = await engine.deploy("staging", "main", user="U0ALICE")
    await asyncio.sleep(0.5)

    assert Outcome.FAILED == result.outcome
    assert "internal error" not in result.message
    assert all("the store could not record the step's process group" in h.error for h in result.failed_hosts)
    assert [] == pgrep(sleeper)
    assert all(not (h.local_deploy_to / "current").exists() for h in fleet.hosts)
    assert os.path.exists(tmp_path / "data")


async def test_a_step_whose_run_was_taken_over_while_it_opened_never_runs_on_the_host(
    tmp_path: Path, sshd_fleet: FleetFactory, databases: Callable[[], Database]
) -> None:
    """The window between a step's channel opening and its go-ahead: the run's lease passed to another process (this
    one was frozen, its store slow) before the step's process group was recorded. The record is refused, and the
    command, already started on the host and waiting for its go-ahead, is killed without running: a step that ran
    there would undo what the new owner's repair just did (a release folder it removed comes back)."""
    fleet = await sshd_fleet(1)
    h = fleet.hosts[0]
    db = databases()
    marker = h.local_deploy_to / f"ran-{random.randint(100_000, 999_999)}"
    connector = SshConnector(parse_config(fleet.config_yaml()).ssh)
    hr = HostRun(Host(h.address, h.port, fleet.user, h.deploy_to))
    hr.conn = await connector.connect(hr.host, 10)
    lease = Lease("run-1", "me", acquire(db, "run-1", "me", 60))
    acquire(databases(), "run-1", "the new owner", 60)  # taken over: this process's writes for the run are refused
    steps = RunSteps(connector, "run-1", lambda _event: None, writes=RunWrites(db, lease))
    try:
        result = await steps.exec(hr, f"mkdir -p {h.deploy_to}; touch {h.deploy_to}/{marker.name}", 30)
        await asyncio.sleep(1)
        after = await hr.conn.run("echo still usable", 10)
    finally:
        await hr.conn.close()
        await connector.close()

    assert not marker.exists(), "the step ran on the host for a run another process owns"
    assert (False, False) == (result.ok, result.sent)
    assert "lost the run's lease" in result.error
    assert (0, "still usable") == (after.exit_status, after.output.strip())
