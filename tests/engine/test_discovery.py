"""Hosts found in a real DNS server (dnsmasq on loopback) by SRV, deployed over real sshd hosts; a host added to
the records later is behind, converge puts the live release on it, and a rollback then works on every host."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from cli.main import main
from deploy.config.models import parse_config
from deploy.errors import HostUnreachable, NothingToConverge
from deploy.events import Outcome
from deploy.hosts.ssh import SshConnector
from deploy.run.engine import Engine
from deploy.store.tables import Store
from tests.engine.conftest import PIPELINE
from tests.support.dnsmasq import Dnsmasq
from tests.support.gitrepo import GitRepo
from tests.support.sshd_fleet import FleetFactory, SshdFleet

pytestmark = [
    pytest.mark.sshd,
    pytest.mark.skipif(os.geteuid() != 0, reason="hosts sharing one deploy_to need root (mount namespaces)"),
]

SRV = "_web._tcp.shop.test"
SOURCE = f"dns_srv:{SRV}"


def records(fleet: SshdFleet, count: int) -> list[str]:
    """SRV answers for the first ``count`` hosts, each target with its address."""
    out = []
    for h in fleet.hosts[:count]:
        out += [f"srv-host={SRV},{h.name}.shop.test,{h.port}", f"host-record={h.name}.shop.test,{h.address}"]
    return out


def config_data(fleet: SshdFleet, repo: GitRepo, dns: Dnsmasq) -> dict[str, Any]:
    data = fleet.config_yaml(repo=repo.path, pipeline=PIPELINE, shared={"dirs": ["log"]})
    data["environments"] = {
        "staging": {"discover": [{"dns_srv": SRV, "roles": ["web"], "nameservers": [dns.nameserver]}]}
    }
    return data


def current_of(fleet: SshdFleet, i: int) -> str | None:
    link = fleet.hosts[i].local_deploy_to / "current"
    return os.readlink(link) if link.is_symlink() else None


def name(fleet: SshdFleet, i: int) -> str:
    return f"{fleet.hosts[i].address}:{fleet.hosts[i].port}"


async def cli(*argv: str) -> int:
    return await asyncio.to_thread(main, list(argv))


async def test_srv_hosts_deploy_a_new_host_is_behind_converge_catches_it_up_and_rollback_works_everywhere(
    tmp_path: Path, sshd_fleet: FleetFactory, app_repo: GitRepo, dnsmasq: Dnsmasq, capsys: pytest.CaptureFixture[str]
) -> None:
    fleet = await sshd_fleet(3, addresses="loopback", mount_at=str(tmp_path / "srv" / "shop"))
    dnsmasq.start(records(fleet, 2))
    data = config_data(fleet, app_repo, dnsmasq)
    config_file = tmp_path / "shipbot.yml"
    config_file.write_text(yaml.safe_dump(data))
    data_dir = tmp_path / "data"
    engine = Engine(parse_config(data), Store.in_data_dir(data_dir), data_dir, SshConnector)

    first = await engine.deploy("staging", "main", user="U0ALICE")
    second = await engine.deploy("staging", "feature/new-login", user="U0ALICE")
    assert (first.outcome, second.outcome) == (Outcome.SUCCESS, Outcome.SUCCESS)
    assert sorted(h.host for h in second.hosts) == [name(fleet, 0), name(fleet, 1)]
    release = second.hosts[0].release
    assert current_of(fleet, 2) is None
    covered = engine.store.fleets.of(second.run_id)
    assert [(h.host, h.source) for h in covered] == [(name(fleet, 0), SOURCE), (name(fleet, 1), SOURCE)]

    dnsmasq.restart(records(fleet, 3))  # a third host joins the service
    capsys.readouterr()
    assert await cli("status", "staging", "--config", str(config_file), "--data-dir", str(data_dir), "--json") == 0
    status = json.loads(capsys.readouterr().out)
    assert status["consistent"] is False
    assert [(h["address"], h["behind"], h["source"]) for h in status["hosts"]] == [
        (name(fleet, 0), False, SOURCE),
        (name(fleet, 1), False, SOURCE),
        (name(fleet, 2), True, SOURCE),
    ]
    assert status["hosts"][2]["release"] is None
    assert [h["name"] for h in status["hosts"]] == [f"{h.name}.shop.test" for h in fleet.hosts], "named by SRV target"

    result = await engine.converge("staging", user="U0BOB")
    assert result.outcome is Outcome.SUCCESS, result.message
    assert [(h.host, h.release) for h in result.hosts] == [(name(fleet, 2), release)]
    after = await engine.status("staging")
    assert after.consistent and not after.behind
    assert {h.release for h in after.hosts} == {release}
    assert current_of(fleet, 2) == f"releases/{release}"
    with pytest.raises(NothingToConverge):
        await engine.converge("staging", user="U0BOB")

    back = await engine.rollback("staging", user="U0BOB")
    assert back.outcome is Outcome.SUCCESS, back.message
    assert {current_of(fleet, i) for i in range(3)} == {f"releases/{first.hosts[0].release}"}
    assert {h.host for h in back.hosts} == {name(fleet, i) for i in range(3)}

    capsys.readouterr()
    assert await cli("history", "staging", "--config", str(config_file), "--data-dir", str(data_dir), "--json") == 0
    runs = {r["kind"]: r for r in json.loads(capsys.readouterr().out)}
    assert [h["host"] for h in runs["converge"]["covered"]] == [name(fleet, 2)]
    assert len(runs["rollback"]["covered"]) == 3


async def test_a_discovered_host_key_is_looked_up_under_its_srv_name_and_an_unknown_one_is_refused_with_how_to_add_it(
    tmp_path: Path, sshd_fleet: FleetFactory, app_repo: GitRepo, dnsmasq: Dnsmasq
) -> None:
    fleet = await sshd_fleet(2, addresses="loopback", mount_at=str(tmp_path / "srv" / "shop"))
    dnsmasq.start(records(fleet, 2))
    data = config_data(fleet, app_repo, dnsmasq)
    h1, h2 = fleet.hosts
    # h1 is known only under its SRV target name, h2 not at all
    fleet.known_hosts.write_text(f"[{h1.name}.shop.test]:{h1.port} {fleet.host_public_key(0)}\n")
    engine = Engine(parse_config(data), Store.in_data_dir(tmp_path / "data"), tmp_path / "data", SshConnector)

    status = await engine.status("staging")

    by_name = {h.address: h for h in status.hosts}
    assert by_name[name(fleet, 0)].reachable
    refused = by_name[name(fleet, 1)]
    assert not refused.reachable
    assert name(fleet, 1) in refused.error or "not trusted" in refused.error
    assert f"[{h2.name}.shop.test]:{h2.port} or [{h2.address}]:{h2.port}" in refused.error
    assert f"ssh-keyscan -p {h2.port} {h2.address} >> {fleet.known_hosts}" in refused.error
    assert HostUnreachable  # the error type status turns into this host's line
