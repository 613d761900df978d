"""Fixtures for engine tests: a real git repo of a tiny app and real sshd hosts on loopback."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from deploy.config.models import Config, parse_config
from deploy.hosts.ssh import SshConnector
from deploy.run.engine import Engine
from deploy.store.tables import Store
from tests.support.gitrepo import GitRepo
from tests.support.sshd_fleet import FleetFactory, SshdFleet

PIPELINE: dict[str, Any] = {
    "build": ["./build.sh"],
    # restarts are recorded per host, so tests can see which release was restarted
    "restart": 'echo "$SHIPBOT_RELEASE $SHIPBOT_SHA" >> ../../restarts.log',
    "healthcheck": {"run": "./health.sh", "retries": 2, "interval": "0.1s", "timeout": "10s"},
}

EngineFactory = Callable[..., Awaitable[tuple[Engine, SshdFleet]]]


@pytest.fixture
def make_engine(tmp_path: Path, sshd_fleet: FleetFactory, app_repo: GitRepo) -> EngineFactory:
    """``engine, fleet = await make_engine(hosts=3, pipeline=..., **config keys)``."""
    store = Store.in_data_dir(tmp_path / "data")

    async def make(hosts: int = 3, fleet: SshdFleet | None = None, **keys: Any) -> tuple[Engine, SshdFleet]:
        fleet = fleet or await sshd_fleet(hosts)
        keys.setdefault("pipeline", PIPELINE)
        keys.setdefault("shared", {"dirs": ["log"]})
        config: Config = parse_config(fleet.config_yaml(repo=app_repo.path, **keys), "test.yml")
        return Engine(config, store, tmp_path / "data", SshConnector), fleet

    return make
