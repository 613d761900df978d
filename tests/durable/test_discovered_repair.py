"""A run on hosts an inventory command found, whose shipbot is killed mid-build, is repaired on the hosts that run
covered (recorded with it), not refused as hosts "no longer in the config"."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from tests.durable.conftest import SHIPBOT, SLEEP, TTL, leftovers, wait_for
from tests.support.gitrepo import make_app_repo
from tests.support.sshd_fleet import SshdFleet, sshd_unavailable_reason

pytestmark = pytest.mark.sshd


def test_a_dead_run_on_discovered_hosts_is_repaired_on_those_hosts(tmp_path: Path) -> None:
    reason = sshd_unavailable_reason()
    if reason is not None:
        pytest.skip(reason)
    fleet = SshdFleet(tmp_path / "fleet", 2).start()
    try:
        repo = make_app_repo(tmp_path / "repo")
        slow = f"if [ -e ../../SLOW_BUILD ]; then touch ../../IN_BUILD; {SLEEP}; fi"
        config = fleet.config_yaml(repo=repo.path, pipeline={"build": [f"./build.sh && {slow}"]})
        found = config["environments"]["staging"]["hosts"]
        config["environments"]["staging"] = {"discover": [{"command": "./inventory.sh"}]}
        work = tmp_path / "work"
        work.mkdir()
        (work / "shipbot.yml").write_text(yaml.safe_dump(config))
        (work / "hosts.json").write_text(json.dumps(found))
        inventory = work / "inventory.sh"
        inventory.write_text("#!/bin/sh\ncat hosts.json\n")
        inventory.chmod(inventory.stat().st_mode | stat.S_IXUSR)
        env = {**os.environ, "SHIPBOT_DATA_DIR": str(work / "data"), "SHIPBOT_LEASE_TTL": str(TTL)}
        first = subprocess.run([SHIPBOT, "deploy", "staging", "main"], cwd=work, env=env, capture_output=True,
                               text=True, timeout=120)  # fmt: skip
        assert first.returncode == 0, first.stderr
        live = os.readlink(fleet.hosts[0].local_deploy_to / "current")
        disk = fleet.hosts[1].local_deploy_to
        (disk / "SLOW_BUILD").touch()

        proc = subprocess.Popen([SHIPBOT, "deploy", "staging", "feature/new-login"], cwd=work, env=env, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
        wait_for((disk / "IN_BUILD").exists, what="the build on host 2")
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=30)
        (disk / "SLOW_BUILD").unlink()
        time.sleep(TTL + 0.5)

        done = subprocess.run([SHIPBOT, "recover", "staging"], cwd=work, env=env, capture_output=True, text=True,
                              timeout=120)  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
        assert "no longer in the config" not in done.stdout
        assert not leftovers(), "the build the dead run left is killed"
        assert "stopped 1 leftover process group(s), removed release" in done.stdout
        assert [os.readlink(h.local_deploy_to / "current") for h in fleet.hosts] == [live, live]
    finally:
        fleet.stop()
