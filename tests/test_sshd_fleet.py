"""The sshd fleet harness, driven by a real asyncssh client."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
from pathlib import Path

import asyncssh
import pytest
import yaml

from deploy.config.models import parse_config
from tests.support.sshd_fleet import FleetError, FleetFactory, SshdFleet, SshdHost

pytestmark = pytest.mark.sshd


async def run(fleet: SshdFleet, host: SshdHost, command: str) -> str:
    async with asyncssh.connect(
        host.address,
        host.port,
        username=fleet.user,
        client_keys=[str(fleet.client_key)],
        known_hosts=str(fleet.known_hosts),
        connect_timeout=10,
    ) as conn:
        result = await conn.run(command, check=True)
        return str(result.stdout)


async def test_three_hosts_answer_and_each_has_its_own_folder(sshd_fleet: FleetFactory) -> None:
    fleet = await sshd_fleet(3)

    assert len({(h.address, h.port) for h in fleet.hosts}) == 3
    assert len({fleet.host_public_key(h.index) for h in fleet.hosts}) == 3
    for host in fleet.hosts:
        (host.local_deploy_to / "marker").write_text(host.name)
    outputs = await asyncio.gather(
        *(run(fleet, h, f"echo hello from {h.name}; cat {h.deploy_to}/marker") for h in fleet.hosts)
    )
    assert outputs == [f"hello from {h.name}\n{h.name}" for h in fleet.hosts]
    assert len({h.deploy_to for h in fleet.hosts}) == 3


async def test_loopback_addresses_share_one_port(sshd_fleet: FleetFactory) -> None:
    fleet = await sshd_fleet(2, addresses="loopback")

    assert [h.address for h in fleet.hosts] == ["127.0.1.1", "127.0.1.2"]
    assert fleet.hosts[0].port == fleet.hosts[1].port
    assert await run(fleet, fleet.hosts[1], "echo ok") == "ok\n"


async def test_known_hosts_and_config_shape(sshd_fleet: FleetFactory) -> None:
    fleet = await sshd_fleet(2)

    lines = fleet.known_hosts.read_text().splitlines()
    assert lines == [f"[127.0.0.1]:{h.port} {fleet.host_public_key(h.index)}" for h in fleet.hosts]
    data = fleet.config_yaml(app="shop", repo="/srv/git/shop.git")
    config = parse_config(yaml.safe_load(yaml.safe_dump(data)))
    hosts = config.environments["staging"].hosts
    assert [(h.port, h.deploy_to, h.roles) for h in hosts] == [
        (fleet.hosts[0].port, fleet.hosts[0].deploy_to, ["web", "migrate"]),
        (fleet.hosts[1].port, fleet.hosts[1].deploy_to, ["web"]),
    ]
    assert config.ssh.identity == str(fleet.client_key)
    assert config.ssh.known_hosts == str(fleet.known_hosts)


async def test_replaced_host_key_is_refused(sshd_fleet: FleetFactory) -> None:
    fleet = await sshd_fleet(2)
    old_key = fleet.host_public_key(1)

    await fleet.areplace_host_key(1)

    assert fleet.host_public_key(1) != old_key
    with pytest.raises(asyncssh.HostKeyNotVerifiable):
        await run(fleet, fleet.hosts[1], "true")
    assert await run(fleet, fleet.hosts[0], "echo still fine") == "still fine\n"
    fleet.write_known_hosts()
    assert await run(fleet, fleet.hosts[1], "echo trusted again") == "trusted again\n"


async def test_stopped_host_refuses_connections_and_comes_back(sshd_fleet: FleetFactory) -> None:
    fleet = await sshd_fleet(2)

    fleet.stop_host(0)

    assert not fleet.is_running(0)
    with pytest.raises(ConnectionRefusedError):
        await run(fleet, fleet.hosts[0], "true")
    assert await run(fleet, fleet.hosts[1], "echo up") == "up\n"
    await fleet.astart_host(0)
    assert await run(fleet, fleet.hosts[0], "echo back") == "back\n"


async def test_stopping_a_host_drops_its_open_sessions(sshd_fleet: FleetFactory) -> None:
    fleet = await sshd_fleet(1)
    host = fleet.hosts[0]
    async with asyncssh.connect(
        host.address,
        host.port,
        username=fleet.user,
        client_keys=[str(fleet.client_key)],
        known_hosts=str(fleet.known_hosts),
    ) as conn:
        process = await conn.create_process("echo started; sleep 60")
        assert await process.stdout.readline() == "started\n"

        fleet.stop_host(0)

        async with asyncio.timeout(10):
            await conn.wait_closed()
    assert fleet.leftover_pids() == []


async def test_stop_leaves_no_sshd_behind(tmp_path: Path, sshd_fleet: FleetFactory) -> None:
    fleet = await sshd_fleet(3)
    pids = [fleet.pid(i) for i in range(3)]
    assert all(pid is not None for pid in pids)

    fleet.stop()

    assert fleet.leftover_pids() == []
    assert [fleet.pid(i) for i in range(3)] == [None, None, None]
    for pid in pids:
        assert not Path(f"/proc/{pid}").exists()
    fleet.stop()  # twice is fine


def test_sync_context_manager(tmp_path: Path) -> None:
    with SshdFleet(tmp_path / "sync", 2) as fleet:
        pids = [fleet.pid(i) for i in range(2)]
        assert asyncio.run(run(fleet, fleet.hosts[0], "echo sync")) == "sync\n"
    assert fleet.leftover_pids() == []
    assert all(not Path(f"/proc/{pid}").exists() for pid in pids)


async def test_a_host_that_cannot_start_is_named_with_sshd_stderr(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        fleet = SshdFleet(tmp_path / "clash", 1, base_port=taken.getsockname()[1], start_timeout=5)
        with pytest.raises(FleetError, match=r"host h1 \(127\.0\.0\.1:\d+.*\n.*Address already in use"):
            await fleet.astart()
    assert fleet.leftover_pids() == []


@pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("unshare") is None, reason="needs root and unshare for mount namespaces"
)
async def test_mount_at_gives_every_host_the_same_private_deploy_to(tmp_path: Path, sshd_fleet: FleetFactory) -> None:
    shared = tmp_path / "srv" / "app"
    fleet = await sshd_fleet(2, mount_at=str(shared))

    assert [h.deploy_to for h in fleet.hosts] == [str(shared), str(shared)]
    await asyncio.gather(*(run(fleet, h, f"echo {h.name} > {shared}/who") for h in fleet.hosts))
    assert [(h.local_deploy_to / "who").read_text() for h in fleet.hosts] == ["h1\n", "h2\n"]
    assert list(shared.iterdir()) == []  # nothing lands on the real path
    assert "deploy_to" not in fleet.config_yaml()["environments"]["staging"]["hosts"][0]
    fleet.stop()
    assert not shared.exists()
