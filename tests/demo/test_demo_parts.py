"""The demo's parts: embedded SSH hosts driven by a real asyncssh client, the demo repo, and a real deploy."""

from __future__ import annotations

import asyncio
import io
import os
import subprocess
import tarfile
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import asyncssh
import pytest

from demo.config import write_demo_config
from demo.fleet import DemoFleet, DemoHost
from demo.repo import make_demo_repo
from deploy.config.models import load_config
from deploy.events import Outcome
from deploy.hosts import remote
from deploy.hosts.ssh import SshConnector
from deploy.run.engine import Engine
from deploy.run.plan import Host
from deploy.store.tables import Store


@pytest.fixture
async def fleet(tmp_path: Path) -> AsyncIterator[DemoFleet]:
    demo = DemoFleet(tmp_path / "data")
    await demo.start()
    try:
        yield demo
    finally:
        await demo.stop()


async def connect(fleet: DemoFleet, host: DemoHost) -> asyncssh.SSHClientConnection:
    """A strict client: the demo key, and host keys checked against the fleet's known_hosts."""
    return await asyncssh.connect(
        host.address,
        host.port,
        username=fleet.user,
        client_keys=[str(fleet.client_key)],
        known_hosts=str(fleet.known_hosts),
        agent_path=None,
        connect_timeout=10,
    )


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def children_of_this_process() -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rpartition(")")[2].split()
            except OSError:
                continue
            if int(fields[1]) == os.getpid() and fields[0] != "Z":
                found.append(int(entry.name))
    return found


async def wait_until(check: Callable[[], bool], timeout: float = 10.0) -> bool:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not check():
        if loop.time() > deadline:
            return False
        await asyncio.sleep(0.05)
    return True


def http_get(port: int, path: str = "/") -> tuple[int, str]:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(f"http://127.0.0.1:{port}{path}", timeout=5) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


# -- the fleet ------------------------------------------------------------------------------------------------


async def test_layout_keys_and_known_hosts(fleet: DemoFleet, tmp_path: Path) -> None:
    assert [h.name for h in fleet.hosts["staging"]] == ["stg-1", "stg-2"]
    assert [h.name for h in fleet.hosts["production"]] == ["prod-1", "prod-2", "prod-3", "prod-4"]
    hosts = fleet.all_hosts
    assert all(h.address == "127.0.0.1" for h in hosts)
    assert len({h.port for h in hosts}) == 6
    assert len({h.app_port for h in hosts}) == 6
    assert len({h.public_key for h in hosts}) == 6
    demo = (tmp_path / "data" / "demo").resolve()
    assert fleet.client_key == demo / "client_key"
    assert fleet.known_hosts == demo / "known_hosts"
    for h in hosts:
        assert h.deploy_to == str(demo / "hosts" / h.name / "shop")
        assert Path(h.deploy_to).is_dir()
        assert (demo / "hosts" / h.name / "ssh_host_ed25519_key").exists()
    assert fleet.known_hosts.read_text().splitlines() == [f"[127.0.0.1]:{h.port} {h.public_key}" for h in hosts]
    assert all(h.public_key.startswith("ssh-ed25519 ") for h in hosts)


async def test_keys_are_kept_across_restarts(tmp_path: Path) -> None:
    first = await DemoFleet(tmp_path / "data").start()
    keys = [h.public_key for h in first.all_hosts]
    client = first.client_key.read_bytes()
    await first.stop()
    second = await DemoFleet(tmp_path / "data").start()
    try:
        assert [h.public_key for h in second.all_hosts] == keys
        assert second.client_key.read_bytes() == client
    finally:
        await second.stop()


async def test_a_command_runs_for_real_with_the_host_environment(fleet: DemoFleet) -> None:
    host = fleet.hosts["production"][2]
    async with await connect(fleet, host) as conn:
        result = await conn.run('echo "$SHIPBOT_DEMO_HOST"; pwd; echo oops >&2; exit 7')

    assert result.exit_status == 7
    assert result.stdout == f"prod-3\n{Path(host.deploy_to).parent}\n"
    assert result.stderr == "oops\n"


async def test_the_environment_is_minimal(fleet: DemoFleet) -> None:
    host = fleet.hosts["staging"][0]
    async with await connect(fleet, host) as conn:
        result = await conn.run("env", check=True)

    names = {line.split("=", 1)[0] for line in str(result.stdout).splitlines()}
    assert names - {"PWD", "SHLVL", "_"} == {"PATH", "HOME", "SHIPBOT_DEMO_HOST"}


async def test_the_first_line_is_the_process_group_of_the_command(fleet: DemoFleet) -> None:
    host = fleet.hosts["staging"][0]
    async with await connect(fleet, host) as conn:
        result = await conn.run(remote.with_pgid("ps -o pgid= -p $$"), input=remote.GO.decode(), check=True)

    marked, reported = str(result.stdout).split()
    assert marked == remote.PGID_MARK + reported


async def test_a_tar_archive_on_stdin_unpacks(fleet: DemoFleet) -> None:
    host = fleet.hosts["staging"][1]
    payload = os.urandom(300_000)  # binary, larger than one SSH window
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in {"app/blob.bin": payload, "app/hello.txt": b"hello\n"}.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    target = Path(host.deploy_to) / "releases" / "unpacked"
    async with await connect(fleet, host) as conn:
        result = await conn.run(remote.unpack(host.deploy_to, "unpacked"), input=buf.getvalue(), encoding=None)

    assert result.exit_status == 0, result.stderr
    assert (target / "app" / "blob.bin").read_bytes() == payload
    assert (target / "app" / "hello.txt").read_text() == "hello\n"


async def test_many_channels_at_once_on_one_connection(fleet: DemoFleet) -> None:
    host = fleet.hosts["production"][0]
    async with await connect(fleet, host) as conn:
        results = await asyncio.wait_for(asyncio.gather(*(conn.run(f"sleep 0.3; echo {i}") for i in range(40))), 20)

    assert [str(r.stdout).strip() for r in results] == [str(i) for i in range(40)]


async def test_unknown_key_and_wrong_user_are_refused(fleet: DemoFleet) -> None:
    host = fleet.hosts["staging"][0]
    stranger = asyncssh.generate_private_key("ssh-ed25519")
    with pytest.raises(asyncssh.PermissionDenied):
        await asyncssh.connect(
            host.address, host.port, username=fleet.user, client_keys=[stranger],
            known_hosts=str(fleet.known_hosts), agent_path=None,
        )  # fmt: skip
    with pytest.raises(asyncssh.PermissionDenied):
        await asyncssh.connect(
            host.address, host.port, username="someone-else", client_keys=[str(fleet.client_key)],
            known_hosts=str(fleet.known_hosts), agent_path=None,
        )  # fmt: skip


async def test_host_keys_are_checked_strictly(fleet: DemoFleet, tmp_path: Path) -> None:
    stg1, stg2 = fleet.hosts["staging"]
    wrong = tmp_path / "wrong_known_hosts"
    wrong.write_text(f"[127.0.0.1]:{stg1.port} {stg2.public_key}\n")
    with pytest.raises(asyncssh.HostKeyNotVerifiable):
        await asyncssh.connect(
            stg1.address, stg1.port, username=fleet.user, client_keys=[str(fleet.client_key)],
            known_hosts=str(wrong), agent_path=None,
        )  # fmt: skip


async def test_kill_by_process_group_stops_a_long_sleep(fleet: DemoFleet) -> None:
    host = fleet.hosts["staging"][0]
    async with await connect(fleet, host) as conn:
        process = await conn.create_process(remote.with_pgid("sleep 4711 & sleep 4712; wait"))
        pgid = int((await process.stdout.readline()).removeprefix(remote.PGID_MARK))
        process.stdin.write(remote.GO.decode())
        assert os.getpgid(pgid) == pgid and alive(pgid)

        killer = await conn.run(remote.kill_group(pgid, "TERM"))
        await asyncio.wait_for(process.wait(), 10)

        assert killer.exit_status == 0
        assert process.exit_signal is not None and process.exit_signal[0] == "TERM"
        assert await wait_until(lambda: not alive(pgid))
        assert await wait_until(lambda: fleet.leftover_pids() == [])


async def test_shipbot_kills_a_step_that_times_out(fleet: DemoFleet) -> None:
    host = fleet.hosts["production"][1]
    config = load_config(await asyncio.to_thread(_config_for, fleet))
    connector = SshConnector(config.ssh)
    conn = await connector.connect(Host(host.address, host.port, fleet.user, host.deploy_to), 10)
    try:
        result = await conn.run("echo started; sleep 4713", timeout=1)
        assert result.timed_out and "started" in result.output
        assert await wait_until(lambda: fleet.leftover_pids() == [])
        after = await conn.run("echo still usable", timeout=10)
        assert after.ok and after.output.splitlines()[-1] == "still usable"
    finally:
        await conn.close()
        await connector.close()


def _config_for(fleet: DemoFleet) -> Path:
    repo = make_demo_repo(fleet.root.parent / "repo")
    return write_demo_config(fleet.root.parent / "shipbot.yml", repo, fleet)


async def test_a_channel_closed_early_takes_its_command_along(fleet: DemoFleet) -> None:
    host = fleet.hosts["staging"][1]
    async with await connect(fleet, host) as conn:
        process = await conn.create_process(remote.with_pgid("sleep 4714"))
        pgid = int((await process.stdout.readline()).removeprefix(remote.PGID_MARK))
        process.stdin.write(remote.GO.decode())
        assert alive(pgid)
        process.close()
        assert await wait_until(lambda: not alive(pgid))


async def test_stop_leaves_no_process_and_no_listener(tmp_path: Path) -> None:
    children_before = set(children_of_this_process())
    fleet = await DemoFleet(tmp_path / "data").start()
    host = fleet.hosts["staging"][0]
    conn = await connect(fleet, host)
    running = await conn.create_process(remote.with_pgid("sleep 4715"))
    pgid = int((await running.stdout.readline()).removeprefix(remote.PGID_MARK))
    running.stdin.write(remote.GO.decode())
    detached = await conn.run("sleep 4716 >/dev/null 2>&1 </dev/null & echo $!", check=True)
    orphan = int(str(detached.stdout))
    assert alive(pgid) and alive(orphan)

    await fleet.stop()

    assert not alive(pgid) and not alive(orphan)
    assert fleet.leftover_pids() == []
    assert set(children_of_this_process()) <= children_before
    await asyncio.wait_for(conn.wait_closed(), 10)
    with pytest.raises(OSError):
        await connect(fleet, host)
    await fleet.stop()  # twice is fine


# -- the repo -------------------------------------------------------------------------------------------------


def git(repo: Path, *args: str) -> str:
    env = {**os.environ, "GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_NOSYSTEM": "1"}
    return subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True, text=True).stdout


def test_demo_repo_refs_and_files(tmp_path: Path) -> None:
    repo = make_demo_repo(tmp_path / "shop")
    heads = git(repo, "rev-parse", "main", "feature/new-login", "broken-health", "v1.0.0^{commit}").split()

    assert make_demo_repo(tmp_path / "shop") == repo  # a second call keeps what is there
    assert git(repo, "rev-parse", "main", "feature/new-login", "broken-health", "v1.0.0^{commit}").split() == heads
    assert heads[0] == heads[3]
    assert git(repo, "rev-list", "--count", "main..feature/new-login").strip() == "2"
    assert git(repo, "rev-list", "--count", "main..broken-health").strip() == "1"
    assert git(repo, "show", "main:VERSION") == "1.0\n"
    assert git(repo, "show", "feature/new-login:VERSION") == "1.1\n"
    assert git(repo, "status", "--porcelain") == ""
    modes = git(repo, "ls-tree", "main", "bin/").split("\n")
    assert all(line.startswith("100755") for line in modes if line)
    assert "127.0.0.1" in git(repo, "show", "main:app.py")


def test_a_directory_that_is_not_the_demo_repo_is_left_alone(tmp_path: Path) -> None:
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError):
        make_demo_repo(tmp_path / "other")
    assert (tmp_path / "other" / "notes.txt").read_text() == "mine"


# -- the config and a real deploy -----------------------------------------------------------------------------


async def test_config_shape(fleet: DemoFleet) -> None:
    config = load_config(await asyncio.to_thread(_config_for, fleet))

    assert config.app == "shop"
    staging, production = config.environments["staging"], config.environments["production"]
    assert [(h.port, h.deploy_to) for h in staging.hosts] == [(h.port, h.deploy_to) for h in fleet.hosts["staging"]]
    assert [h.roles for h in production.hosts] == [["web", "migrate"], ["web"], ["web"], ["web"]]
    assert config.ssh.user == fleet.user
    assert config.ssh.identity == str(fleet.client_key)
    assert config.ssh.known_hosts == str(fleet.known_hosts)
    assert config.pipeline.healthcheck is not None
    assert (config.pipeline.healthcheck.retries, config.pipeline.healthcheck.interval) == (5, 0.5)
    assert config.pipeline.healthcheck.timeout == 5
    assert set(config.tasks) == {"whoami", "tail-log"}
    assert config.keep_releases == 5
    assert config.access["admins"] == ["U0ADMIN"]
    assert config.access["environments"]["production"]["approval"] == "required"
    assert config.access["environments"]["production"]["queue"] is True
    for h in fleet.all_hosts:
        assert (Path(h.deploy_to) / "shared" / "port").read_text() == f"{h.app_port}\n"


async def test_deploy_revert_and_cleanup_on_the_demo_fleet(fleet: DemoFleet, tmp_path: Path) -> None:
    data = tmp_path / "state"
    config = load_config(await asyncio.to_thread(_config_for, fleet))
    engine = Engine(config, Store.in_data_dir(data), data, SshConnector)
    main_sha = await engine.resolve_ref("main")
    staging = fleet.hosts["staging"]

    result = await engine.deploy("staging", "main", user="U0ALICE")

    assert result.outcome is Outcome.SUCCESS, result.message
    for h in staging:
        status, page = await asyncio.to_thread(http_get, h.app_port)
        assert status == 200 and "shop v1.0<" in page
        assert await asyncio.to_thread(http_get, h.app_port, "/version") == (200, f"{main_sha}\n")
    pids = [int((Path(h.deploy_to) / "shared" / "run" / "app.pid").read_text()) for h in staging]
    assert all(alive(p) for p in pids)

    broken = await engine.deploy("staging", "broken-health", user="U0ALICE")

    assert broken.outcome is Outcome.FAILED
    assert "healthcheck" in broken.message
    for h in staging:
        assert await asyncio.to_thread(http_get, h.app_port, "/version") == (200, f"{main_sha}\n")
        assert "shop v1.0<" in (await asyncio.to_thread(http_get, h.app_port))[1]
    pids = [int((Path(h.deploy_to) / "shared" / "run" / "app.pid").read_text()) for h in staging]

    task = await engine.run_task("whoami", "staging", user="U0ALICE")
    assert task.outcome is Outcome.SUCCESS

    await fleet.stop()

    assert not any(alive(p) for p in pids)
    for h in staging:
        with pytest.raises(OSError):
            await asyncio.to_thread(http_get, h.app_port, "/health")
    assert fleet.leftover_pids() == []


async def test_stop_cleans_up_an_app_whose_stop_script_is_gone(fleet: DemoFleet, tmp_path: Path) -> None:
    data = tmp_path / "state"
    engine = Engine(
        load_config(await asyncio.to_thread(_config_for, fleet)), Store.in_data_dir(data), data, SshConnector
    )
    result = await engine.deploy("production", "feature/new-login", user="U0ALICE")
    assert result.outcome is Outcome.SUCCESS, result.message
    prod = fleet.hosts["production"]
    assert "/login" in (await asyncio.to_thread(http_get, prod[0].app_port))[1]
    pids = [int((Path(h.deploy_to) / "shared" / "run" / "app.pid").read_text()) for h in prod]
    for h in prod:
        (Path(h.deploy_to) / "current" / "bin" / "stop").unlink()

    await fleet.stop()

    assert not any(alive(p) for p in pids)
    assert fleet.leftover_pids() == []
