"""A blue/green deploy whose controller is SIGKILLed during its swap (nginx already reloaded onto the new colour),
then ``shipbot recover``: nginx's upstream, the labels and the colours end as before the run (the old colour live
and running, the new one stopped, or kept for ``keep_old``), with 0 failed requests at 200 a second through the
real nginx while it happens (loopback, bounded in count and time). Real sshd, git, nginx and ``shipbot`` processes.
"""

from __future__ import annotations

import os
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml

from bench.zero_downtime import crash, demo
from bench.zero_downtime.load import Under
from tests.support.gitrepo import GitRepo
from tests.support.ports import free_port
from tests.support.sshd_fleet import FleetFactory, SshdFleet

pytestmark = [pytest.mark.sshd, pytest.mark.nginx]

RATE, BOUND = 200.0, 60.0  # requests a second through nginx; no load runs longer than BOUND seconds
WEIGHT = 100_000  # map entries: each nginx reload lags as a production one does


def config_for(fleet: SshdFleet, repo: GitRepo, nginx: demo.Nginx, ports: dict[str, int], keep_old: str) -> Any:
    config = fleet.config_yaml(
        repo=repo.path,
        pipeline={"restart": "./start.sh", "healthcheck": {"run": "./health.sh", "retries": 20, "interval": "0.2s"}},
    )
    env = config["environments"]["staging"]
    commands = demo.nginx_commands("$SHIPBOT_DEPLOY_TO/nginx")
    env["strategy"] = "blue_green"
    env["blue_green"] = {
        "ports": ports,
        "stop": "./stop.sh",
        "keep_old": keep_old,
        "nginx": {
            "upstream_file": "nginx/upstream.conf",
            "pid_file": "nginx/nginx.pid",
            "test": commands["test"],
            "reload": crash.holding_reload(commands["reload"]),
        },
        "verify": {"url": f"{nginx.url}/version", "retries": 100, "interval": "0.1s"},
    }
    return config


def answers(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/version", timeout=2):
            return True
    except OSError:
        return False


@pytest.fixture
def stop_apps() -> Any:
    folders: list[Path] = []
    yield folders
    for folder in folders:
        demo.stop_apps(folder)


@pytest.mark.parametrize("keep_old", ["10m", "0s"])
async def test_a_controller_killed_mid_swap_is_recovered_onto_the_colour_live_before_with_no_failed_request(
    tmp_path: Path, sshd_fleet: FleetFactory, demo_repo: GitRepo, keep_old: str, stop_apps: list[Path]
) -> None:
    if not demo.nginx_available():
        pytest.skip("nginx is not installed")
    fleet = await sshd_fleet(1)
    d = fleet.hosts[0].local_deploy_to
    stop_apps.append(d)
    ports = {"blue": free_port(), "green": free_port()}
    nginx = demo.Nginx(d / "nginx", free_port(), "shop", ports["blue"], WEIGHT).start()
    try:
        config = tmp_path / "shipbot.yml"
        config.write_text(yaml.safe_dump(config_for(fleet, demo_repo, nginx, ports, keep_old)))
        first = await crash.shipbot(config, tmp_path / "data", "deploy", "staging", "main")
        assert 0 == first[0], first[1]
        v1 = demo_repo.sha("main")
        before = (d / "nginx" / "upstream.conf").read_text()
        assert f"127.0.0.1:{ports['blue']}" in before and "blue" == (d / ".shipbot" / "live").read_text().strip()
        current = os.readlink(d / "current")

        names = {v1: "v1", demo_repo.sha("v2"): "v2"}
        async with Under([f"{nginx.url}/version"], RATE, BOUND, names, lead=1.0, tail=1.0) as load:
            code, said = await crash.kill_mid_swap_then_recover(config, tmp_path / "data", "staging", "v2", [d])

        assert 0 == code, said
        assert "interrupted, repaired" in said and "traffic back on blue" in said, said
        assert load.sent >= RATE * 2, load.summary()
        assert 0 == load.failed, load.summary()
        assert {"v1", "v2"} == set(load.versions), "nginx was on green (v2) when the controller died"
        upstream = (d / "nginx" / "upstream.conf").read_text()
        assert f"127.0.0.1:{ports['blue']}" in upstream and str(ports["green"]) not in upstream
        assert "blue" == (d / ".shipbot" / "live").read_text().strip()
        assert current == os.readlink(d / "current")
        assert answers(ports["blue"]), "blue, live before the run, runs"
        assert answers(ports["green"]) is (keep_old != "0s"), "green is stopped, or kept for keep_old"
        with urllib.request.urlopen(f"{nginx.url}/version", timeout=5) as response:
            assert v1 == response.read().decode().strip()
    finally:
        nginx.stop()
