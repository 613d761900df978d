"""Runs started from the CLI notify too: ``shipbot deploy`` sends what it can before it exits (a few seconds at
most), leaves the rest in the store, and ``shipbot notifications [--failed] [--json]`` lists what is pending or
gave up with its last error; ``shipbot check`` names a sink's variable that is not set."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest
import yaml

from cli.main import main
from tests.engine.conftest import PIPELINE
from tests.support.gitrepo import GitRepo
from tests.support.receivers import Receiver
from tests.support.sshd_fleet import FleetFactory

pytestmark = pytest.mark.sshd
SECRET = "whsec_" + "c2hpcGJvdC10ZXN0LXNlY3JldC0zMi1ieXRlcy1sb25nIQ=="


async def cli(*argv: str) -> int:
    return await asyncio.to_thread(main, list(argv))


async def test_a_cli_deploy_notifies_before_it_exits_and_lists_what_is_left(
    tmp_path: Path, sshd_fleet: FleetFactory, app_repo: GitRepo, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    monkeypatch.setenv("HOOK_SECRET", SECRET)
    receiver = await Receiver().start()
    try:
        fleet = await sshd_fleet(1)
        data = fleet.config_yaml(repo=app_repo.path, pipeline=PIPELINE, shared={"dirs": ["log"]})
        data["environments"]["staging"]["notify"] = [{"webhook": f"{receiver.url}/h", "secret_env": "HOOK_SECRET"}]
        config = tmp_path / "shipbot.yml"
        config.write_text(yaml.safe_dump(data))
        where = ["--config", str(config), "--data-dir", str(tmp_path / "data")]

        assert 0 == await cli("deploy", "staging", "main", "--user", "alice", *where)
        assert ["run.started", "run.succeeded"] == [r.json()["type"] for r in receiver.requests]

        receiver.down_until = time.monotonic() + 3600
        began = time.monotonic()
        assert 0 == await cli("deploy", "staging", "main", "--user", "alice", *where)
        assert time.monotonic() - began < 30  # the deploy and at most a few seconds of sending
        capsys.readouterr()
        assert 0 == await cli("notifications", "--json", *where)
        listed = json.loads(capsys.readouterr().out)
        assert [("webhook", "run.started", "pending"), ("webhook", "run.succeeded", "pending")] == [
            (n["sink"], n["type"], n["state"]) for n in listed
        ]
        assert listed[0]["attempts"] >= 1 and listed[0]["last_error"].startswith("HTTP 500: down for maintenance")
        assert {"id", "sink", "type", "run_id", "state", "attempts", "last_error", "next_attempt_at"} == set(listed[0])
        assert 0 == await cli("notifications", "--failed", *where)
        assert "no notification gave up\n" == capsys.readouterr().out
    finally:
        await receiver.stop()


async def test_check_names_the_variable_a_sink_needs(
    tmp_path: Path, sshd_fleet: FleetFactory, app_repo: GitRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    fleet = await sshd_fleet(1)
    data = fleet.config_yaml(repo=app_repo.path, pipeline=PIPELINE)
    data["environments"]["staging"]["notify"] = ["C1", {"teams": {"url_env": "SHIPBOT_TEST_UNSET_TEAMS_URL"}}]
    config = tmp_path / "shipbot.yml"
    config.write_text(yaml.safe_dump(data))
    assert 2 == await cli("check", "--config", str(config))
    assert (
        "environments.staging.notify[1].teams.url_env: the variable SHIPBOT_TEST_UNSET_TEAMS_URL is not set"
        in capsys.readouterr().err
    )


async def test_notifications_refuses_an_unknown_flag_with_exit_2(tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as exited:
        await cli("notifications", "--bogus", "--data-dir", str(tmp_path))
    assert 2 == exited.value.code
