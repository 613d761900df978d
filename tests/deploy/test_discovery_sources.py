"""``discover:`` against a real DNS server (dnsmasq on loopback) and real inventory commands: the hosts found, and
every way a source can fail, each one message naming the source; on the command line the run does not start
and shipbot exits 2."""

from __future__ import annotations

import socket
import stat
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from cli.main import main
from deploy.config.models import Config, load_config
from deploy.errors import DiscoveryError
from deploy.fleet.discovery import discover
from deploy.run.plan import environment_hosts
from deploy.store.tables import Store
from tests.support.dnsmasq import Dnsmasq

SRV = "_web._tcp.shop.test"
RECORDS = [
    f"srv-host={SRV},web1.shop.test,2201",
    f"srv-host={SRV},web2.shop.test,2202",
    "host-record=web1.shop.test,127.0.1.1",
    "host-record=web2.shop.test,127.0.1.2",
    "srv-host=_ghost._tcp.shop.test,ghost.shop.test,22",
]


def write_config(folder: Path, discover: list[dict[str, Any]], hosts: list[dict[str, Any]] | None = None) -> Path:
    env: dict[str, Any] = {"discover": discover}
    if hosts:
        env["hosts"] = hosts
    data = {"app": "shop", "repo": "/nowhere.git", "deploy_to": "/srv/shop", "environments": {"staging": env}}
    path = folder / "shipbot.yml"
    path.write_text(yaml.safe_dump(data))
    return path


def script(folder: Path, name: str, body: str) -> Path:
    path = folder / name
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


async def hosts_of(config: Config, folder: Path) -> list[tuple[str, int, tuple[str, ...], str]]:
    found = await discover(config, "staging", folder)
    return [(h.address, h.port, h.roles, h.source) for h in environment_hosts(found, "staging")]


@pytest.fixture
def silent_nameserver() -> Iterator[str]:
    """A UDP port that takes DNS queries and never answers."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        yield f"127.0.0.1:{s.getsockname()[1]}"


async def test_srv_inventory_and_static_hosts_merge_with_roles_united(tmp_path: Path, dnsmasq: Dnsmasq) -> None:
    dnsmasq.start(RECORDS)
    script(
        tmp_path,
        "inventory.sh",
        """echo '[{"address": "127.0.1.2", "port": 2202, "roles": ["worker"]},
 {"address": "127.0.1.9", "roles": ["db"]}]'""",
    )
    config = load_config(write_config(
        tmp_path,
        [{"dns_srv": SRV, "roles": ["web"], "nameservers": [dnsmasq.nameserver]}, {"command": "./inventory.sh"}],
        hosts=[{"address": "127.0.1.1", "port": 2201, "roles": ["migrate"]}],
    ))  # fmt: skip

    assert await hosts_of(config, tmp_path) == [
        ("127.0.1.1", 2201, ("migrate", "web"), f"static, dns_srv:{SRV}"),
        ("127.0.1.2", 2202, ("web", "worker"), f"dns_srv:{SRV}, command:./inventory.sh"),
        ("127.0.1.9", 22, ("db",), "command:./inventory.sh"),
    ]


async def test_an_inventory_command_runs_in_the_config_folder_without_a_shell(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "conf"
    folder.mkdir()
    script(
        folder, "inv.sh", 'test "$1" = \'$(touch pwned)\' || exit 9\necho "[{\\"address\\": \\"$(basename "$PWD")\\"}]"'
    )
    config = load_config(write_config(folder, [{"command": "./inv.sh '$(touch pwned)'"}]))
    monkeypatch.chdir(tmp_path)  # elsewhere: the command still runs relative to the config file

    assert await hosts_of(config, folder) == [("conf", 22, (), "command:./inv.sh '$(touch pwned)'")]
    assert not (folder / "pwned").exists() and not (tmp_path / "pwned").exists()


@pytest.mark.parametrize(
    ("body", "timeout", "message"),
    [
        ("echo 'no inventory today' >&2; exit 3", "10s",
         "command:./inv.sh: it exited with status 3: no inventory today"),
        ("exec sleep 30", "0.3s", "command:./inv.sh: it did not finish within 0.3s (timeout), so it was killed"),
        ("echo 'web1, web2'", "10s", "command:./inv.sh: its output is not JSON"),
        ("echo '{\"hosts\": []}'", "10s", "command:./inv.sh: its output is JSON but not a list"),
        ("echo '[]'", "10s", "found no hosts for shop staging (discover: command:./inv.sh)"),
    ],
)  # fmt: skip
async def test_an_inventory_command_that_fails_is_slow_or_prints_something_else_is_one_message(
    tmp_path: Path, body: str, timeout: str, message: str
) -> None:
    script(tmp_path, "inv.sh", body)
    config = load_config(write_config(tmp_path, [{"command": "./inv.sh", "timeout": timeout}]))

    began = time.monotonic()
    with pytest.raises(DiscoveryError) as err:
        await discover(config, "staging", tmp_path)
    assert str(err.value).startswith(message)
    assert time.monotonic() - began < 5


async def test_a_missing_inventory_command_is_named(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path, [{"command": "./missing.sh"}]))
    with pytest.raises(DiscoveryError, match=r"^command:./missing.sh: cannot run it from .*No such file"):
        await discover(config, "staging", tmp_path)


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("_nothing._tcp.shop.test", "dns_srv:_nothing._tcp.shop.test: the name does not exist in DNS"),
        ("_ghost._tcp.shop.test",
         "dns_srv:_ghost._tcp.shop.test: the SRV answer points at ghost.shop.test, which has no address"),
    ],
)  # fmt: skip
async def test_a_name_that_does_not_resolve_or_points_nowhere_is_one_message(
    tmp_path: Path, dnsmasq: Dnsmasq, name: str, message: str
) -> None:
    dnsmasq.start(RECORDS)
    config = load_config(write_config(tmp_path, [{"dns_srv": name, "nameservers": [dnsmasq.nameserver]}]))
    with pytest.raises(DiscoveryError) as err:
        await discover(config, "staging")
    assert str(err.value).startswith(message)


async def test_a_nameserver_that_does_not_answer_times_out_naming_it(tmp_path: Path, silent_nameserver: str) -> None:
    config = load_config(
        write_config(tmp_path, [{"dns_srv": SRV, "nameservers": [silent_nameserver], "timeout": "0.5s"}])
    )
    began = time.monotonic()
    with pytest.raises(DiscoveryError) as err:
        await discover(config, "staging")
    assert str(err.value).startswith(
        f"dns_srv:{SRV}: no nameserver answered within 0.5s (nameservers {silent_nameserver})"
    )
    assert time.monotonic() - began < 3


def test_on_the_command_line_a_failing_source_exits_2_and_no_run_starts(
    tmp_path: Path, silent_nameserver: str, capsys: pytest.CaptureFixture[str]
) -> None:
    script(tmp_path, "inv.sh", "echo '[]'")
    zero = write_config(tmp_path, [{"command": "./inv.sh"}])
    data = tmp_path / "data"

    assert main(["deploy", "staging", "main", "--config", str(zero), "--data-dir", str(data)]) == 2
    assert "shipbot: found no hosts for shop staging" in capsys.readouterr().err
    assert main(["status", "staging", "--config", str(zero), "--data-dir", str(data)]) == 2
    assert main(["check", "--config", str(zero), "--data-dir", str(data)]) == 2

    silent = write_config(tmp_path, [{"dns_srv": SRV, "nameservers": [silent_nameserver], "timeout": "0.3s"}])
    assert main(["rollback", "staging", "--config", str(silent), "--data-dir", str(data)]) == 2
    assert f"shipbot: dns_srv:{SRV}: no nameserver answered" in capsys.readouterr().err
    assert main(["converge", "staging", "--config", str(silent), "--data-dir", str(data)]) == 2
    assert Store.in_data_dir(data).list_runs("shop") == []


def test_check_lists_each_discovered_host_with_its_source(
    tmp_path: Path, dnsmasq: Dnsmasq, capsys: pytest.CaptureFixture[str]
) -> None:
    dnsmasq.start(RECORDS)
    path = write_config(tmp_path, [{"dns_srv": SRV, "roles": ["web"], "nameservers": [dnsmasq.nameserver]}])

    assert main(["check", "--config", str(path), "--data-dir", str(tmp_path / "data")]) == 0
    out = capsys.readouterr().out
    assert f"staging 127.0.1.1:2201: web [dns_srv:{SRV}]" in out
    assert f"staging 127.0.1.2:2202: web [dns_srv:{SRV}]" in out
