"""One measured deploy by one tool, in its own process: ``python -m bench.fanout.worker SPEC.json``.

The process makes itself a child subreaper, imports the tool (how long the process took from its start to there
is ``start_seconds``: what a person typing the command waits for besides the work), then measures wall time and the
CPU seconds of itself plus every process it started (``RUSAGE_SELF`` + ``RUSAGE_CHILDREN``) over the deploy alone.
Processes a tool leaves behind (Ansible's ``ControlPersist`` ssh masters, which do the encryption for Ansible) are
re-parented here, terminated after the deploy and reaped, so their CPU is counted too. The result goes to
``spec["result"]``.

Tools:

- ``floor-true``: asyncssh, per host: connect, one ``true``, close. The least any SSH fan-out can do.
- ``floor-seq``: asyncssh, per host: connect, then the deploy's commands one after another (the archive on standard
  input for upload), close. No bookkeeping, no events, no store: the least a deploy with these commands can do.
- ``floor-pgid``: ``floor-seq`` with every command wrapped as shipbot wraps it (``deploy.hosts.remote.with_pgid``: the
  login shell prints its pid, then ``exec sh -c COMMAND``), to show what that wrapper costs.
- ``shipbot``: ``Engine.deploy`` with the generated config (SQLite store, events, the real SSH adapter).
- ``pssh-release``: the one-liner a team would type instead of a deploy tool: parallel-ssh's ``ParallelSSHClient``
  runs one command per host that clones the release from the bare repository on the controller's disk and switches
  ``current`` (``set -e; mkdir -p D/releases; git clone -q --depth 1 file://REPO D/releases/ID; ln -sfn releases/ID
  D/current.tmp && mv -T D/current.tmp D/current``). One SSH exec per host, no bookkeeping at all.
- ``pssh``: parallel-ssh ``ParallelSSHClient`` (native ssh2 client), one ``run_command`` + ``join`` per step;
  upload as ``copy_file`` (SFTP) to a temporary file, then tar.
- ``fabric``: Fabric ``ThreadingGroup``, one ``group.run`` per step; upload as ``group.put`` (SFTP), then tar.
- ``ansible``: ``ansible-playbook`` with one ``shell`` task per step (the command marked ``!unsafe`` so Jinja leaves
  it alone), upload as ``copy`` then tar; forks and pipelining from the spec, facts not gathered.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import json
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

PR_SET_CHILD_SUBREAPER = 36


def _subreaper() -> None:
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def _cpu() -> float:
    s = resource.getrusage(resource.RUSAGE_SELF)
    c = resource.getrusage(resource.RUSAGE_CHILDREN)
    return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime


def _process_started() -> float:
    """When this process started (epoch seconds), from /proc: the interpreter's own start-up counts too."""
    import psutil  # noqa: PLC0415

    return float(psutil.Process().create_time())


def _reap_leftovers() -> int:
    """Terminate and reap every remaining descendant; how many there were."""
    import psutil  # noqa: PLC0415

    me = psutil.Process()
    left = me.children(recursive=True)
    for proc in left:
        with contextlib.suppress(psutil.Error):
            proc.terminate()
    _, alive = psutil.wait_procs(left, timeout=5)
    for proc in alive:
        with contextlib.suppress(psutil.Error):
            proc.kill()
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            break
        if pid == 0:
            time.sleep(0.05)
            if not me.children():
                break
    return len(left)


# -- asyncssh floors ----------------------------------------------------------------------------------------------


def _asyncssh_options(spec: dict[str, Any]) -> Any:
    import asyncssh  # noqa: PLC0415

    # the same options shipbot's SSH adapter uses (deploy/hosts/ssh.py), so the floor differs only in what it leaves out
    return asyncssh.SSHClientConnectionOptions(
        username=spec["user"],
        known_hosts=spec["known_hosts"],
        client_keys=[spec["key"]],
        agent_path=None,
        connect_timeout=120,
        login_timeout=120,
        keepalive_interval=15,
        keepalive_count_max=3,
        compression_algs=None,
    )


async def _floor(spec: dict[str, Any], sequence: bool, pgid: bool = False) -> tuple[bool, str, dict[str, Any]]:
    import asyncssh  # noqa: PLC0415

    from deploy.hosts.remote import GO, with_pgid  # noqa: PLC0415

    options = _asyncssh_options(spec)
    archive = Path(spec["archive"]).read_bytes() if sequence else b""
    gate = asyncio.Semaphore(spec["concurrency"])
    failures: list[str] = []

    async def one(address: str, port: int) -> None:
        try:
            async with gate:
                conn = await asyncssh.connect(address, port, options=options)
            async with conn:
                steps = spec["steps"] if sequence else [{"name": "true", "command": "true", "stdin": False}]
                for step in steps:
                    command = with_pgid(step["command"]) if pgid else step["command"]
                    given = archive if step["stdin"] else b""
                    given = GO + given if pgid else given  # the go-ahead shipbot sends once the group is recorded
                    result = await conn.run(command, input=given or None, encoding=None)
                    if result.exit_status != 0:
                        failures.append(f"{port} {step['name']}: exit {result.exit_status}")
                        return
        except (OSError, asyncssh.Error) as exc:
            failures.append(f"{port}: {exc!r}")

    await asyncio.gather(*(one(a, p) for a, p in spec["hosts"]))
    return not failures, "; ".join(failures[:3]), {"failed_hosts": len(failures)}


# -- shipbot --------------------------------------------------------------------------------------------------------


async def _shipbot(spec: dict[str, Any]) -> tuple[bool, str, dict[str, Any]]:
    from deploy.config.models import load_config  # noqa: PLC0415
    from deploy.events import Event, HostStepFinished  # noqa: PLC0415
    from deploy.hosts.ssh import SshConnector  # noqa: PLC0415
    from deploy.run.engine import Engine  # noqa: PLC0415
    from deploy.store.tables import Store  # noqa: PLC0415

    data_dir = Path(spec["data_dir"])
    config = load_config(spec["config"])
    # SHIPBOT_BENCH_DATABASE_URL: the same deploy with the store on that database (PostgreSQL) instead of SQLite
    store = Store.in_data_dir(data_dir, database_url=os.environ.get("SHIPBOT_BENCH_DATABASE_URL") or None)
    execs: dict[str, int] = {}
    engine = Engine(config, store, data_dir, _counting_connector(execs) if spec.get("count_execs") else SshConnector)
    counts = {"events": 0, "steps": 0}

    def sink(event: Event) -> None:
        counts["events"] += 1
        if isinstance(event, HostStepFinished):
            counts["steps"] += 1

    finished = await engine.deploy(spec["environment"], user="U0BENCH", sink=sink)
    store.close()
    ok = finished.outcome.value == "success"
    per_host = sorted(execs.values())
    extra = {**counts, "run_seconds": round(finished.duration, 3)}
    if per_host:
        extra["execs_per_host"] = per_host[len(per_host) // 2]
        extra["execs_per_host_max"] = per_host[-1]
    return ok, "" if ok else finished.message[:300], extra


def _counting_connector(counts: dict[str, int]) -> Any:
    """shipbot's SSH adapter, counting the commands (SSH execs) it runs on each host."""
    from deploy.hosts.ssh import SshConnector  # noqa: PLC0415

    class Counting(SshConnector):
        async def connect(self, host: Any, timeout: float) -> Any:
            conn = await super().connect(host, timeout)
            run, read = conn.run, conn.read

            async def counted_run(*args: Any, **kwargs: Any) -> Any:
                counts[host.name] = counts.get(host.name, 0) + 1
                return await run(*args, **kwargs)

            async def counted_read(*args: Any, **kwargs: Any) -> Any:
                counts[host.name] = counts.get(host.name, 0) + 1
                return await read(*args, **kwargs)

            conn.run, conn.read = counted_run, counted_read  # type: ignore[method-assign]
            return conn

    return Counting


# -- peers ----------------------------------------------------------------------------------------------------------


def _pssh(spec: dict[str, Any]) -> tuple[bool, str, dict[str, Any]]:
    from gevent import joinall  # noqa: PLC0415
    from pssh.clients import ParallelSSHClient  # noqa: PLC0415
    from pssh.config import HostConfig  # noqa: PLC0415

    hosts = [a for a, _ in spec["hosts"]]
    config = [HostConfig(port=p, user=spec["user"], private_key=spec["key"]) for _, p in spec["hosts"]]
    client = ParallelSSHClient(
        hosts, host_config=config, pool_size=spec["concurrency"], num_retries=1, timeout=120, retry_delay=1
    )
    for step in spec["steps"]:
        command = step["command"]
        if step["stdin"]:
            joinall(client.copy_file(spec["archive"], step["tmp"]), raise_error=True)
            command = step["file_command"]
        output = client.run_command(command)
        client.join(output)
        bad = []
        for host_out in output:
            for _ in host_out.stdout or ():
                pass
            if host_out.exception is not None or host_out.exit_code != 0:
                bad.append(f"{step['name']}: exit {host_out.exit_code} {host_out.exception!r}")
        if bad:
            return False, "; ".join(bad[:3]), {"failed_hosts": len(bad)}
    return True, "", {}


def _pssh_release(spec: dict[str, Any]) -> tuple[bool, str, dict[str, Any]]:
    from pssh.clients import ParallelSSHClient  # noqa: PLC0415
    from pssh.config import HostConfig  # noqa: PLC0415

    hosts = [a for a, _ in spec["hosts"]]
    config = [HostConfig(port=p, user=spec["user"], private_key=spec["key"]) for _, p in spec["hosts"]]
    client = ParallelSSHClient(
        hosts, host_config=config, pool_size=spec["concurrency"], num_retries=1, timeout=120, retry_delay=1
    )
    output = client.run_command(spec["release_command"])
    client.join(output)
    bad = []
    for host_out in output:
        for _ in host_out.stdout or ():
            pass
        if host_out.exception is not None or host_out.exit_code != 0:
            bad.append(f"exit {host_out.exit_code} {host_out.exception!r}")
    return not bad, "; ".join(bad[:3]), {"failed_hosts": len(bad), "execs_per_host": 1}


def _fabric(spec: dict[str, Any]) -> tuple[bool, str, dict[str, Any]]:
    from fabric import Connection, ThreadingGroup  # noqa: PLC0415
    from fabric.exceptions import GroupException  # noqa: PLC0415

    connections = []
    for address, port in spec["hosts"]:
        conn = Connection(
            address,
            user=spec["user"],
            port=port,
            connect_timeout=120,
            connect_kwargs={"key_filename": [spec["key"]], "look_for_keys": False, "allow_agent": False},
        )
        conn.client.load_host_keys(spec["known_hosts"])
        connections.append(conn)
    group = ThreadingGroup.from_connections(connections)
    try:
        for step in spec["steps"]:
            command = step["command"]
            if step["stdin"]:
                group.put(spec["archive"], remote=step["tmp"])
                command = step["file_command"]
            group.run(command, hide=True, in_stream=False)
    except GroupException as exc:
        failed = [f"{c.port}: {r!r}"[:200] for c, r in exc.result.failed.items()]
        return False, "; ".join(failed[:3]), {"failed_hosts": len(failed)}
    finally:
        group.close()
    return True, "", {}


def _ansible_files(spec: dict[str, Any]) -> tuple[Path, Path, Path]:
    work = Path(spec["work"])
    (work / "cp").mkdir(parents=True, exist_ok=True)
    (work / "tmp").mkdir(parents=True, exist_ok=True)
    cfg = work / "ansible.cfg"
    cfg.write_text(
        "[defaults]\n"
        f"forks = {spec['concurrency']}\n"
        "host_key_checking = True\n"
        "gathering = explicit\n"
        "interpreter_python = /usr/bin/python3\n"
        "retry_files_enabled = False\n"
        "timeout = 120\n"
        f"private_key_file = {spec['key']}\n"
        f"remote_user = {spec['user']}\n"
        f"local_tmp = {work / 'tmp'}\n"
        "[ssh_connection]\n"
        f"pipelining = {spec.get('pipelining', True)}\n"
        f"control_path_dir = {work / 'cp'}\n"
        "ssh_args = -o ControlMaster=auto -o ControlPersist=60s -o IdentitiesOnly=yes "
        f"-o UserKnownHostsFile={spec['known_hosts']} -o StrictHostKeyChecking=yes\n"
    )
    inventory = work / "inventory.ini"
    inventory.write_text(
        "[bench]\n" + "".join(f"h{i + 1} ansible_host={a} ansible_port={p}\n" for i, (a, p) in enumerate(spec["hosts"]))
    )
    tasks = []
    for step in spec["steps"]:
        if step["stdin"]:
            tasks.append(
                f"    - name: {step['name']} (copy)\n"
                f"      copy: {{src: {json.dumps(spec['archive'])}, dest: {json.dumps(step['tmp'])}, mode: '0644'}}\n"
            )
            command = step["file_command"]
        else:
            command = step["command"]
        tasks.append(f"    - name: {step['name']}\n      shell: !unsafe {json.dumps(command)}\n")
    playbook = work / "deploy.yml"
    playbook.write_text("- hosts: bench\n  gather_facts: false\n  tasks:\n" + "".join(tasks))
    return cfg, inventory, playbook


def _ansible(spec: dict[str, Any]) -> tuple[bool, str, dict[str, Any]]:
    cfg, inventory, playbook = _ansible_files(spec)
    log = Path(spec["work"]) / "ansible.log"
    binary = str(Path(sys.executable).parent / "ansible-playbook")
    with log.open("wb") as out:
        proc = subprocess.run(
            [binary, "-i", str(inventory), str(playbook)],
            env={**os.environ, "ANSIBLE_CONFIG": str(cfg), "ANSIBLE_NOCOLOR": "1"},
            stdout=out,
            stderr=subprocess.STDOUT,
            check=False,
        )
    tail = " | ".join(log.read_text(errors="replace").strip().splitlines()[-3:])
    return proc.returncode == 0, "" if proc.returncode == 0 else tail[-300:], {}


# -- main -------------------------------------------------------------------------------------------------------------


def main() -> int:
    spec = json.loads(Path(sys.argv[1]).read_text())
    _subreaper()
    tool = spec["tool"]
    if tool in ("floor-true", "floor-seq", "floor-pgid", "shipbot"):
        import asyncssh  # noqa: F401, PLC0415
    if tool == "shipbot":
        import deploy.run.engine  # noqa: F401, PLC0415
    elif tool in ("pssh", "pssh-release"):
        import pssh.clients  # noqa: F401, PLC0415
    elif tool == "fabric":
        import fabric  # noqa: F401, PLC0415
    cpu0 = _cpu()
    t0 = time.monotonic()
    start_seconds = time.time() - _process_started()
    ok, note, extra = False, "", {}
    try:
        if tool == "floor-true":
            ok, note, extra = asyncio.run(_floor(spec, sequence=False))
        elif tool == "floor-seq":
            ok, note, extra = asyncio.run(_floor(spec, sequence=True))
        elif tool == "floor-pgid":
            ok, note, extra = asyncio.run(_floor(spec, sequence=True, pgid=True))
        elif tool == "shipbot" and spec.get("profile"):
            import cProfile  # noqa: PLC0415

            with cProfile.Profile() as profile:
                ok, note, extra = asyncio.run(_shipbot(spec))
            profile.dump_stats(spec["profile"])
        elif tool == "shipbot":
            ok, note, extra = asyncio.run(_shipbot(spec))
        elif tool == "pssh":
            ok, note, extra = _pssh(spec)
        elif tool == "pssh-release":
            ok, note, extra = _pssh_release(spec)
        elif tool == "fabric":
            ok, note, extra = _fabric(spec)
        elif tool == "ansible":
            ok, note, extra = _ansible(spec)
        else:
            note = f"unknown tool {tool}"
    except Exception as exc:  # reported as a failed run, with the reason
        note = f"{type(exc).__name__}: {exc}"[:400]
    t1 = time.monotonic()
    extra["leftover_processes"] = _reap_leftovers()
    cpu1 = _cpu()
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    Path(spec["result"]).write_text(
        json.dumps(
            {
                "ok": ok,
                "wall": t1 - t0,
                "cpu": cpu1 - cpu0,
                "note": note,
                "maxrss_kb": maxrss,
                "start_seconds": round(start_seconds, 3),
                **extra,
            }
        )
    )
    return 0


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    sys.exit(main())
