"""Deploys through real OpenSSH sshd hosts on loopback and a real git repository."""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from deploy.errors import EnvironmentBusy, EnvironmentLocked, RefNotFound, UsageError
from deploy.events import Event, HostState, HostStepFinished, HostStepStarted, Outcome
from deploy.hosts.ssh import SshConnector
from deploy.run.engine import Engine
from tests.engine.conftest import PIPELINE, EngineFactory
from tests.support.gitrepo import GitRepo
from tests.support.sshd_fleet import FleetFactory, SshdFleet

pytestmark = pytest.mark.sshd


def current_of(fleet: SshdFleet, i: int) -> str | None:
    link = fleet.hosts[i].local_deploy_to / "current"
    return os.readlink(link) if link.is_symlink() else None


def name(fleet: SshdFleet, i: int) -> str:
    """How shipbot names host ``i`` in reports: address:port."""
    return f"{fleet.hosts[i].address}:{fleet.hosts[i].port}"


def releases_of(fleet: SshdFleet, i: int) -> list[str]:
    d = fleet.hosts[i].local_deploy_to / "releases"
    return sorted(p.name for p in d.iterdir()) if d.exists() else []


def tmp_data(engine: Engine) -> Path:
    """The data dir an engine was made with (its mirror lives there)."""
    return engine.mirror.path.parent.parent


def unique_sleep() -> str:
    """A sleep no other test run on this machine is running, so pgrep finds only this test's processes."""
    return f"sleep {random.randint(100_000, 999_999)}"


def pgrep(pattern: str) -> list[str]:
    out = subprocess.run(["pgrep", "-f", pattern], capture_output=True, text=True)
    return out.stdout.split()


async def test_deploy_puts_the_resolved_sha_live_on_every_host(make_engine: EngineFactory, app_repo: GitRepo) -> None:
    engine, fleet = await make_engine(hosts=3)
    events: list[Event] = []

    result = await engine.deploy("staging", "feature/new-login", user="U0ALICE", sink=events.append)

    sha = app_repo.sha("feature/new-login")
    assert Outcome.SUCCESS == result.outcome
    status = await engine.status("staging")
    assert status.consistent
    assert {sha} == {h.sha for h in status.hosts}
    release = result.hosts[0].release
    for i, host in enumerate(fleet.hosts):
        rel = host.local_deploy_to / "releases" / str(release)
        assert f"releases/{release}" == current_of(fleet, i)
        assert f"{sha}\n" == (rel / "REVISION").read_text()
        assert "v2\n" == (rel / "VERSION").read_text()
        assert (rel / "BUILT").exists(), "the build ran in the release dir"
        assert (rel / "log").resolve() == (host.local_deploy_to / "shared" / "log").resolve()
        journal = (host.local_deploy_to / ".shipbot" / "journal.jsonl").read_text()
        assert f'"sha":"{sha}"' in journal and '"outcome":"success"' in journal
    assert [e for e in events if type(e).__name__ == "RunFinished"] == [result], "exactly one RunFinished"


async def test_deploys_one_after_another_from_two_processes_within_a_second_both_go_live(
    make_engine: EngineFactory, app_repo: GitRepo
) -> None:
    """A deploy takes well under a second on these hosts: the second, from another engine on the same store (as
    from another process or replica), names a release after the first's instead of the folder the first made."""
    first, fleet = await make_engine(hosts=2)
    second, _ = await make_engine(fleet=fleet)
    await first.deploy("staging", "main", user="U0ALICE")

    results = [
        await e.deploy("staging", ref, user="U0ALICE") for e, ref in ((first, "main"), (second, "feature/new-login"))
    ]

    assert [Outcome.SUCCESS] * 2 == [r.outcome for r in results], [r.message for r in results]
    assert results[0].hosts[0].release < results[1].hosts[0].release
    assert {app_repo.sha("feature/new-login")} == {h.sha for h in (await first.status("staging")).hosts}


async def test_git_transfer_makes_each_host_fetch_the_pinned_sha(make_engine: EngineFactory, app_repo: GitRepo) -> None:
    engine, fleet = await make_engine(hosts=2, pipeline={**PIPELINE, "transfer": "git"})

    result = await engine.deploy("staging", "v1.0.0", user="U0ALICE")

    assert Outcome.SUCCESS == result.outcome
    assert {app_repo.sha("v1.0.0")} == {h.sha for h in (await engine.status("staging")).hosts}
    assert (fleet.hosts[1].local_deploy_to / ".shipbot" / "repo" / "HEAD").exists()


async def test_failing_build_on_one_host_switches_no_host(make_engine: EngineFactory) -> None:
    engine, fleet = await make_engine(
        hosts=3, pipeline={**PIPELINE, "build": ["test ! -e ../../FAIL_BUILD && ./build.sh"]}
    )
    first = await engine.deploy("staging", "main", user="U0ALICE")
    before = [current_of(fleet, i) for i in range(3)]
    (fleet.hosts[1].local_deploy_to / "FAIL_BUILD").touch()

    result = await engine.deploy("staging", "feature/new-login", user="U0ALICE")

    assert Outcome.FAILED == result.outcome
    assert result.message.startswith(f"{name(fleet, 1)}: build failed: exit status 1")
    assert before == [current_of(fleet, i) for i in range(3)]
    assert [[first.hosts[0].release]] * 3 == [releases_of(fleet, i) for i in range(3)], "half-made releases removed"
    assert not any(h.state is HostState.SWITCHED for h in result.hosts)


async def test_failing_healthcheck_reverts_every_switched_host(make_engine: EngineFactory, app_repo: GitRepo) -> None:
    engine, fleet = await make_engine(hosts=3)
    good = await engine.deploy("staging", "main", user="U0ALICE")

    result = await engine.deploy("staging", "broken-health", user="U0ALICE")

    assert Outcome.FAILED == result.outcome
    assert "healthcheck failed" in result.message and "unhealthy" in result.hosts[0].output_tail
    assert [HostState.REVERTED] * 3 == [h.state for h in result.hosts]
    status = await engine.status("staging")
    assert {app_repo.sha("main")} == {h.sha for h in status.hosts}
    for i, host in enumerate(fleet.hosts):
        assert f"releases/{good.hosts[0].release}" == current_of(fleet, i)
        restarts = (host.local_deploy_to / "restarts.log").read_text().splitlines()
        assert f"{good.hosts[0].release} {app_repo.sha('main')}" == restarts[-1], "the old release was restarted"
        assert [str(good.hosts[0].release)] == releases_of(fleet, i)


async def test_rollback_goes_to_the_previous_good_release_not_the_failed_one(
    make_engine: EngineFactory, app_repo: GitRepo
) -> None:
    engine, fleet = await make_engine(hosts=2)
    v1 = await engine.deploy("staging", "main", user="U0ALICE")
    await engine.deploy("staging", "broken-health", user="U0ALICE")  # fails, reverted
    await engine.deploy("staging", "feature/new-login", user="U0ALICE")

    result = await engine.rollback("staging", user="U0BOB")

    assert Outcome.SUCCESS == result.outcome
    assert {app_repo.sha("main")} == {h.sha for h in (await engine.status("staging")).hosts}
    assert [f"releases/{v1.hosts[0].release}"] * 2 == [current_of(fleet, i) for i in range(2)]
    assert "rolled back to release" in result.message
    from deploy.errors import NothingToRollBack

    with pytest.raises(NothingToRollBack, match="nothing to roll back to"):
        await engine.rollback("staging", user="U0BOB")


async def test_rollback_to_a_named_sha(make_engine: EngineFactory, app_repo: GitRepo) -> None:
    engine, _ = await make_engine(hosts=2)
    await engine.deploy("staging", "main", user="U0ALICE")
    await engine.deploy("staging", "feature/new-login", user="U0ALICE")
    await engine.deploy("staging", "v1.0.0", user="U0ALICE")

    result = await engine.rollback("staging", to=app_repo.sha("feature/new-login")[:10], user="U0BOB")

    assert Outcome.SUCCESS == result.outcome
    assert {app_repo.sha("feature/new-login")} == {h.sha for h in (await engine.status("staging")).hosts}


async def test_retention_keeps_the_newest_releases_and_the_rollback_target(make_engine: EngineFactory) -> None:
    engine, fleet = await make_engine(hosts=1, keep_releases=2)
    ids = []
    for ref in ["main", "feature/new-login", "v1.0.0", "main"]:
        ids.append((await engine.deploy("staging", ref, user="U0ALICE")).hosts[0].release)

    assert sorted(ids[-2:]) == releases_of(fleet, 0)
    assert f"releases/{ids[-1]}" == current_of(fleet, 0)


async def test_cancel_kills_remote_steps_and_leaves_the_fleet_as_it_was(make_engine: EngineFactory) -> None:
    sleep = unique_sleep()
    engine, fleet = await make_engine(hosts=2, pipeline={**PIPELINE, "build": [sleep]})
    started = asyncio.Event()

    def sink(event: Event) -> None:
        if isinstance(event, HostStepStarted) and event.step == "build":
            started.set()

    task = asyncio.create_task(engine.deploy("staging", "main", user="U0ALICE", sink=sink))
    await asyncio.wait_for(started.wait(), 20)
    for _ in range(100):  # the step's event comes before its process starts on the host: wait for it (10 s at most)
        if pgrep(sleep):
            break
        await asyncio.sleep(0.1)
    assert pgrep(sleep), "the build is running on the hosts"
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    assert [] == pgrep(sleep), "no remote process left running"
    assert [None, None] == [current_of(fleet, i) for i in range(2)]
    assert [[], []] == [releases_of(fleet, i) for i in range(2)]
    run = (await engine.history("staging"))[0]
    assert ("cancelled", False) == (run.state, run.running)
    assert engine.store.active_run("shop", "staging") is None, "the environment is free again"


async def test_a_step_that_times_out_is_killed_on_the_host(make_engine: EngineFactory) -> None:
    sleep = unique_sleep()
    engine, fleet = await make_engine(hosts=1, pipeline={**PIPELINE, "build": [sleep]}, timeouts={"build": "1s"})

    result = await engine.deploy("staging", "main", user="U0ALICE")

    assert Outcome.FAILED == result.outcome
    assert f"{name(fleet, 0)}: build failed: timed out after 1s" in result.message
    assert [] == pgrep(sleep)


async def test_a_changed_host_key_is_refused_and_nothing_is_touched(make_engine: EngineFactory) -> None:
    engine, fleet = await make_engine(hosts=3)
    await fleet.areplace_host_key(2)

    result = await engine.deploy("staging", "main", user="U0ALICE")

    assert Outcome.FAILED == result.outcome
    assert f"{name(fleet, 2)}: connect failed" in result.message
    assert "host key is not trusted" in result.message
    assert [[], [], []] == [releases_of(fleet, i) for i in range(3)]


async def test_an_unreachable_host_fails_the_run_before_any_change(make_engine: EngineFactory) -> None:
    engine, fleet = await make_engine(hosts=3)
    await engine.deploy("staging", "main", user="U0ALICE")
    fleet.stop_host(1)

    result = await engine.deploy("staging", "feature/new-login", user="U0ALICE")

    assert Outcome.FAILED == result.outcome
    assert f"{name(fleet, 1)}: connect failed: connection refused" in result.message
    assert [1, 1] == [len(releases_of(fleet, i)) for i in (0, 2)]
    status = await engine.status("staging")
    assert [True, False, True] == [h.reachable for h in status.hosts]
    assert not status.consistent


async def test_migrate_runs_on_exactly_one_host(make_engine: EngineFactory) -> None:
    pipeline = {**PIPELINE, "migrate": {"roles": ["migrate"], "run": "touch ../../MIGRATED"}}
    engine, fleet = await make_engine(hosts=3, pipeline=pipeline)

    await engine.deploy("staging", "main", user="U0ALICE")

    assert [True, False, False] == [(h.local_deploy_to / "MIGRATED").exists() for h in fleet.hosts]


async def test_deploy_to_a_role_subset_touches_only_those_hosts(make_engine: EngineFactory) -> None:
    engine, fleet = await make_engine(hosts=3)

    result = await engine.deploy("staging", "main", user="U0ALICE", hosts_filter="migrate")

    assert [name(fleet, 0)] == [h.host for h in result.hosts]
    assert [1, 0, 0] == [len(releases_of(fleet, i)) for i in range(3)]
    with pytest.raises(UsageError, match="no host in staging has the role, name or address 'db'"):
        await engine.deploy("staging", "main", user="U0ALICE", hosts_filter="db")


async def test_a_second_run_in_the_same_environment_is_refused_naming_the_first(make_engine: EngineFactory) -> None:
    engine, _ = await make_engine(hosts=1, pipeline={**PIPELINE, "build": ["sleep 2"]})
    first = asyncio.create_task(engine.deploy("staging", "main", user="U0ALICE"))
    while engine.store.active_run("shop", "staging") is None:
        await asyncio.sleep(0.05)

    with pytest.raises(EnvironmentBusy, match="U0ALICE is deploying shop main"):
        await engine.deploy("staging", "feature/new-login", user="U0BOB")
    assert Outcome.SUCCESS == (await first).outcome


async def test_a_locked_environment_refuses_others_but_not_the_owner(make_engine: EngineFactory) -> None:
    engine, _ = await make_engine(hosts=1)
    engine.store.lock("shop", "staging", "U0CAROL", "testing the payment flow")

    with pytest.raises(EnvironmentLocked, match="locked by U0CAROL .*testing the payment flow"):
        await engine.deploy("staging", "main", user="U0ALICE")
    assert Outcome.SUCCESS == (await engine.deploy("staging", "main", user="U0CAROL")).outcome


async def test_an_unknown_ref_is_refused_with_a_suggestion(make_engine: EngineFactory) -> None:
    engine, fleet = await make_engine(hosts=1)

    with pytest.raises(RefNotFound, match="'feature/new-logn' is not a branch, tag or commit.*feature/new-login"):
        await engine.deploy("staging", "feature/new-logn", user="U0ALICE")
    assert [] == releases_of(fleet, 0)


async def test_secrets_are_redacted_from_step_output(
    make_engine: EngineFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHOP_DB_PASSWORD", "hunter2-very-secret")
    pipeline = {**PIPELINE, "build": ['echo "connecting with $SHOP_DB_PASSWORD"; exit 1']}
    engine, _ = await make_engine(hosts=1, pipeline=pipeline, secret_env=["SHOP_DB_PASSWORD"])

    result = await engine.deploy("staging", "main", user="U0ALICE")

    assert "connecting with [redacted]" == result.hosts[0].output_tail
    assert "hunter2" not in str(engine.store.host_steps(result.run_id))


async def test_a_task_reports_each_hosts_output_and_status(make_engine: EngineFactory) -> None:
    tasks = {"whoami": {"roles": ["web"], "run": "echo on $SHIPBOT_ENV; test ! -e ../../NOPE"}}
    engine, fleet = await make_engine(hosts=2, tasks=tasks)
    await engine.deploy("staging", "main", user="U0ALICE")
    (fleet.hosts[1].local_deploy_to / "NOPE").touch()

    result = await engine.run_task("whoami", "staging", user="U0ALICE")

    assert Outcome.FAILED == result.outcome
    assert [("on staging", None), ("on staging", "whoami")] == [(h.output_tail, h.failed_step) for h in result.hosts]


async def test_a_missing_shared_file_names_the_file_and_host(make_engine: EngineFactory, tmp_path: Path) -> None:
    engine, fleet = await make_engine(hosts=1, shared={"files": [".env"]})

    result = await engine.deploy("staging", "main", user="U0ALICE")

    assert Outcome.FAILED == result.outcome
    assert f"{name(fleet, 0)}: upload failed: exit status 3" in result.message
    assert "shared file" in result.hosts[0].output_tail and ".env is missing" in result.hosts[0].output_tail


async def test_a_login_shell_that_prints_first_does_not_stop_a_timed_out_step_being_killed(
    make_engine: EngineFactory, sshd_fleet: FleetFactory, tmp_path: Path
) -> None:
    # bash reads $BASH_ENV before every command: a host whose shell start-up prints lines of its own
    noise = tmp_path / "noise.sh"
    noise.write_text("echo 'Welcome to prod-7' >&2; echo 4242 >&2\n")
    fleet = await sshd_fleet(1, extra_config=[f"SetEnv BASH_ENV={noise}"])
    sleep = unique_sleep()
    engine, _ = await make_engine(fleet=fleet, pipeline={**PIPELINE, "build": [sleep]}, timeouts={"build": "1s"})

    events: list[Event] = []
    result = await engine.deploy("staging", "main", user="U0ALICE", sink=events.append)

    assert "timed out after 1s" in result.message
    # the build shares its session with the upload (deploy.hosts.chain): the shell prints its lines once, before the
    # first
    first = next(e for e in events if isinstance(e, HostStepFinished) and e.step == "upload")
    assert "Welcome to prod-7" in first.output_tail, "the shell's own lines are kept as output"
    assert [] == pgrep(sleep)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 256 KiB tmpfs: a host whose disk is (almost) full. Needs root to mount; skipped otherwise."""
    where = tmp_path / "small-disk"
    where.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(where)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


async def test_a_full_disk_fails_the_upload_naming_host_and_step_and_nothing_switches(
    make_engine: EngineFactory, app_repo: GitRepo, small_disk: Path
) -> None:
    engine, fleet = await make_engine(hosts=2)
    await engine.deploy("staging", "main", user="U0ALICE")
    full = small_disk / "app"
    full.mkdir()
    big = "x" * 400_000  # larger than the host's free space
    app_repo.checkout("feature/new-login")
    app_repo.commit("ship a big asset", {"asset.bin": big})
    app_repo.checkout("main")
    data = fleet.config_yaml(repo=app_repo.path, pipeline=PIPELINE, shared={"dirs": ["log"]})
    data["environments"]["staging"]["hosts"][1]["deploy_to"] = str(full)
    from deploy.config.models import parse_config
    from deploy.run.engine import Engine

    engine = Engine(parse_config(data), engine.store, tmp_data(engine), SshConnector)
    before = current_of(fleet, 0)

    result = await engine.deploy("staging", "feature/new-login", user="U0ALICE")

    assert Outcome.FAILED == result.outcome
    assert result.message.startswith(f"{name(fleet, 1)}: upload failed")
    assert "No space left on device" in result.hosts[1].output_tail
    assert before == current_of(fleet, 0), "the other host was not switched"
    assert [] == [p.name for p in (full / "releases").iterdir()], "the half-written release was removed"


async def test_a_run_opens_one_ssh_connection_per_host_whatever_the_number_of_steps(
    make_engine: EngineFactory,
) -> None:
    from deploy.hosts.connector import HostConnection
    from deploy.run.plan import Host

    class Counting(SshConnector):
        """The real connector, counting the connections it opens."""

        opened: list[str] = []  # noqa: RUF012 (shared by the connectors of one test)

        async def connect(self, host: Host, timeout: float) -> HostConnection:
            self.opened.append(host.name)
            return await super().connect(host, timeout)

    pipeline = {**PIPELINE, "build": ["true", "true", "./build.sh"], "migrate": {"run": "true"}}
    engine, fleet = await make_engine(hosts=3, pipeline=pipeline)
    engine = Engine(engine.config, engine.store, tmp_data(engine), Counting)

    result = await engine.deploy("staging", "main", user="U0ALICE")

    assert Outcome.SUCCESS == result.outcome
    assert sorted(name(fleet, i) for i in range(3)) == sorted(Counting.opened)
    assert len(engine.store.host_steps(result.run_id)) >= 3 * 7, "many steps, on those three connections"


async def test_a_login_shell_that_is_not_posix_gets_commands_through_sh(
    make_engine: EngineFactory, app_repo: GitRepo
) -> None:
    from deploy.config.models import parse_config

    engine, fleet = await make_engine(hosts=1)
    sleep = unique_sleep()
    data = fleet.config_yaml(
        repo=app_repo.path, pipeline={**PIPELINE, "build": [sleep]}, timeouts={"build": "1s"}, shared={"dirs": ["log"]}
    )
    data["ssh"]["login_shell"] = "other"
    engine = Engine(parse_config(data), engine.store, tmp_data(engine), SshConnector)

    result = await engine.deploy("staging", "main", user="U0ALICE")

    assert "build failed: timed out after 1s" in result.message
    assert [] == pgrep(sleep), "the step was killed through sh -c too"
    data["pipeline"] = PIPELINE
    data.pop("timeouts")  # the 1 s budget was for the sleep; a real build on a busy machine may take longer
    assert Outcome.SUCCESS == (await Engine(parse_config(data), engine.store, tmp_data(engine), SshConnector).deploy(
        "staging", "main", user="U0ALICE")).outcome  # fmt: skip
