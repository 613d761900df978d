"""shipbot takes over a fleet Capistrano deployed, and ``cap`` keeps working after it: the real ``cap`` from
Debian's capistrano package and shipbot's command line on the same real sshd hosts."""

from __future__ import annotations

import asyncio
import getpass
import json
import time
from pathlib import Path

import pytest
import yaml

from cli.main import main
from tests.capistrano.conftest import CAP_USER, CapProject

pytestmark = pytest.mark.sshd


def releases(project: CapProject, i: int) -> list[str]:
    return sorted(p.name for p in project.host_path(i, "releases").iterdir())


def revisions_log(project: CapProject, i: int) -> str:
    path = project.host_path(i, "revisions.log")
    return path.read_text() if path.exists() else ""


def current(project: CapProject, i: int) -> str:
    return project.host_path(i, "current").readlink().name


async def test_shipbot_takes_over_a_capistrano_fleet_and_cap_keeps_working(
    cap_project: CapProject, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    p = cap_project
    first_sha = p.repo.sha("main")
    before = time.time()
    deployed = p.cap("production", "deploy")
    assert 0 == deployed.returncode, deployed.stdout + deployed.stderr
    second_sha = p.repo.commit("second version", {"VERSION": "v2\n"})
    assert 0 == p.cap("production", "deploy").returncode
    after = time.time()
    r1, r2 = releases(p, 0)
    assert [r1, r2] == releases(p, 1)

    config = p.fleet.config_yaml(
        repo=p.repo.path,
        environments={"production": [0, 1]},
        shared={"files": ["config/app.env"], "dirs": ["log", "tmp/cache"]},
    )
    (tmp_path / "shipbot.yml").write_text(yaml.safe_dump(config))

    # status reads Capistrano's history: both releases, who deployed them, where a rollback goes
    status = p.shipbot("status", "production", "--json", cwd=tmp_path)
    assert 0 == status.returncode, status.stderr
    hosts = json.loads(status.stdout)["hosts"]
    expected = [
        {"release": r2, "sha": second_sha, "history": "capistrano", "user": CAP_USER, "rollback_target": False},
        {"release": r1, "sha": first_sha, "history": "capistrano", "user": CAP_USER, "rollback_target": True},
    ]
    assert [expected, expected] == [h["releases"] for h in hosts]

    # shipbot rollback goes to Capistrano's previous release, and says it acts as capistrano
    rolled = p.shipbot("rollback", "production", cwd=tmp_path)
    assert 0 == rolled.returncode, rolled.stderr
    assert "layout auto acts as capistrano" in rolled.stderr
    assert [r1, r1] == [current(p, 0), current(p, 1)]

    # shipbot deploys a third version; then Capistrano's own rollback goes back to the release shipbot replaced
    third_sha = p.repo.commit("third version", {"VERSION": "v3\n"})
    shipped = p.shipbot("deploy", "production", "main", cwd=tmp_path)
    assert 0 == shipped.returncode, shipped.stderr
    r3 = current(p, 0)
    assert r3 not in (r1, r2) and len(r3) == 14 and r3.isdigit()
    for i in range(2):  # linked from shared/ as Capistrano links them (absolute links, seen inside the host)
        assert [f"{p.deploy_to}/shared/config/app.env", f"{p.deploy_to}/shared/log"] == [
            str(p.host_path(i, "releases", r3, "config", "app.env").readlink()),
            str(p.host_path(i, "releases", r3, "log").readlink()),
        ]

    back = p.cap("production", "deploy:rollback")
    assert 0 == back.returncode, back.stdout + back.stderr
    assert [r1, r1] == [current(p, 0), current(p, 1)]

    by = getpass.getuser()  # shipbot's command line runs as the local user
    for i in range(2):
        assert [
            f"Branch main (at {first_sha}) deployed as release {r1} by {CAP_USER}",
            f"Branch main (at {second_sha}) deployed as release {r2} by {CAP_USER}",
            f"{by} rolled back to release {r1}",
            f"Branch main (at {third_sha}) deployed as release {r3} by {by}",
            f"{CAP_USER} rolled back to release {r1}",
        ] == p.host_path(i, "revisions.log").read_text().splitlines()

    # every release after r1 was rolled back from: nothing left to roll back to; a line of another tool is named
    with p.host_path(0, "revisions.log").open("a") as log:
        log.write("deployed by some other script\n")
    again = p.shipbot("rollback", "production", cwd=tmp_path)
    assert 1 == again.returncode
    assert "nothing to roll back to" in again.stderr
    named = [line.strip() for line in again.stderr.splitlines() if "line 6 of revisions.log" in line]
    assert 1 == len(named) and p.fleet.hosts[0].address in named[0], again.stderr
    assert named[0].endswith("line 6 of revisions.log is not a line Capistrano writes; it was ignored")

    # history: what status and the runs read from both hosts' revisions.log, each line once, beside shipbot's own
    # runs in time order; read with every host unreachable, since history never reaches one
    for host in config["environments"]["production"]["hosts"]:
        host["port"] = 1
    (tmp_path / "shipbot.yml").write_text(yaml.safe_dump(config))
    where = ("--config", str(tmp_path / "shipbot.yml"), "--data-dir", str(tmp_path / "data"))
    capsys.readouterr()
    assert 0 == await asyncio.to_thread(main, ["history", "production", "--json", *where])  # in process: quick
    entries = json.loads(capsys.readouterr().out)
    assert [
        ("capistrano", "rollback", r1),  # no time of its own: when the last rollback first read it
        ("shipbot", "rollback", ""),  # that rollback, which found nothing to roll back to
        ("shipbot", "deploy", r3),
        ("shipbot", "rollback", r1),
        ("capistrano", "deploy", r2),
        ("capistrano", "deploy", r1),
    ] == [(e["source"], e["kind"], e["release"]) for e in entries]
    cap = [e for e in entries if e["source"] == "capistrano"]
    assert [
        (None, CAP_USER, first_sha, ""),
        (None, CAP_USER, second_sha, "main"),
        (None, CAP_USER, first_sha, "main"),
    ] == [(e["run_id"], e["user"], e["sha"], e["ref"]) for e in cap]
    assert int(before) <= cap[2]["started_at"] <= cap[1]["started_at"] <= after  # the release names' UTC stamps
    run_keys = {"run_id", "kind", "app", "environment", "user", "ref", "sha", "release", "state", "started_at",
                "finished_at", "message", "hosts", "forced", "duration", "covered"}  # fmt: skip
    assert all(run_keys <= e.keys() and e["run_id"] for e in entries if e["source"] == "shipbot")
    assert 0 == await asyncio.to_thread(main, ["history", "production", *where])
    text = capsys.readouterr().out.splitlines()
    assert f"deployed as release {r2} by {CAP_USER} with Capistrano" in text[4] and "capistrano" in text[4], text


async def test_import_prints_a_config_that_check_accepts_and_that_deploys_the_same_hosts(
    cap_project: CapProject, tmp_path: Path
) -> None:
    p = cap_project
    imported = p.shipbot("import", "capistrano", str(p.folder), cwd=tmp_path)
    assert 0 == imported.returncode, imported.stderr
    (tmp_path / "shipbot.yml").write_text(imported.stdout)
    config = yaml.safe_load(imported.stdout)
    h1, h2 = p.fleet.hosts
    assert {
        "app": "shop",
        "repo": str(p.repo.path),
        "deploy_to": p.deploy_to,
        "keep_releases": 4,
        "layout": "capistrano",
        "shared": {"files": ["config/app.env"], "dirs": ["log", "tmp/cache"]},
        "ssh": {"user": p.fleet.user, "identity": str(p.fleet.client_key), "known_hosts": str(p.fleet.known_hosts)},
        "environments": {
            "production": {
                "ref": "main",
                "hosts": [
                    {"address": h1.address, "roles": ["app", "web", "db"], "port": h1.port},
                    {"address": h2.address, "roles": ["app", "web"], "port": h2.port},
                ],
            },
            "staging": {
                "ref": "main",
                "hosts": [{"address": h1.address, "roles": ["app", "web", "db"], "port": h1.port}],
            },
        },
    } == config
    assert (
        "# - task deploy:restart_app (config/deploy.rb:13): pipeline.restart runs it on every host as a release goes live"
        in imported.stdout.splitlines()
    )
    assert "# - hook after deploy:publishing -> deploy:restart_app (config/deploy.rb:22)" in imported.stdout

    checked = p.shipbot("check", cwd=tmp_path)
    assert 0 == checked.returncode, checked.stderr

    before = [revisions_log(p, i) for i in range(2)]
    deployed = p.shipbot("deploy", "staging", cwd=tmp_path)
    assert 0 == deployed.returncode, deployed.stderr
    sha = p.repo.sha("main")
    after = [revisions_log(p, i) for i in range(2)]
    assert f"Branch main (at {sha}) deployed as release {current(p, 0)}" in after[0].splitlines()[-1]
    assert before[1] == after[1], "staging is the first host only, as in config/deploy/staging.rb"


def test_import_refuses_a_folder_without_deploy_rb_in_one_line(cap_project: CapProject, tmp_path: Path) -> None:
    refused = cap_project.shipbot("import", "capistrano", str(tmp_path), cwd=tmp_path)
    assert (2, "", [f"shipbot: {tmp_path} has no config/deploy.rb: pass the folder of a Capistrano project"]) == (
        refused.returncode, refused.stdout, [line for line in refused.stderr.splitlines() if line.startswith("shipbot")]
    )  # fmt: skip
