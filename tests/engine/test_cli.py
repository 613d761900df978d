"""The ``shipbot`` command line as scripts use it: exit codes, ``--json`` shapes, messages on stderr."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from deploy.store.tables import Store
from tests.engine.conftest import PIPELINE
from tests.support.gitrepo import GitRepo
from tests.support.sshd_fleet import FleetFactory, SshdFleet

pytestmark = pytest.mark.sshd
SHIPBOT = str(Path(sys.executable).with_name("shipbot"))


def shipbot(*args: str, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SHIPBOT_DATA_DIR": str(cwd / "data")}
    return subprocess.run([SHIPBOT, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


async def write_config(tmp_path: Path, fleet: SshdFleet, repo: GitRepo, **keys: Any) -> Path:
    keys.setdefault("pipeline", PIPELINE)
    data = fleet.config_yaml(repo=repo.path, **keys)
    path = tmp_path / "shipbot.yml"
    path.write_text(yaml.safe_dump(data))
    return path


async def test_deploy_status_history_and_rollback_from_the_command_line(
    tmp_path: Path, sshd_fleet: FleetFactory, app_repo: GitRepo
) -> None:
    fleet = await sshd_fleet(2)
    await write_config(tmp_path, fleet, app_repo)

    first = shipbot("deploy", "staging", "main", cwd=tmp_path)
    assert 0 == first.returncode, first.stderr
    assert "DONE" in first.stderr
    assert 0 == shipbot("deploy", "staging", "feature/new-login", cwd=tmp_path).returncode

    status = shipbot("status", "staging", "--json", cwd=tmp_path)
    shown = json.loads(status.stdout)
    assert ["consistent", "environment", "hosts"] == sorted(shown)
    assert (True, "staging") == (shown["consistent"], shown["environment"])
    assert [{"address", "name", "release", "sha", "reachable", "source", "behind", "releases"}] * 2 == [
        set(h) for h in shown["hosts"]
    ]
    assert [["release", "sha", "history", "user", "rollback_target"]] * 2 == [
        list(h["releases"][0]) for h in shown["hosts"]
    ]
    assert {app_repo.sha("feature/new-login")} == {h["sha"] for h in shown["hosts"]}

    assert 0 == shipbot("rollback", "staging", cwd=tmp_path).returncode
    shown = json.loads(shipbot("status", "staging", "--json", cwd=tmp_path).stdout)
    assert {app_repo.sha("main")} == {h["sha"] for h in shown["hosts"]}

    history = json.loads(shipbot("history", "staging", "--json", cwd=tmp_path).stdout)
    assert [("rollback", "success"), ("deploy", "success"), ("deploy", "success")] == [
        (r["kind"], r["state"]) for r in history
    ]


async def test_exit_codes_say_failed_bad_usage_and_locked(
    tmp_path: Path, sshd_fleet: FleetFactory, app_repo: GitRepo
) -> None:
    fleet = await sshd_fleet(1)
    await write_config(tmp_path, fleet, app_repo)

    failed = shipbot("deploy", "staging", "broken-health", cwd=tmp_path)
    assert 1 == failed.returncode
    assert "healthcheck failed" in failed.stderr

    unknown = shipbot("deploy", "stagin", cwd=tmp_path)
    assert (2, "shipbot: unknown environment 'stagin' for shop; configured: staging\n") == (
        unknown.returncode,
        unknown.stderr,
    )
    bad_ref = shipbot("deploy", "staging", "main;rm -rf /", cwd=tmp_path)
    assert 2 == bad_ref.returncode and "not a valid ref" in bad_ref.stderr

    Store.in_data_dir(tmp_path / "data").lock("shop", "staging", "U0CAROL", "load test")
    locked = shipbot("deploy", "staging", "main", cwd=tmp_path)
    assert 3 == locked.returncode
    assert "staging is locked by U0CAROL" in locked.stderr and "load test" in locked.stderr


def test_a_bad_config_names_the_file_the_key_and_the_expectation(tmp_path: Path) -> None:
    (tmp_path / "shipbot.yml").write_text(
        "app: shop\nrepo: /x\ndeploy_to: /srv/shop\nssh: {connect_concurency: 5}\n"
        "environments:\n  staging:\n    hosts:\n      - {address: web1, port: 70000}\n"
    )
    result = shipbot("check", cwd=tmp_path)
    assert 2 == result.returncode
    assert [
        "shipbot: shipbot.yml: invalid config",
        "  - ssh.connect_concurency: unknown key; the README's config reference lists the keys allowed here (got 5)",
        "  - environments.staging.hosts[0].port: Input should be less than or equal to 65535 (got 70000)",
    ] == result.stderr.splitlines()


async def test_check_connect_reaches_every_host_and_names_the_one_that_is_down(
    tmp_path: Path, sshd_fleet: FleetFactory, app_repo: GitRepo
) -> None:
    fleet = await sshd_fleet(2)
    await write_config(tmp_path, fleet, app_repo)
    fleet.stop_host(1)

    result = shipbot("check", "--connect", cwd=tmp_path)

    assert 1 == result.returncode
    assert f"staging 127.0.0.1:{fleet.hosts[1].port}: UNREACHABLE" in result.stdout
    assert f"staging 127.0.0.1:{fleet.hosts[0].port}: reachable" in result.stdout


async def test_parse_prints_how_a_message_is_read_and_whether_it_is_allowed(
    tmp_path: Path, sshd_fleet: FleetFactory, app_repo: GitRepo
) -> None:
    fleet = await sshd_fleet(1)
    access = {"admins": ["U0ADMIN"], "environments": {"staging": {"deploy": ["U0ALICE"]}}}
    await write_config(tmp_path, fleet, app_repo, access=access)

    ok = shipbot("parse", "deploy feature/x to stg", "--user", "U0ALICE", "--json", cwd=tmp_path)
    refused = shipbot("parse", "deploy feature/x to stg", "--user", "U0BOB", "--json", cwd=tmp_path)
    typo = shipbot("parse", "deploy main to stagin", "--json", cwd=tmp_path)

    read = json.loads(ok.stdout)
    assert {"command": "deploy", "app": "shop", "ref": "feature/x", "environment": "staging", "target": None,
            "force": False, "allowed": True} == {k: v for k, v in read.items() if k != "reason"}  # fmt: skip
    assert False is json.loads(refused.stdout)["allowed"]
    assert {"error", "hint"} == set(json.loads(typo.stdout))
    assert "staging" in json.loads(typo.stdout)["hint"] + json.loads(typo.stdout)["error"]


async def test_a_jump_host_carries_the_connections(tmp_path: Path, sshd_fleet: FleetFactory, app_repo: GitRepo) -> None:
    fleet = await sshd_fleet(3)
    jump = fleet.hosts[0]
    data = fleet.config_yaml(repo=app_repo.path, environments={"staging": [1, 2]}, pipeline=PIPELINE)
    data["ssh"]["jump_host"] = f"{fleet.user}@{jump.address}:{jump.port}"
    (tmp_path / "shipbot.yml").write_text(yaml.safe_dump(data))

    assert 0 == shipbot("deploy", "staging", "main", cwd=tmp_path).returncode
    fleet.stop_host(0)
    without = shipbot("deploy", "staging", "main", cwd=tmp_path)
    assert 1 == without.returncode
    assert "jump host" in without.stderr
