"""The promotion order on the command line, against real sshd hosts and a real git repository: production takes
only what passed staging (exit 2, nothing recorded, hosts untouched), ``--force`` goes past it (recorded and
announced), rollbacks are not subject to it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from deploy.store.tables import Store
from tests.engine.conftest import PIPELINE
from tests.engine.test_cli import shipbot
from tests.support.gitrepo import GitRepo
from tests.support.snapshots import host_trees, store_tables
from tests.support.sshd_fleet import FleetFactory, SshdFleet

pytestmark = pytest.mark.sshd


def write_promoting_config(tmp_path: Path, fleet: SshdFleet, repo: GitRepo | str) -> Path:
    """staging on host 0, production on host 1 with ``promote_from: staging``."""
    path = repo.path if isinstance(repo, GitRepo) else repo
    data = fleet.config_yaml(repo=path, environments={"staging": [0], "production": [1]}, pipeline=PIPELINE)
    data["environments"]["production"]["promote_from"] = "staging"
    config = tmp_path / "shipbot.yml"
    config.write_text(yaml.safe_dump(data))
    return config


def version(fleet: SshdFleet, i: int) -> str | None:
    current = fleet.hosts[i].local_deploy_to / "current" / "VERSION"
    return current.read_text().strip() if current.exists() else None


async def test_production_takes_only_what_passed_staging(
    tmp_path: Path, sshd_fleet: FleetFactory, app_repo: GitRepo
) -> None:
    fleet = await sshd_fleet(2)
    write_promoting_config(tmp_path, fleet, app_repo)
    main = app_repo.sha("main")
    Store.in_data_dir(tmp_path / "data").close()
    before = (host_trees(fleet), store_tables(tmp_path / "data"))

    refused = shipbot("deploy", "production", "main", cwd=tmp_path)

    assert 2 == refused.returncode
    assert (
        f"shipbot: production only takes commits that passed staging: {main[:7]} has never been deployed "
        "successfully to staging (it is on: nowhere). Deploy it to staging first, or pass --force (recorded).\n"
    ) == refused.stderr
    assert (host_trees(fleet), store_tables(tmp_path / "data")) == before, "no run slot, no history, no host touched"
    assert [] == json.loads(shipbot("history", "production", "--json", cwd=tmp_path).stdout)

    assert 0 == shipbot("deploy", "staging", "main", cwd=tmp_path).returncode
    accepted = shipbot("deploy", "production", "main", cwd=tmp_path)
    assert 0 == accepted.returncode, accepted.stderr
    assert "v1" == version(fleet, 1)

    newer = shipbot("deploy", "production", "feature/new-login", cwd=tmp_path)
    assert 2 == newer.returncode
    assert "(it is on: nowhere)" in newer.stderr
    assert "v1" == version(fleet, 1)


async def test_force_goes_past_the_order_recorded_and_announced_and_rollbacks_are_free(
    tmp_path: Path, sshd_fleet: FleetFactory, app_repo: GitRepo
) -> None:
    fleet = await sshd_fleet(2)
    write_promoting_config(tmp_path, fleet, app_repo)
    assert 0 == shipbot("deploy", "staging", "main", cwd=tmp_path).returncode
    assert 0 == shipbot("deploy", "production", "main", cwd=tmp_path).returncode
    login = app_repo.sha("feature/new-login")

    forced = shipbot("deploy", "production", "feature/new-login", "--force", "--user", "ops-anna", cwd=tmp_path)

    assert 0 == forced.returncode, forced.stderr
    assert (
        f"FORCED: forced past the promotion order by ops-anna: production only takes commits that passed staging: "
        f"{login[:7]} has never been deployed successfully to staging (it is on: nowhere)"
    ) in forced.stderr
    assert "v2" == version(fleet, 1)
    store = Store.in_data_dir(tmp_path / "data")
    audit = [(actor, action, env, json.loads(detail)) for _, actor, action, env, detail in store.audit()]
    assert [("ops-anna", "force promotion", "production")] == [a[:3] for a in audit]
    assert (login, "staging", []) == (audit[0][3]["sha"], audit[0][3]["promote_from"], audit[0][3]["on"])
    history = json.loads(shipbot("history", "production", "--json", cwd=tmp_path).stdout)
    assert [(True, "ops-anna"), (False, "")] == [(r["forced"], r["user"] if r["forced"] else "") for r in history]

    back = shipbot("rollback", "production", cwd=tmp_path)
    assert 0 == back.returncode, back.stderr
    assert "v1" == version(fleet, 1)
