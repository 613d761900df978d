"""The durable bookkeeping costs no round trip, and neither do the steps: a deploy with one build command, a restart
and a healthcheck that passes at once runs 3 commands per host, retention included (it was 12, then 6): the first
exec with the build, the switch with the restart and the healthcheck, the journal with retention.

A blue/green deploy runs 4 (it was 6): the first exec with the colour probe in its preamble, the idle colour staged
(verify, stop, port free, link, start, healthcheck), traffic moved (nginx swap, verify through nginx, labels), and
the journal with retention and the old colour's stop (at once with ``keep_old: 0``, else scheduled on the host).
"""

from __future__ import annotations

import asyncio
import time
import urllib.request
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest

from bench.zero_downtime import demo
from deploy.config.models import Ssh, parse_config
from deploy.events import Outcome
from deploy.hosts.connector import HostConnection, StepResult
from deploy.hosts.ssh import SshConnector
from deploy.redact import Redactor
from deploy.run.engine import Engine
from deploy.run.plan import Host
from deploy.store.tables import Store
from tests.durable.conftest import PIPELINE, World
from tests.support.ports import free_port

pytestmark = pytest.mark.sshd


class Counted:
    """A real host connection that counts the commands run on it."""

    def __init__(self, inner: HostConnection, counts: Counter[str]) -> None:
        self.host = inner.host
        self._inner = inner
        self._counts = counts

    async def run(
        self,
        command: str,
        timeout: float,
        stdin: bytes | None = None,
        on_pgid: Callable[[int], Awaitable[None]] | None = None,
        on_line: Callable[[str], None] | None = None,
    ) -> StepResult:
        self._counts[self.host.name] += 1
        return await self._inner.run(command, timeout, stdin, on_pgid, on_line)

    async def read(
        self,
        command: str,
        timeout: float,
        stdin: bytes | None = None,
        on_pgid: Callable[[int], Awaitable[None]] | None = None,
    ) -> StepResult:
        self._counts[self.host.name] += 1
        return await self._inner.read(command, timeout, stdin, on_pgid)

    async def close(self) -> None:
        await self._inner.close()


def counting(counts: Counter[str]) -> type[SshConnector]:
    """An SSH connector whose connections count their commands in ``counts``, per host."""

    class Counting(SshConnector):
        def __init__(self, ssh: Ssh, redactor: Redactor | None = None) -> None:
            super().__init__(ssh, redactor)

        async def connect(self, host: Host, timeout: float) -> HostConnection:
            return Counted(await super().connect(host, timeout), counts)

    return Counting


async def test_a_deploy_costs_three_commands_per_host_retention_included(world: World, tmp_path: Path) -> None:
    counts: Counter[str] = Counter()
    Counting = counting(counts)

    data = world.fleet.config_yaml(repo=world.repo.path, pipeline=PIPELINE, keep_releases=1)
    for entry in data["environments"]["staging"]["hosts"]:
        entry["deploy_to"] = str(tmp_path / "hosts" / str(entry["port"]))
    config = parse_config(data, "test.yml")
    store = Store.in_data_dir(tmp_path / "data")
    engine = Engine(config, store, tmp_path / "data", Counting)
    try:
        for ref in ("main", "feature/new-login"):
            assert Outcome.SUCCESS == (await engine.deploy("staging", ref, user="U0ALICE")).outcome
        counts.clear()
        third = await engine.deploy("staging", "main", user="U0ALICE")
    finally:
        store.close()

    assert Outcome.SUCCESS == third.outcome
    assert {h.host: 3 for h in third.hosts} == dict(counts)
    kept = [sorted(p.name for p in (tmp_path / "hosts" / str(e["port"]) / "releases").iterdir()) for e in
            data["environments"]["staging"]["hosts"]]  # fmt: skip
    assert [2] * 3 == [len(k) for k in kept], "retention removed the oldest release in the same exec as the journal"


def answers(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/version", timeout=2):
            return True
    except OSError:
        return False


@pytest.fixture
def nginxes() -> Iterator[list[demo.Nginx]]:
    started: list[demo.Nginx] = []
    yield started
    for n in started:
        n.stop()
        demo.stop_apps(n.prefix.parent)


@pytest.mark.nginx
@pytest.mark.parametrize("keep_old", ["0s", "2s"])
async def test_a_blue_green_deploy_costs_four_commands_per_host_the_old_colours_stop_included(
    world: World, tmp_path: Path, nginxes: list[demo.Nginx], keep_old: str
) -> None:
    if not demo.nginx_available():
        pytest.skip("nginx is not installed")
    counts: Counter[str] = Counter()
    repo = demo.make_repo(tmp_path / "web")
    pipeline = {"restart": "./start.sh", "healthcheck": {"run": "./health.sh", "retries": 3, "interval": "0.2s"}}
    data = world.fleet.config_yaml(repo=repo.path, pipeline=pipeline, keep_releases=2)
    ports = []
    for entry in data["environments"]["staging"]["hosts"]:
        deploy_to = tmp_path / "hosts" / str(entry["port"])
        entry["deploy_to"] = str(deploy_to)
        ports.append({"blue": free_port(), "green": free_port()})
        nginx = demo.Nginx(deploy_to / "nginx", free_port(), "shop", ports[-1]["blue"])
        nginxes.append(nginx.start())
        entry["blue_green"] = {"ports": ports[-1], "verify_url": f"{nginx.url}/version"}
    commands = demo.nginx_commands("$SHIPBOT_DEPLOY_TO/nginx")
    data["environments"]["staging"]["strategy"] = "blue_green"
    data["environments"]["staging"]["blue_green"] = {
        "ports": {"blue": 1, "green": 2},  # every host overrides these
        "stop": "./stop.sh",
        "keep_old": keep_old,
        "nginx": {"upstream_file": "nginx/upstream.conf", "pid_file": "nginx/nginx.pid", **commands},
        "verify": {"url": "http://127.0.0.1/version", "retries": 60, "interval": "0.1s"},
    }
    store = Store.in_data_dir(tmp_path / "data")
    engine = Engine(parse_config(data, "test.yml"), store, tmp_path / "data", counting(counts))
    try:
        for ref in ("main", "v2"):  # blue, then green; the third goes to blue again, green live before it
            assert Outcome.SUCCESS == (await engine.deploy("staging", ref, user="U0ALICE")).outcome
        await asyncio.sleep(3)  # with keep_old 2s, blue stopped once its time passed
        counts.clear()
        third = await engine.deploy("staging", "main", user="U0ALICE")
    finally:
        store.close()

    assert Outcome.SUCCESS == third.outcome, third.message
    assert {h.host: 4 for h in third.hosts} == dict(counts)
    for nginx in nginxes:
        with urllib.request.urlopen(f"{nginx.url}/version", timeout=5) as response:
            assert repo.sha("main") == response.read().decode().strip()
    if keep_old == "0s":
        assert [False] * 3 == [answers(p["green"]) for p in ports], "the old colour stopped in the last exec"
        return
    assert [True] * 3 == [answers(p["green"]) for p in ports], "the old colour keeps serving for keep_old"
    deadline = time.monotonic() + 20
    while any(answers(p["green"]) for p in ports) and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    assert [False] * 3 == [answers(p["green"]) for p in ports], "the stop scheduled in the last exec ran on the host"
