"""How runs reach hosts over real sshd: secrets on standard input, the agent and default keys, a named key that
is missing, one jump host connection per run, a bastion that is down, and bookkeeping reads taken whole."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from deploy.config.models import parse_config
from deploy.errors import ConfigError
from deploy.events import Event, HostStepStarted, Outcome
from deploy.hosts.ssh import SshConnector
from deploy.run.engine import Engine
from deploy.run.plan import Host
from tests.engine.conftest import PIPELINE, EngineFactory
from tests.support.gitrepo import GitRepo
from tests.support.sshd_fleet import FleetFactory, SshdFleet

pytestmark = pytest.mark.sshd

SECRET = "s3cr3t-Value-7f4e9"


def host_of(fleet: SshdFleet, i: int) -> Host:
    h = fleet.hosts[i]
    return Host(h.address, h.port, fleet.user, h.deploy_to)


def engine_with(engine: Engine, data: dict[str, object]) -> Engine:
    return Engine(parse_config(data), engine.store, engine.mirror.path.parent.parent, SshConnector)


async def test_a_secret_reaches_the_step_but_never_a_command_line_on_the_host(
    make_engine: EngineFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHOP_TOKEN", SECRET)
    build = 'sleep 3; printf %s "$SHOP_TOKEN" > ../../SAW_SECRET'
    engine, fleet = await make_engine(hosts=1, pipeline={**PIPELINE, "build": [build]}, secret_env=["SHOP_TOKEN"])
    building = asyncio.Event()

    def sink(event: Event) -> None:
        if isinstance(event, HostStepStarted) and event.step == "build":
            building.set()

    run = asyncio.create_task(engine.deploy("staging", "main", user="U0ALICE", sink=sink))
    await asyncio.wait_for(building.wait(), 30)
    await asyncio.sleep(0.5)
    connector = SshConnector(engine.config.ssh)
    conn = await connector.connect(host_of(fleet, 0), 10)
    try:
        ps = await conn.read("ps -e -ww -o args", 10)  # another session on the host, as any user could
    finally:
        await conn.close()

    assert (True, True) == (ps.ok, "sleep 3" in ps.output), "the build was running while ps looked"
    assert [] == [line for line in ps.output.splitlines() if SECRET in line]
    assert Outcome.SUCCESS == (await run).outcome
    assert SECRET == (fleet.hosts[0].local_deploy_to / "SAW_SECRET").read_text(), "the step saw the secret"


@pytest.fixture
def bare_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A HOME with an empty ~/.ssh and no agent: what a fresh controller has."""
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True, mode=0o700)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    return home


async def test_without_an_identity_the_default_key_is_used_as_openssh_does(
    make_engine: EngineFactory, app_repo: GitRepo, bare_home: Path
) -> None:
    engine, fleet = await make_engine(hosts=1)
    shutil.copy(fleet.client_key, bare_home / ".ssh" / "id_ed25519")
    (bare_home / ".ssh" / "id_ed25519").chmod(0o600)
    data = fleet.config_yaml(repo=app_repo.path, pipeline=PIPELINE, shared={"dirs": ["log"]})
    data["ssh"]["identity"] = None  # as when the key is left unset (the default)

    result = await engine_with(engine, data).deploy("staging", "main", user="U0ALICE")

    assert Outcome.SUCCESS == result.outcome, result.message


@pytest.fixture
def agent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, bare_home: Path) -> Iterator[Path]:
    """A real ssh-agent on a socket of this test, its SSH_AUTH_SOCK set."""
    sock = tmp_path / "agent.sock"
    proc = subprocess.Popen(["ssh-agent", "-D", "-a", str(sock)], stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while not sock.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        monkeypatch.setenv("SSH_AUTH_SOCK", str(sock))
        yield sock
    finally:
        proc.terminate()
        proc.wait(10)


async def test_without_an_identity_the_agents_keys_are_used(
    make_engine: EngineFactory, app_repo: GitRepo, agent: Path
) -> None:
    engine, fleet = await make_engine(hosts=1)
    added = subprocess.run(["ssh-add", str(fleet.client_key)], capture_output=True, env=os.environ.copy())
    assert 0 == added.returncode, added.stderr
    data = fleet.config_yaml(repo=app_repo.path)
    data["ssh"]["identity"] = None

    status = await engine_with(engine, data).status("staging")

    assert [(True, "")] == [(h.reachable, h.error) for h in status.hosts]


async def test_a_named_key_that_does_not_exist_is_a_config_error_before_anything_starts(
    make_engine: EngineFactory, app_repo: GitRepo, tmp_path: Path
) -> None:
    engine, fleet = await make_engine(hosts=1)
    data = fleet.config_yaml(repo=app_repo.path, pipeline=PIPELINE)
    data["ssh"]["identity"] = str(tmp_path / "keys" / "deploy_ed25519")

    with pytest.raises(ConfigError) as caught:
        await engine_with(engine, data).deploy("staging", "main", user="U0ALICE")

    assert [f"ssh.identity: the key file {tmp_path}/keys/deploy_ed25519 does not exist"] == caught.value.problems
    assert ([], False) == (await engine.history("staging"), (fleet.hosts[0].local_deploy_to / "releases").exists())


def sshd_children(fleet: SshdFleet, i: int) -> list[str]:
    """The sessions host ``i``'s sshd is serving now (one child process per open connection)."""
    out = subprocess.run(["pgrep", "-P", str(fleet.pid(i))], capture_output=True, text=True)
    return out.stdout.split()


async def test_one_jump_connection_serves_every_host_of_a_run_and_is_closed_at_its_end(
    make_engine: EngineFactory, sshd_fleet: FleetFactory, app_repo: GitRepo
) -> None:
    fleet = await sshd_fleet(4)
    engine, _ = await make_engine(fleet=fleet)
    bastion = fleet.hosts[0]
    data = fleet.config_yaml(
        repo=app_repo.path, environments={"staging": [1, 2, 3]}, pipeline={**PIPELINE, "build": ["sleep 1"]},
        shared={"dirs": ["log"]}, tasks={"hello": {"run": "echo hi"}},
    )  # fmt: skip
    data["ssh"]["jump_host"] = f"{fleet.user}@{bastion.address}:{bastion.port}"
    engine = engine_with(engine, data)
    during: list[int] = []

    def sink(event: Event) -> None:
        if isinstance(event, HostStepStarted) and event.step == "build":
            during.append(len(sshd_children(fleet, 0)))

    deployed = await engine.deploy("staging", "main", user="U0ALICE", sink=sink)
    await asyncio.sleep(0.5)
    after_deploy = sshd_children(fleet, 0)
    rolled_task = await engine.run_task("hello", "staging", user="U0ALICE")
    await asyncio.sleep(0.5)

    assert (Outcome.SUCCESS, Outcome.SUCCESS) == (deployed.outcome, rolled_task.outcome), deployed.message
    assert {1} == set(during), "one connection to the bastion carries all three hosts"
    assert ([], []) == (after_deploy, sshd_children(fleet, 0)), "closed when the deploy and the task ended"


async def test_a_bastion_that_is_down_fails_every_host_at_once_naming_it_tried_once(
    make_engine: EngineFactory, sshd_fleet: FleetFactory, app_repo: GitRepo
) -> None:
    fleet = await sshd_fleet(3)
    engine, _ = await make_engine(fleet=fleet)
    attempts: list[asyncio.StreamWriter] = []
    done = asyncio.Event()

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        attempts.append(writer)  # accepts, then never speaks SSH: a bastion that hangs
        await done.wait()
        writer.close()
        await writer.wait_closed()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    data = fleet.config_yaml(repo=app_repo.path, pipeline=PIPELINE, timeouts={"connect": "1s"})
    data["ssh"]["jump_host"] = f"bastion@127.0.0.1:{port}"
    try:
        began = time.monotonic()
        result = await engine_with(engine, data).deploy("staging", "main", user="U0ALICE")
        took = time.monotonic() - began
    finally:
        done.set()
        server.close()
        await server.wait_closed()
        await asyncio.sleep(0.1)

    assert Outcome.FAILED == result.outcome
    assert [f"the jump host bastion@127.0.0.1:{port} is unreachable: connection timed out"] * 3 == [
        h.error for h in result.hosts
    ]
    assert (1, True) == (len(attempts), took < 6), f"{len(attempts)} connection attempts in {took:.1f}s"


async def test_a_bookkeeping_read_past_the_limit_fails_loudly_instead_of_cutting(sshd_fleet: FleetFactory) -> None:
    fleet = await sshd_fleet(1)
    data = fleet.config_yaml()
    connector = SshConnector(parse_config(data).ssh, read_limit=100_000)
    conn = await connector.connect(host_of(fleet, 0), 10)
    try:
        whole = await conn.read("seq 1 15000", 10)  # 78,894 bytes: more than a chat tail, under the limit
        over = await conn.read("seq 1 30000", 10)
        shown = await conn.run("seq 1 30000", 10)
    finally:
        await conn.close()
        await connector.close()

    assert [str(n) for n in range(1, 15001)] == whole.output.splitlines()
    assert (False, "its output is larger than 100000 bytes, the most shipbot reads from a host") == (
        over.ok,
        over.error,
    )
    assert (True, "30000") == (shown.ok, shown.output.splitlines()[-1]), "a step's output for people is a tail"


async def test_a_step_that_ends_before_reading_its_input_fails_with_its_own_status_not_a_lost_connection(
    sshd_fleet: FleetFactory,
) -> None:
    # an upload whose checks fail before tar reads the archive: the channel closes while the archive is being sent
    fleet = await sshd_fleet(1)
    connector = SshConnector(parse_config(fleet.config_yaml()).ssh)
    conn = await connector.connect(host_of(fleet, 0), 10)
    try:
        results = [
            await conn.run("echo 'shared file .env is missing' >&2; exit 3", 10, b"x" * 8_000_000) for _ in range(5)
        ]
        after = await conn.run("echo still here", 10)
    finally:
        await conn.close()
        await connector.close()

    assert [(3, False)] * 5 == [(r.exit_status, r.lost) for r in results]
    assert all(".env is missing" in r.output for r in results)
    assert (0, "still here") == (after.exit_status, after.output.strip())
