"""``shipbot flags`` and ``shipbot flag`` as an operator uses them, on real sshd hosts: exit codes, the promotion
order, freezes and the kill switch, a host that was down named and caught up, a host added and converged."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from deploy.store.database import Database
from tests.engine.conftest import PIPELINE
from tests.flags.support import evaluate, validator
from tests.support.gitrepo import GitRepo
from tests.support.sshd_fleet import FleetFactory, SshdFleet

pytestmark = pytest.mark.sshd
SHIPBOT = str(Path(sys.executable).with_name("shipbot"))


def shipbot(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SHIPBOT_DATA_DIR": str(cwd / "data"), "USER": "operator"}
    return subprocess.run([SHIPBOT, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def write_config(tmp_path: Path, fleet: SshdFleet, repo: GitRepo, **keys: Any) -> None:
    data = fleet.config_yaml(repo=repo.path, pipeline=PIPELINE, **keys)
    data["environments"].get("production", {})["promote_from"] = "staging"
    (tmp_path / "shipbot.yml").write_text(yaml.safe_dump(data))


def flag_file(fleet: SshdFleet, i: int) -> Path:
    return fleet.hosts[i].local_deploy_to / "shared" / "flags.json"


def audit(tmp_path: Path) -> list[tuple[str, str, str]]:
    db = Database(f"sqlite:///{tmp_path / 'data' / 'shipbot.sqlite3'}")
    try:
        rows = db.execute("SELECT action, environment, detail FROM audit ORDER BY at").fetchall()
    finally:
        db.close()
    return [(str(a), str(e), str(d)) for a, e, d in rows]


async def test_a_flag_goes_no_further_in_production_than_it_went_in_staging(
    tmp_path: Path, sshd_fleet: FleetFactory, app_repo: GitRepo
) -> None:
    fleet = await sshd_fleet(2)
    write_config(tmp_path, fleet, app_repo, environments={"staging": [0], "production": [1]})

    never = shipbot("flag", "on", "new-checkout", "production", cwd=tmp_path)
    assert (never.returncode, never.stdout) == (2, "")
    assert "new-checkout cannot go to on in production: it was never turned on there" in never.stderr

    ramp = shipbot("flag", "new-checkout", "10%", "staging", "--json", cwd=tmp_path)
    assert ramp.returncode == 0, ramp.stderr
    shown = json.loads(ramp.stdout)
    assert (shown["before"], shown["after"]["percent"], shown["behind"]) == (None, "10%", [])
    assert list(validator().iter_errors(json.loads(flag_file(fleet, 0).read_text()))) == []

    further = shipbot("flag", "new-checkout", "20", "production", cwd=tmp_path)
    assert further.returncode == 2
    assert "it went no further than 10% there" in further.stderr
    assert shipbot("flag", "new-checkout", "10", "production", cwd=tmp_path).returncode == 0
    forced = shipbot("flag", "on", "new-checkout", "production", "--force", "--reason", "launch", cwd=tmp_path)
    assert forced.returncode == 0, forced.stderr
    assert evaluate(flag_file(fleet, 1), "new-checkout", ["anyone"]) == [True]
    assert ("override flag", "production") in [(a, e) for a, e, _ in audit(tmp_path)]

    listed = json.loads(shipbot("flags", "production", "--json", cwd=tmp_path).stdout)
    assert (listed["hosts_current"], listed["hosts_total"], listed["version"]) == (1, 1, 2)
    assert [(f["name"], f["state"], f["changed_by"]) for f in listed["flags"]] == [("new-checkout", "on", "operator")]

    typo = shipbot("flag", "off", "new-chekout", "production", cwd=tmp_path)
    assert typo.returncode == 2
    assert "did you mean `new-checkout`?" in typo.stderr
    bad = shipbot("flag", "new-checkout", "100.5", "staging", cwd=tmp_path)
    assert (bad.returncode, "not a percentage from 0 to 100" in bad.stderr) == (2, True)
    reserved = shipbot("flag", "on", "drop", "staging", cwd=tmp_path)
    assert (reserved.returncode, "reserved word" in reserved.stderr) == (2, True)

    history = shipbot("flag", "history", "new-checkout", "--json", cwd=tmp_path)
    changes = json.loads(history.stdout)["changes"]
    assert [(c["environment"], c["action"], c["forced"], c["reason"]) for c in changes] == [
        ("production", "on", True, "launch"), ("production", "ramp", False, ""), ("staging", "ramp", False, "")
    ]  # fmt: skip


async def test_a_freeze_refuses_raising_a_flag_but_never_the_kill_switch(
    tmp_path: Path, sshd_fleet: FleetFactory, app_repo: GitRepo
) -> None:
    fleet = await sshd_fleet(1)
    freeze = {"environments": ["staging"], "cron": "* * * * *", "reason": "release week"}
    write_config(tmp_path, fleet, app_repo, access={"admins": ["U0ADMIN"], "freeze": [freeze]})
    # a flag turned on before the freeze (forced here, as an operator may)
    assert shipbot("flag", "on", "new-checkout", "staging", "--force", cwd=tmp_path).returncode == 0

    refused = shipbot("flag", "on", "new-login", "staging", cwd=tmp_path)
    assert refused.returncode == 2
    assert "staging is frozen: release week" in refused.stderr
    off = shipbot("flag", "off", "new-checkout", "staging", "--reason", "errors up", cwd=tmp_path)
    assert off.returncode == 0, off.stderr
    assert evaluate(flag_file(fleet, 0), "new-checkout", ["U1"]) == [False]
    assert ("flag off", "staging", "new-checkout: on -> off") in audit(tmp_path)


async def test_a_host_that_was_down_is_named_and_a_host_added_and_converged_gets_the_file(
    tmp_path: Path, sshd_fleet: FleetFactory, app_repo: GitRepo
) -> None:
    fleet = await sshd_fleet(3)
    write_config(tmp_path, fleet, app_repo, environments={"staging": [0, 1]})
    assert shipbot("deploy", "staging", "main", cwd=tmp_path).returncode == 0
    fleet.stop_host(1)
    behind = shipbot("flag", "on", "new-checkout", "staging", cwd=tmp_path)
    assert behind.returncode == 1
    assert f"behind: {fleet.hosts[1].address}:{fleet.hosts[1].port}" in behind.stderr
    fleet.start_host(1)
    assert json.loads(shipbot("flags", "staging", "--json", cwd=tmp_path).stdout)["hosts_current"] == 1
    status = shipbot("status", "staging", cwd=tmp_path).stdout.splitlines()
    assert [("FLAGS BEHIND" in line) for line in status if "127.0.0.1:" in line] == [False, True]

    write_config(tmp_path, fleet, app_repo, environments={"staging": [0, 1, 2]})  # a host added by hand
    converged = shipbot("converge", "staging", cwd=tmp_path)
    assert converged.returncode == 0, converged.stderr
    listed = json.loads(shipbot("flags", "staging", "--json", cwd=tmp_path).stdout)
    assert (listed["hosts_current"], listed["hosts_total"]) == (3, 3)
    assert [evaluate(flag_file(fleet, i), "new-checkout", ["U1"]) for i in range(3)] == [[True]] * 3
    assert "FLAGS BEHIND" not in shipbot("status", "staging", cwd=tmp_path).stdout
