"""``shipbot deploy --dry-run [--json]`` against real sshd hosts and a real git repository: the plan, what would
ship and what each host runs now, with nothing changed on any host or in the store."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.engine.test_cli import shipbot, write_config
from tests.engine.test_promotion import write_promoting_config
from tests.support.gitrepo import GitRepo
from tests.support.snapshots import host_trees, store_tables
from tests.support.sshd_fleet import FleetFactory, SshdFleet

pytestmark = pytest.mark.sshd


def snapshot(fleet: SshdFleet, tmp_path: Path) -> object:
    return host_trees(fleet), store_tables(tmp_path / "data")


def live_release(fleet: SshdFleet, i: int) -> str:
    return os.readlink(fleet.hosts[i].local_deploy_to / "current").rsplit("/", 1)[-1]


async def test_dry_runs_print_the_plan_and_change_nothing(
    tmp_path: Path, sshd_fleet: FleetFactory, app_repo: GitRepo
) -> None:
    fleet = await sshd_fleet(2)
    write_promoting_config(tmp_path, fleet, app_repo)
    main, login = app_repo.sha("main"), app_repo.sha("feature/new-login")
    assert 0 == shipbot("deploy", "staging", "main", cwd=tmp_path).returncode
    before = snapshot(fleet, tmp_path)

    text = shipbot("deploy", "staging", "feature/new-login", "--dry-run", cwd=tmp_path)
    as_json = shipbot("deploy", "staging", "feature/new-login", "--dry-run", "--json", cwd=tmp_path)
    refused = shipbot("deploy", "production", "feature/new-login", "--dry-run", "--json", cwd=tmp_path)
    refused_text = shipbot("deploy", "production", "feature/new-login", "--dry-run", cwd=tmp_path)

    assert snapshot(fleet, tmp_path) == before, "a dry run changed a host or the store"
    assert 0 == text.returncode, text.stderr
    out = text.stdout
    assert f"DRY RUN: deploy shop feature/new-login ({login[:12]}) to staging" in out
    assert f"live: {main[:12]}; 1 commit would ship" in out
    assert f"{login[:7]} new login page (Ada Dev)" in out
    assert f"replaces {live_release(fleet, 0)}" in out
    for step in ("upload", "build", "switch", "restart", "healthcheck"):
        assert f"    {step}: " in out
    assert "./build.sh" in out and "./health.sh" in out

    assert 0 == as_json.returncode, as_json.stderr
    plan = json.loads(as_json.stdout)
    assert ["environment", "ref", "sha", "live_sha", "commits", "refused", "hosts"] == list(plan)
    assert ("staging", "feature/new-login", login, main, None) == (
        plan["environment"], plan["ref"], plan["sha"], plan["live_sha"], plan["refused"],
    )  # fmt: skip
    assert [login] == [c["sha"] for c in plan["commits"]]
    assert "new login page" == plan["commits"][0]["subject"]
    (host,) = plan["hosts"]
    assert (f"127.0.0.1:{fleet.hosts[0].port}", live_release(fleet, 0)) == (host["address"], host["replaces"])
    assert host["release"] > host["replaces"]
    assert ["upload", "build", "switch", "restart", "healthcheck"] == [s["name"] for s in host["steps"]]
    assert all(set(s) == {"name", "command"} and s["command"] for s in host["steps"])

    assert 2 == refused.returncode
    shown = json.loads(refused.stdout)
    assert shown["refused"] == (
        f"production only takes commits that passed staging: {login[:7]} has never been deployed successfully to "
        "staging (it is on: nowhere)"
    )
    assert (None, None) == (shown["live_sha"], shown["hosts"][0]["replaces"])
    assert 2 == refused_text.returncode and "REFUSED: production only takes commits that passed staging" in (
        refused_text.stdout
    )


async def test_a_dry_run_warns_when_the_commit_is_older_than_what_is_live(
    tmp_path: Path, sshd_fleet: FleetFactory, app_repo: GitRepo
) -> None:
    fleet = await sshd_fleet(1)
    await write_config(tmp_path, fleet, app_repo)
    assert 0 == shipbot("deploy", "staging", "feature/new-login", cwd=tmp_path).returncode
    before = snapshot(fleet, tmp_path)

    older = shipbot("deploy", "staging", "v1.0.0", "--dry-run", cwd=tmp_path)

    assert snapshot(fleet, tmp_path) == before
    assert 0 == older.returncode, older.stderr
    v1, live = app_repo.sha("v1.0.0"), app_repo.sha("feature/new-login")
    assert (
        f"WARNING: {v1[:7]} is older than what is live ({live[:7]}): this deploy goes back in history"
    ) in older.stdout
    assert "0 commits would ship" in older.stdout


async def test_the_json_flag_needs_a_dry_run(tmp_path: Path, sshd_fleet: FleetFactory, app_repo: GitRepo) -> None:
    fleet = await sshd_fleet(1)
    await write_config(tmp_path, fleet, app_repo)
    result = shipbot("deploy", "staging", "main", "--json", cwd=tmp_path)
    assert (2, "shipbot: --json goes with --dry-run: a deploy reports its progress on stderr\n") == (
        result.returncode,
        result.stderr,
    )
    assert not (fleet.hosts[0].local_deploy_to / "current").exists()
