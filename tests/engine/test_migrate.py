"""Migrations are never skipped in silence: migrate roles matching no host are a config error before anything
changes (``deploy`` and ``shipbot check``), and a host filter that leaves out the migrate hosts is said at the start
and at the end of the run."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from cli.progress import TerminalProgress
from deploy.errors import ConfigError
from deploy.events import Event, Outcome, RunFinished, RunStarted
from tests.engine.conftest import PIPELINE, EngineFactory
from tests.engine.test_cli import shipbot, write_config
from tests.support.gitrepo import GitRepo
from tests.support.sshd_fleet import FleetFactory

pytestmark = pytest.mark.sshd

MIGRATE = {**PIPELINE, "migrate": {"roles": ["db", "schema"], "run": "touch ../../MIGRATED"}}


async def test_migrate_roles_no_host_has_are_a_config_error_naming_them_before_anything_changes(
    make_engine: EngineFactory,
) -> None:
    engine, fleet = await make_engine(hosts=2, pipeline=MIGRATE)

    with pytest.raises(ConfigError) as caught:
        await engine.deploy("staging", "main", user="U0ALICE")

    assert [
        "pipeline.migrate.roles: no host of staging has the role db or schema, so its migration would never run "
        "(roles in staging: migrate, web)"
    ] == caught.value.problems
    assert ([], [False, False]) == (await engine.history("staging"), [h.local_deploy_to.joinpath("releases").exists()
                                                                for h in fleet.hosts])  # fmt: skip


async def test_a_host_filter_that_leaves_out_the_migrate_hosts_deploys_without_migrating_and_says_so(
    make_engine: EngineFactory,
) -> None:
    pipeline = {**PIPELINE, "migrate": {"roles": ["migrate"], "run": "touch ../../MIGRATED"}}
    engine, fleet = await make_engine(hosts=2, pipeline=pipeline)
    events: list[Event] = []
    shown = io.StringIO()
    progress = TerminalProgress(shown)

    def sink(event: Event) -> None:
        events.append(event)
        progress(event)

    web = f"{fleet.hosts[1].address}:{fleet.hosts[1].port}"
    result = await engine.deploy("staging", "main", user="U0ALICE", hosts_filter=web, sink=sink)

    note = (
        f"migration skipped: the host filter {web!r} leaves out every host with the role migrate; "
        "deploy to those hosts too to migrate"
    )
    started = next(e for e in events if isinstance(e, RunStarted))
    assert (Outcome.SUCCESS, (note,), (note,)) == (result.outcome, started.notes, result.notes)
    assert [e.notes for e in events if isinstance(e, RunFinished)] == [(note,)]
    assert 2 == shown.getvalue().count(f"NOTE: {note}"), "the terminal says it at the start and at the end"
    assert [False, False] == [(h.local_deploy_to / "MIGRATED").exists() for h in fleet.hosts]


async def test_check_names_migrate_roles_no_host_has_and_a_missing_key_file(
    tmp_path: Path, sshd_fleet: FleetFactory, app_repo: GitRepo
) -> None:
    fleet = await sshd_fleet(1)
    path = await write_config(tmp_path, fleet, app_repo, pipeline=MIGRATE)
    path.write_text(path.read_text().replace(str(fleet.client_key), str(tmp_path / "gone_ed25519")))

    result = shipbot("check", cwd=tmp_path)

    assert (2, [
        "shipbot: shipbot.yml: invalid config",
        "  - pipeline.migrate.roles: no host of staging has the role db or schema, so its migration would never run "
        "(roles in staging: migrate, web)",
        f"  - ssh.identity: the key file {tmp_path}/gone_ed25519 does not exist",
    ]) == (result.returncode, result.stderr.splitlines())  # fmt: skip
