"""Discovered hosts in chat: a host that joins the SRV records (a real dnsmasq) is shown behind in ``status`` with
its source, ``converge staging`` catches it up; with an inventory command and ``converge: auto`` the bot does it by
itself and says so in the environment's ``notify`` channel (the real bolt app against the emulator, real sshd
hosts)."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest

from tests.bot.conftest import Stack, StackFactory
from tests.support.dnsmasq import Dnsmasq
from tests.support.sshd_fleet import SshdFleet

pytestmark = pytest.mark.sshd
SRV = "_web._tcp.shop.test"


def records(fleet: SshdFleet, count: int) -> list[str]:
    out = []
    for h in fleet.hosts[:count]:
        out += [f"srv-host={SRV},{h.name}.shop.test,{h.port}", f"host-record={h.name}.shop.test,{h.address}"]
    return out


INVENTORY = {"discover": [{"command": "./inventory.sh"}]}


def write_inventory(folder: Path) -> None:
    path = folder / "inventory.sh"
    path.write_text('#!/bin/sh\ncat "$(dirname "$0")/hosts.json"\n')
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    (folder / "hosts.json").write_text("[]")


def join(folder: Path, fleet: SshdFleet, i: int) -> None:
    """Host ``i`` of the fleet appears in the inventory's output."""
    h = fleet.hosts[i]
    entry: dict[str, Any] = {"address": h.address, "port": h.port, "roles": ["web"], "deploy_to": h.deploy_to}
    (folder / "hosts.json").write_text(json.dumps([entry]))


def current_of(fleet: SshdFleet, i: int) -> str | None:
    link = fleet.hosts[i].local_deploy_to / "current"
    return os.readlink(link) if link.is_symlink() else None


async def deployed(s: Stack) -> None:
    await s.say("alice", "deploy main to staging")
    await s.bot_message(lambda m: ":large_green_circle:" in str(m.blocks) and "Deploy" in m.text)


@pytest.mark.skipif(os.geteuid() != 0, reason="hosts sharing one deploy_to need root (mount namespaces)")
async def test_a_host_joining_the_srv_records_is_behind_in_status_and_converge_catches_it_up(
    tmp_path: Path, stack: StackFactory, dnsmasq: Dnsmasq
) -> None:
    dnsmasq.start([])
    srv = {"hosts": [], "discover": [{"dns_srv": SRV, "roles": ["web"], "nameservers": [dnsmasq.nameserver]}]}
    options = {"addresses": "loopback", "mount_at": str(tmp_path / "srv" / "shop")}
    s = await stack(hosts=2, staging=srv, fleet_options=options)
    dnsmasq.restart(records(s.fleet, 1))
    await deployed(s)
    assert current_of(s.fleet, 1) is None
    dnsmasq.restart(records(s.fleet, 2))

    await s.say("alice", "status staging")
    status = await s.bot_message(lambda m: "behind the live release" in str(m.blocks))
    text = str(status.blocks)
    assert f"_dns_srv:{SRV}_" in text and text.count("*behind*") == 1
    assert "converge staging" in text

    await s.say("alice", "converge staging")
    done = await s.bot_message(lambda m: ":large_green_circle:" in str(m.blocks) and "Converge" in m.text)
    h2 = s.fleet.hosts[1]
    assert f"converge: {h2.address}:{h2.port} behind the live release" in str(done.blocks)
    assert current_of(s.fleet, 1) == current_of(s.fleet, 0) is not None

    await s.say("alice", "status staging")
    await s.bot_message(lambda m: ":white_check_mark: consistent" in str(m.blocks))

    await s.say("alice", "converge staging")
    nothing = await s.bot_message(lambda m: ":information_source:" in str(m.blocks))
    assert "already runs the live release" in str(nothing.blocks)


async def test_converge_is_refused_where_a_deploy_would_be(tmp_path: Path, stack: StackFactory) -> None:
    write_inventory(tmp_path)
    s = await stack(hosts=2, staging=INVENTORY)
    await s.say("bob", "lock staging for a migration")
    await s.bot_message(lambda m: "locked" in str(m.blocks).lower())

    await s.say("alice", "converge staging")
    refusal = await s.emu.wait_for(lambda m: m.ephemeral_to == "U0ALICE" and "lock" in str(m.blocks).lower())
    assert "locked by bob" in str(refusal.blocks) and "Ask bob to" in str(refusal.blocks)


async def test_converge_auto_catches_up_a_joining_host_and_reports_in_the_notify_channel(
    tmp_path: Path, stack: StackFactory
) -> None:
    write_inventory(tmp_path)
    auto = {**INVENTORY, "converge": "auto", "converge_interval": "0.5s", "notify": ["C0DEPLOY", "C0GENERAL"]}
    s = await stack(hosts=2, staging=auto)
    await deployed(s)

    join(tmp_path, s.fleet, 1)

    done = await s.bot_message(lambda m: ":large_green_circle:" in str(m.blocks) and "Converge" in m.text, 60)
    assert done.channel == "C0DEPLOY"
    told = await s.bot_message(lambda m: m.channel == "C0GENERAL" and "shipbot converges" in str(m.blocks))
    h2 = s.fleet.hosts[1]
    assert f"{h2.address}:{h2.port} behind the live release" in str(told.blocks)
    assert "<#C0DEPLOY>" in str(told.blocks)
    assert current_of(s.fleet, 1) == current_of(s.fleet, 0) is not None
