"""``shipbot history`` and ``shipbot status`` read and never write: with no store yet they say where they looked,
exit 0 and create nothing; ``status`` names hosts by their config name (``--json``: ``hosts[].name``), and
``--hosts stg-2`` targets a host by that name."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
import yaml

from cli.main import main
from tests.engine.conftest import PIPELINE
from tests.support.gitrepo import GitRepo
from tests.support.sshd_fleet import FleetFactory

pytestmark = pytest.mark.sshd


async def cli(*argv: str) -> int:
    return await asyncio.to_thread(main, list(argv))


async def named_config(tmp_path: Path, sshd_fleet: FleetFactory, app_repo: GitRepo) -> Path:
    fleet = await sshd_fleet(2)
    data = fleet.config_yaml(repo=app_repo.path, pipeline=PIPELINE, shared={"dirs": ["log"]})
    for i, host in enumerate(data["environments"]["staging"]["hosts"], 1):
        host["name"] = f"stg-{i}"
    config = tmp_path / "shipbot.yml"
    config.write_text(yaml.safe_dump(data))
    return config


async def test_history_without_a_store_says_where_it_looked_and_creates_none(
    tmp_path: Path, sshd_fleet: FleetFactory, app_repo: GitRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    config = await named_config(tmp_path, sshd_fleet, app_repo)
    data_dir = tmp_path / "never-made"

    assert 0 == await cli("history", "staging", "--config", str(config), "--data-dir", str(data_dir))

    expected = f"no runs recorded for staging (no store at {data_dir / 'shipbot.sqlite3'} yet)\n"
    assert expected == capsys.readouterr().out
    assert not data_dir.exists()


async def test_status_names_hosts_reads_them_without_a_store_and_a_name_targets_a_deploy(
    tmp_path: Path, sshd_fleet: FleetFactory, app_repo: GitRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    config = await named_config(tmp_path, sshd_fleet, app_repo)
    data_dir = tmp_path / "data"
    common = ("--config", str(config), "--data-dir", str(data_dir))

    assert 0 == await cli("status", "staging", *common)
    out = capsys.readouterr().out
    assert "  stg-1 (127.0.0.1:" in out and "  stg-2 (127.0.0.1:" in out
    assert f"no runs recorded for staging (no store at {data_dir / 'shipbot.sqlite3'} yet)" in out
    assert not data_dir.exists(), "status wrote nothing"

    assert 0 == await cli("deploy", "staging", "main", "--hosts", "stg-2", *common)
    capsys.readouterr()
    assert 0 == await cli("status", "staging", "--json", *common)
    hosts = json.loads(capsys.readouterr().out)["hosts"]
    assert [(h["name"], h["release"] is None) for h in hosts] == [("stg-1", True), ("stg-2", False)]
    assert all(h["address"].startswith("127.0.0.1:") for h in hosts), "addresses stay what the store keys by"
