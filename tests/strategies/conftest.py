"""Fixtures for strategy tests: real sshd hosts, a real git repo, and for blue/green a real nginx per host."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bench.zero_downtime import demo
from deploy.config.models import parse_config
from deploy.hosts.ssh import SshConnector
from deploy.run.engine import Engine
from deploy.store.tables import Store
from tests.engine.conftest import PIPELINE
from tests.support.gitrepo import GitRepo
from tests.support.ports import free_port
from tests.support.sshd_fleet import FleetFactory, SshdFleet

BlueGreenFactory = Callable[..., Awaitable[tuple[Engine, SshdFleet, list[demo.Nginx]]]]


def set_env(config: dict[str, Any], **keys: Any) -> dict[str, Any]:
    """The config dict with keys added to its one environment (``staging``)."""
    config["environments"]["staging"].update(keys)
    return config


RollingFactory = Callable[..., Awaitable[tuple[Engine, SshdFleet]]]


@pytest.fixture
def rolling_engine(tmp_path: Path, sshd_fleet: FleetFactory, app_repo: GitRepo) -> RollingFactory:
    """``engine, fleet = await rolling_engine(hosts=3, pipeline=..., **environment keys)``: strategy rolling."""
    store = Store.in_data_dir(tmp_path / "data")

    async def make(hosts: int = 3, pipeline: dict[str, Any] | None = None, **env_keys: Any) -> tuple[Engine, SshdFleet]:
        fleet = await sshd_fleet(hosts)
        config = fleet.config_yaml(repo=app_repo.path, pipeline=pipeline or PIPELINE, shared={"dirs": ["log"]})
        set_env(config, strategy="rolling", **env_keys)
        return Engine(parse_config(config, "test.yml"), store, tmp_path / "data", SshConnector), fleet

    return make


@pytest.fixture
def nginxes() -> Iterator[list[demo.Nginx]]:
    started: list[demo.Nginx] = []
    yield started
    for n in started:
        n.stop()


@pytest.fixture
def demo_repo(tmp_path: Path) -> GitRepo:
    """The demo web app (``main`` is v1, then ``v2`` and ``broken-health``)."""
    return demo.make_repo(tmp_path / "web")


@pytest.fixture
def blue_green_engine(
    tmp_path: Path, sshd_fleet: FleetFactory, nginxes: list[demo.Nginx], demo_repo: GitRepo
) -> Iterator[BlueGreenFactory]:
    """``engine, fleet, nginxes = await blue_green_engine(hosts=1, bg={...}, **environment keys)``: the demo app,
    each host with its own colour ports and its own nginx (``<deploy_to>/nginx``, listening on its own port);
    ``bg`` keys are merged into the ``blue_green`` block (``nginx`` into its ``nginx``)."""
    if not demo.nginx_available():
        pytest.skip("nginx is not installed")
    repo = demo_repo
    store = Store.in_data_dir(tmp_path / "data")
    fleets: list[SshdFleet] = []

    async def make(
        hosts: int = 1, bg: dict[str, Any] | None = None, config_weight: int = 0, **env_keys: Any
    ) -> tuple[Engine, SshdFleet, list[demo.Nginx]]:
        fleet = await sshd_fleet(hosts)
        fleets.append(fleet)
        config = fleet.config_yaml(
            repo=repo.path,
            pipeline={"restart": "./start.sh", "healthcheck": {"run": "./health.sh", "retries": 3, "interval": "0.2s"}},
        )
        ours: list[demo.Nginx] = []
        for host, entry in zip(fleet.hosts, config["environments"]["staging"]["hosts"], strict=True):
            # nothing listens on a colour's port until its app starts: free_port() never hands one out twice
            ports = {"blue": free_port(), "green": free_port()}
            nginx = demo.Nginx(
                host.local_deploy_to / "nginx", free_port(), "shop", ports["blue"], config_weight
            ).start()
            ours.append(nginx)
            nginxes.append(nginx)
            entry["blue_green"] = {"ports": ports, "verify_url": f"{nginx.url}/version"}
        prefix = "$SHIPBOT_DEPLOY_TO/nginx"
        extra = dict(bg or {})
        nginx_keys = extra.pop("nginx", {})
        set_env(
            config,
            strategy="blue_green",
            blue_green={
                "ports": {"blue": 1, "green": 2},  # every host overrides these
                "stop": "./stop.sh",
                "keep_old": "10m",
                "nginx": {"upstream_file": "nginx/upstream.conf", **demo.nginx_commands(prefix), **nginx_keys},
                "verify": {"url": "http://127.0.0.1/version", "retries": 60, "interval": "0.1s"},
                **extra,
            },
            **env_keys,
        )
        return Engine(parse_config(config, "test.yml"), store, tmp_path / "data", SshConnector), fleet, ours

    yield make
    for fleet in fleets:
        for host in fleet.hosts:
            demo.stop_apps(host.local_deploy_to)
