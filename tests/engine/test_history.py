"""Hosts with years of history, built on disk directly: a 20,000-line journal with torn and hand-edited lines, 50
release folders (some without REVISION, one made by another tool) and a ``current`` another tool made. Deploy,
retention, rollback and status each read that past correctly over real sshd."""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest

from deploy.events import Outcome
from deploy.hosts import journal
from tests.engine.conftest import EngineFactory
from tests.support.gitrepo import GitRepo
from tests.support.sshd_fleet import SshdFleet

pytestmark = pytest.mark.sshd

RELEASES = [f"2025{i:010d}" for i in range(1, 51)]  # R1..R50: R1..R49 deployed by shipbot, R50 by another tool
NO_REVISION = {RELEASES[9], RELEASES[19], RELEASES[48]}  # folders whose REVISION is gone (R10, R20, R49)
ROLLED_BACK_FROM = RELEASES[47]  # R48: a rollback went from it back to R47
GONE = [f"2023{i:010d}" for i in range(4000)]  # releases retention deleted long ago


def sha_of(release: str) -> str:
    return (release * 3)[:40]


def line(release: str, *, previous: str | None = None, action: str = "deploy", outcome: str = "success") -> str:
    return journal.Entry(
        "2025-06-01T09:00:00Z", action, "x1", "U0OLD", sha_of(release), release, previous, outcome
    ).to_line()


def build_history(fleet: SshdFleet, i: int, app_repo: GitRepo) -> None:
    """The host's past, written on its disk as years of deploys (and a few hands) would have left it."""
    deploy_to = fleet.hosts[i].local_deploy_to
    template = deploy_to.parent / "template"
    template.mkdir(exist_ok=True)
    archive = subprocess.run(["git", "-C", str(app_repo.path), "archive", "main"], capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-f", "-", "-C", str(template)], input=archive.stdout, check=True)
    for release in RELEASES:
        folder = deploy_to / "releases" / release
        shutil.copytree(template, folder)
        if release not in NO_REVISION:
            (folder / "REVISION").write_text(sha_of(release) + "\n")
    (deploy_to / "shared" / "log").mkdir(parents=True)
    os.symlink(str(deploy_to / "releases" / RELEASES[-1]) + "/", deploy_to / "current")  # another tool: absolute

    lines = [line(r, previous=p, outcome="success" if n % 7 else "failed") for n, (p, r) in
             enumerate(zip([None, *GONE], GONE, strict=False))] * 5  # fmt: skip
    for n, release in enumerate(RELEASES[:49]):  # shipbot's own deploys of the folders still there, spread out
        lines.insert(400 * n + 3, line(release, previous=RELEASES[n - 1] if n else None))
    lines.insert(19_700, line(RELEASES[46], previous=ROLLED_BACK_FROM, action="rollback"))
    lines.insert(100, line(RELEASES[5])[:60])  # torn by a full disk
    lines.insert(200, line(RELEASES[6])[:70] + line(RELEASES[6]))  # torn, then the next append on the same line
    edited = json.loads(line(RELEASES[30]))
    lines.insert(300, json.dumps(edited, indent=None, separators=(", ", ": ")))  # hand-edited: spaces
    lines.insert(301, "# the 2024-03 outage: releases re-made by hand")
    lines.insert(302, "")
    lines += [line(g) for g in GONE[-40:]]
    assert len(lines) >= 20_000
    text = "\n".join(lines) + "\n" + line(GONE[0])[:33]  # the last line torn: no newline at the end
    (deploy_to / ".shipbot").mkdir(parents=True)
    (deploy_to / ".shipbot" / "journal.jsonl").write_text(text)


def folders(fleet: SshdFleet, i: int) -> list[str]:
    return sorted(p.name for p in (fleet.hosts[i].local_deploy_to / "releases").iterdir())


def current_of(fleet: SshdFleet, i: int) -> str:
    return os.readlink(fleet.hosts[i].local_deploy_to / "current")


async def test_deploy_retention_rollback_and_status_read_a_long_history_correctly(
    make_engine: EngineFactory, app_repo: GitRepo
) -> None:
    engine, fleet = await make_engine(hosts=2, keep_releases=3)
    for i in range(2):
        build_history(fleet, i, app_repo)

    before = await engine.status("staging")
    assert [(RELEASES[-1], sha_of(RELEASES[-1]))] * 2 == [(h.release, h.sha) for h in before.hosts]

    deployed = await engine.deploy("staging", "feature/new-login", user="U0ALICE")

    assert Outcome.SUCCESS == deployed.outcome, deployed.message
    new = str(deployed.hosts[0].release)
    # retention: the newest keep_releases (R49, R50, new) and the rollback target R47, not one folder more; R49 has
    # no REVISION and a rollback left R48, so R47 is the release a rollback goes to
    assert [[RELEASES[46], RELEASES[48], RELEASES[49], new]] * 2 == [folders(fleet, i) for i in range(2)]
    assert [f"releases/{new}"] * 2 == [current_of(fleet, i) for i in range(2)]

    rolled = await engine.rollback("staging", user="U0BOB")

    assert Outcome.SUCCESS == rolled.outcome, rolled.message
    assert f"rolled back to release {RELEASES[46]}" in rolled.message
    assert [f"releases/{RELEASES[46]}"] * 2 == [current_of(fleet, i) for i in range(2)]
    status = await engine.status("staging")
    assert (True, [(RELEASES[46], sha_of(RELEASES[46]))] * 2) == (
        status.consistent,
        [(h.release, h.sha) for h in status.hosts],
    )
    for i in range(2):
        entries = journal.parse((fleet.hosts[i].local_deploy_to / ".shipbot" / "journal.jsonl").read_text())
        assert [("deploy", new, "success"), ("rollback", RELEASES[46], "success")] == [
            (e.action, e.release, e.outcome) for e in entries[-2:]
        ], "the new lines were read back, the first one behind a torn line"
