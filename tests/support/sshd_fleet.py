"""Simulated hosts as real OpenSSH ``sshd`` processes on loopback, for tests and benchmarks.

Each host gets its own ``sshd`` process, its own ed25519 host key, its own port (``addresses="ports"``) or its
own ``127.0.x.y`` address sharing one port (``addresses="loopback"``), and its own folder ``root/hosts/hN/``
whose ``app/`` subfolder serves as that host's ``deploy_to``. With ``mount_at="/srv/app"`` (root only) every
``sshd`` runs in a private mount namespace where the host's ``app/`` folder is bind-mounted over that common
path, so all hosts share one ``deploy_to`` yet each sees only its own files.

One client key pair (made with ``ssh-keygen``) is authorized on every host, and ``known_hosts`` lists every
host's key (``[address]:port ssh-ed25519 ...``), so a real client connects with::

    async with SshdFleet(tmp_path, 3) as fleet:
        host = fleet.hosts[0]
        async with asyncssh.connect(
            host.address, host.port, username=fleet.user,
            client_keys=[str(fleet.client_key)], known_hosts=str(fleet.known_hosts),
        ) as conn:
            await conn.run("echo hi", check=True)

Hosts are numbered from 0 in the API (``fleet.hosts[i]``, ``stop_host(i)``) and named ``h1``..``hN``.
``stop_host`` kills the host's listener and every process it spawned (open connections drop, as when a
machine goes down); ``stop()`` does that for every host and waits for each ``sshd`` to be reaped.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import getpass
import ipaddress
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, Protocol, Self

from tests.support.ports import free_port

SSHD = Path("/usr/sbin/sshd")
AddressMode = Literal["ports", "loopback"]

_PROBE_IDENT = b"SSH-2.0-fleet-probe\r\n"
_KEYGEN_BATCH = 32
_SETPRIV = shutil.which("setpriv")


class FleetError(RuntimeError):
    """A host did not start (the message names the host and quotes sshd's stderr)."""


@dataclass(frozen=True)
class SshdHost:
    """One simulated host. ``deploy_to`` is the path as seen over SSH; ``local_deploy_to`` is where its
    files live on this machine (the same path unless the fleet uses ``mount_at``)."""

    index: int
    name: str
    address: str
    port: int
    folder: Path
    deploy_to: str
    local_deploy_to: Path
    host_key: Path
    config: Path
    log: Path

    @property
    def known_hosts_name(self) -> str:
        """The host's name as written in known_hosts: ``[address]:port``, or bare ``address`` on port 22."""
        return self.address if self.port == 22 else f"[{self.address}]:{self.port}"


class FleetFactory(Protocol):
    """The ``sshd_fleet`` fixture: ``fleet = await sshd_fleet(3)``; every fleet is stopped at teardown."""

    async def __call__(self, count: int = 3, **options: Any) -> SshdFleet: ...


def sshd_unavailable_reason(sshd: Path = SSHD) -> str | None:
    """Why the harness cannot run here, or None when it can."""
    if not os.access(sshd, os.X_OK):
        return f"OpenSSH server not installed ({sshd} is missing or not executable)"
    if shutil.which("ssh-keygen") is None:
        return "ssh-keygen not found on PATH"
    return None


def openssh_version(sshd: Path = SSHD) -> tuple[int, int]:
    """(major, minor) of the installed sshd; (0, 0) when it cannot be told."""
    try:
        out = subprocess.run([str(sshd), "-V"], capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return (0, 0)
    match = re.search(r"OpenSSH_(\d+)\.(\d+)", out.stderr + out.stdout)
    return (int(match.group(1)), int(match.group(2))) if match else (0, 0)


class SshdFleet:
    """``count`` real sshd processes on loopback, with their keys, configs and folders under ``root``.

    Use ``async with SshdFleet(...)`` / ``await fleet.astart()``, or ``with SshdFleet(...)`` /
    ``fleet.start()``; ``stop()`` always ends every process. ``root`` is created if needed.
    """

    def __init__(
        self,
        root: Path,
        count: int,
        *,
        base_port: int | None = None,
        addresses: AddressMode = "ports",
        first_address: str = "127.0.1.1",
        mount_at: str | None = None,
        max_startups: str = "100:30:200",
        max_sessions: int = 50,
        extra_config: Sequence[str] = (),
        start_timeout: float = 30.0,
        sshd: Path = SSHD,
    ) -> None:
        if count < 1:
            raise ValueError("a fleet needs at least one host")
        if addresses not in ("ports", "loopback"):
            raise ValueError(f"addresses must be 'ports' or 'loopback', not {addresses!r}")
        if mount_at is not None:
            if not mount_at.startswith("/") or mount_at.rstrip("/") == "":
                raise ValueError("mount_at must be an absolute path below /")
            if os.geteuid() != 0 or shutil.which("unshare") is None:
                raise FleetError("mount_at needs root and unshare(1) for a private mount namespace per host")
        self.root = Path(root).resolve()
        self.count = count
        self.addresses: AddressMode = addresses
        self.mount_at = mount_at.rstrip("/") if mount_at else None
        self.max_startups = max_startups
        self.max_sessions = max_sessions
        self.extra_config = list(extra_config)
        self.start_timeout = start_timeout
        self.sshd = Path(sshd)
        self.user = getpass.getuser()
        self.client_key = self.root / "client_key"
        self.known_hosts = self.root / "known_hosts"
        self.authorized_keys = self.root / "authorized_keys"
        self._base_port = base_port
        self._first_address = ipaddress.IPv4Address(first_address)
        self._auto_ports = base_port is None
        self._hosts: list[SshdHost] = []
        self._procs: dict[int, subprocess.Popen[bytes]] = {}
        self._killed: dict[int, int] = {}  # pid -> start time, of every process stop_host ended
        self._prepared = False
        self._penalties_off = False
        self._made_dirs: list[Path] = []  # mount_at and parents the fleet created, removed by stop()

    # -- descriptors -----------------------------------------------------------------------------------------

    @property
    def hosts(self) -> list[SshdHost]:
        """Every host, running or not (``prepare()`` or ``start()`` fills this in)."""
        return list(self._hosts)

    @property
    def client_public_key(self) -> Path:
        return self.client_key.with_name(self.client_key.name + ".pub")

    def host_public_key(self, i: int) -> str:
        """``ssh-ed25519 AAAA...`` of host ``i``'s current key."""
        text = self._hosts[i].host_key.with_name(self._hosts[i].host_key.name + ".pub").read_text()
        kind, blob = text.split()[:2]
        return f"{kind} {blob}"

    def pid(self, i: int) -> int | None:
        """The pid of host ``i``'s sshd listener while it runs."""
        proc = self._procs.get(i)
        return proc.pid if proc is not None and proc.poll() is None else None

    def is_running(self, i: int) -> bool:
        return self.pid(i) is not None

    def config_yaml(
        self,
        app: str = "shop",
        repo: str | os.PathLike[str] = "/srv/git/shop.git",
        environments: Mapping[str, Sequence[int]] | None = None,
        *,
        ref: str = "main",
        roles: Callable[[SshdHost], list[str]] | None = None,
        keep_releases: int = 5,
        connect_concurrency: int = 30,
        **extra: Any,
    ) -> dict[str, Any]:
        """A shipbot config dict for this fleet (``yaml.safe_dump`` it to get the file).

        ``environments`` maps a name to host indexes (default: ``{"staging": all hosts}``); ``roles`` gives a
        host's roles (default: the first host of each environment ``[web, migrate]``, the others ``[web]``).
        Extra keyword arguments become further top-level keys (``pipeline=...``, ``shared=...``).
        """
        if not self._hosts:
            self.prepare()
        chosen = environments if environments is not None else {"staging": range(self.count)}
        envs: dict[str, Any] = {}
        for env, indexes in chosen.items():
            entries = []
            for n, i in enumerate(indexes):
                host = self._hosts[i]
                host_roles = roles(host) if roles else (["web", "migrate"] if n == 0 else ["web"])
                entry: dict[str, Any] = {"address": host.address, "port": host.port, "roles": host_roles}
                if self.mount_at is None:
                    entry["deploy_to"] = host.deploy_to
                entries.append(entry)
            envs[env] = {"ref": ref, "hosts": entries}
        default_deploy_to = self.mount_at or str(self.root / "unused-default-deploy-to")
        return {
            "app": app,
            "repo": str(repo),
            "deploy_to": default_deploy_to,
            "keep_releases": keep_releases,
            "ssh": {
                "user": self.user,
                "port": 22,
                "identity": str(self.client_key),
                "known_hosts": str(self.known_hosts),
                "connect_concurrency": connect_concurrency,
            },
            "environments": envs,
            **extra,
        }

    # -- set-up ------------------------------------------------------------------------------------------------

    def prepare(self) -> None:
        """Create folders, keys, sshd configs and known_hosts; start nothing. Idempotent."""
        if self._prepared:
            return
        (self.root / "hosts").mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            Path("/run/sshd").mkdir(mode=0o755, parents=True, exist_ok=True)
        ports = self._pick_ports()
        for i in range(self.count):
            name = f"h{i + 1}"
            folder = self.root / "hosts" / name
            folder.mkdir(exist_ok=True)
            local = folder / "app"
            local.mkdir(exist_ok=True)
            self._hosts.append(
                SshdHost(
                    index=i,
                    name=name,
                    address=self._address(i),
                    port=ports[i],
                    folder=folder,
                    deploy_to=self.mount_at or str(local),
                    local_deploy_to=local,
                    host_key=folder / "ssh_host_ed25519_key",
                    config=folder / "sshd_config",
                    log=folder / "sshd.log",
                )
            )
        jobs = [(h.host_key, h.name) for h in self._hosts]
        if not self.client_key.exists():
            jobs.append((self.client_key, f"fleet-client@{socket.gethostname()}"))
        _keygen(jobs)
        shutil.copyfile(self.client_public_key, self.authorized_keys)
        self._penalties_off = openssh_version(self.sshd) >= (9, 8)
        for host in self._hosts:
            self._write_config(host)
        self.write_known_hosts()
        self._prepared = True

    def write_known_hosts(self) -> None:
        """(Re)write known_hosts from every host's current key (``replace_host_key`` deliberately does not)."""
        lines = [f"{h.known_hosts_name} {self.host_public_key(h.index)}\n" for h in self._hosts]
        self.known_hosts.write_text("".join(lines))

    def _address(self, i: int) -> str:
        if self.addresses == "ports":
            return "127.0.0.1"
        address = self._first_address
        for _ in range(i):
            address += 1
            while address.packed[3] in (0, 255):
                address += 1
        if not address.is_loopback:
            raise ValueError(f"too many hosts for loopback addresses starting at {self._first_address}")
        return str(address)

    def _pick_ports(self) -> list[int]:
        if self._base_port is not None:
            if self.addresses == "loopback":
                return [self._base_port] * self.count
            if self._base_port + self.count - 1 > 65535:
                raise ValueError("base_port + count runs past port 65535")
            return [self._base_port + i for i in range(self.count)]
        if self.addresses == "loopback":
            return [free_port(self._address(0))] * self.count
        return [free_port() for _ in range(self.count)]

    def _write_config(self, host: SshdHost) -> None:
        lines = [
            f"ListenAddress {host.address}",
            f"Port {host.port}",
            f"HostKey {host.host_key}",
            f"PidFile {host.folder / 'sshd.pid'}",
            f"AuthorizedKeysFile {self.authorized_keys}",
            "PubkeyAuthentication yes",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "PermitRootLogin prohibit-password",
            "UsePAM no",
            "StrictModes no",
            "PermitUserEnvironment no",
            "UseDNS no",
            "PrintMotd no",
            "X11Forwarding no",
            f"MaxStartups {self.max_startups}",
            f"MaxSessions {self.max_sessions}",
            "LogLevel ERROR",
            "Subsystem sftp internal-sftp",
        ]
        if self._penalties_off:
            lines.append("PerSourcePenalties no")  # many connections from one loopback source are expected
        # bash started by sshd reads the login user's ~/.bashrc (bash's SSH_SOURCE_BASHRC) when it is the first shell
        # of its session. On the machines these tests run on, root's runs `pyenv init`, and so every command on a host
        # ran `pyenv rehash`: concurrent commands waited on its lock file (or, told not to wait, printed its failure
        # into the host's output), and a step a test killed could leave the file behind for everyone. A test host is a
        # fresh host, not this machine's root: SHLVL=1 makes bash a nested shell, which reads no ~/.bashrc (a test of
        # a noisy login shell brings its own). sshd keeps only the first SetEnv line, so the tests' own variables
        # join this one.
        extra = [line for line in self.extra_config if not line.startswith("SetEnv ")]
        env = [line.removeprefix("SetEnv ") for line in self.extra_config if line.startswith("SetEnv ")]
        lines += [" ".join(["SetEnv", *env, "SHLVL=1"]), *extra]
        host.config.write_text("\n".join(lines) + "\n")

    # -- processes ---------------------------------------------------------------------------------------------

    def _argv(self, host: SshdHost) -> list[str]:
        argv = [str(self.sshd), "-D", "-e", "-f", str(host.config)]
        if self.mount_at is not None:
            script = 'src=$1 dst=$2; shift 2; mount --bind "$src" "$dst" && exec "$@"'
            unshare = ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh"]
            argv = [*unshare, str(host.local_deploy_to), self.mount_at, *argv]
        # sshd gets SIGTERM if the thread that started it dies (a killed test run leaves no hosts behind);
        # only from the main thread, as worker threads come and go
        if _SETPRIV and threading.current_thread() is threading.main_thread():
            argv = [_SETPRIV, "--pdeathsig", "TERM", *argv]
        return argv

    def _launch(self, i: int) -> None:
        if self.is_running(i):
            return
        host = self._hosts[i]
        if self.mount_at is not None and not Path(self.mount_at).is_dir():
            mount_point = Path(self.mount_at)
            self._made_dirs += [p for p in (mount_point, *mount_point.parents) if not p.exists()]
            mount_point.mkdir(parents=True, exist_ok=True)
        with host.log.open("ab") as log:
            self._procs[i] = subprocess.Popen(
                self._argv(host),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,  # Ctrl-C at a terminal reaches us, not the hosts; stop() ends them
            )

    def _failure(self, i: int, why: str) -> FleetError:
        host = self._hosts[i]
        try:
            log = host.log.read_text(errors="replace").strip()
        except OSError:
            log = ""
        tail = "\n".join(log.splitlines()[-15:]) or "(sshd wrote nothing)"
        return FleetError(
            f"host {host.name} ({host.address}:{host.port}, config {host.config}) {why}; sshd stderr:\n{tail}"
        )

    def _status(self, i: int) -> str | None:
        """Why host ``i`` is not coming up, or None while it may still answer."""
        proc = self._procs.get(i)
        if proc is None:
            return "was not started"
        code = proc.poll()
        return None if code is None else f"exited with status {code} before answering"

    def _port_clash(self, i: int) -> bool:
        try:
            return "Address already in use" in self._hosts[i].log.read_text(errors="replace")
        except OSError:
            return False

    def _repick_port(self, i: int) -> None:
        host = self._hosts[i]
        self._procs.pop(i, None)
        self._hosts[i] = dataclasses.replace(host, port=free_port(host.address))
        host.log.write_text("")
        self._write_config(self._hosts[i])

    def start(self) -> Self:
        """Start every host and block until each answers with an SSH banner."""
        self.prepare()
        pending = list(range(self.count))
        try:
            for attempt in range(3):
                for i in pending:
                    self._launch(i)
                failed = self._wait_sync(pending)
                pending = self._retry_or_raise(failed, last=attempt == 2)
                if not pending:
                    break
        except BaseException:
            self.stop()
            raise
        self.write_known_hosts()
        return self

    async def astart(self) -> Self:
        """Start every host (concurrently) and wait until each answers with an SSH banner."""
        self.prepare()
        pending = list(range(self.count))
        try:
            for attempt in range(3):
                for i in pending:
                    self._launch(i)
                failed = await self._wait_async(pending)
                pending = self._retry_or_raise(failed, last=attempt == 2)
                if not pending:
                    break
        except BaseException:
            self.stop()
            raise
        self.write_known_hosts()
        return self

    def _retry_or_raise(self, failed: dict[int, str], *, last: bool) -> list[int]:
        """Hosts whose auto-picked port was taken meanwhile get another port; anything else is an error."""
        retry = []
        for i, why in failed.items():
            if self._auto_ports and not last and self._port_clash(i) and self._status(i) is not None:
                self._repick_port(i)
                retry.append(i)
            else:
                raise self._failure(i, why)
        return retry

    def start_host(self, i: int) -> None:
        """Start host ``i`` again (same port, same key unless replaced) and block until it answers."""
        self._launch(i)
        failed = self._wait_sync([i])
        if failed:
            raise self._failure(i, failed[i])

    async def astart_host(self, i: int) -> None:
        self._launch(i)
        failed = await self._wait_async([i])
        if failed:
            raise self._failure(i, failed[i])

    def stop_host(self, i: int) -> None:
        """Take host ``i`` down: kill its sshd and everything it spawned (open sessions drop), then reap it."""
        self._stop_hosts([i])

    def _stop_hosts(self, indexes: Iterable[int]) -> None:
        procs = {i: proc for i in indexes if (proc := self._procs.pop(i, None)) is not None}
        running = [proc.pid for proc in procs.values() if proc.poll() is None]
        for pid in running:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGSTOP)  # no new connections while we collect its children
        descendants = _descendants(running)
        for pid in [*descendants, *running]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self._killed.update(descendants)
        deadline = time.monotonic() + 5.0  # SIGKILL takes effect asynchronously
        while any(_alive(p, t) for p, t in descendants.items()) and time.monotonic() < deadline:
            time.sleep(0.005)
        for i, proc in procs.items():
            proc.wait()
            (self._hosts[i].folder / "sshd.pid").unlink(missing_ok=True)

    def replace_host_key(self, i: int) -> None:
        """Give host ``i`` a new host key and restart it; known_hosts keeps the old key (a mismatch)."""
        self._new_host_key(i)
        self.start_host(i)

    async def areplace_host_key(self, i: int) -> None:
        self._new_host_key(i)
        await self.astart_host(i)

    def _new_host_key(self, i: int) -> None:
        host = self._hosts[i]
        self.stop_host(i)
        host.host_key.unlink(missing_ok=True)
        host.host_key.with_name(host.host_key.name + ".pub").unlink(missing_ok=True)
        _keygen([(host.host_key, host.name)])

    def stop(self) -> None:
        """Stop every host and wait for each sshd to be reaped. Safe to call twice."""
        self._stop_hosts(list(self._procs))
        for folder in self._made_dirs:
            with contextlib.suppress(OSError):
                folder.rmdir()
        self._made_dirs = []

    async def astop(self) -> None:
        self.stop()

    def leftover_pids(self) -> list[int]:
        """Processes this fleet started or killed that still run (zombies excluded); [] after ``stop()``."""
        running = [proc.pid for proc in self._procs.values() if proc.poll() is None]
        return sorted(running + [pid for pid, started in self._killed.items() if _alive(pid, started)])

    # -- readiness ---------------------------------------------------------------------------------------------

    def _wait_sync(self, indexes: Iterable[int]) -> dict[int, str]:
        deadline = time.monotonic() + self.start_timeout
        failed: dict[int, str] = {}
        for i in indexes:
            host = self._hosts[i]
            running = functools.partial(self.is_running, i)
            while True:
                if self._status(i) is None and _banner_sync(host.address, host.port, running):
                    break
                why = self._status(i)
                if why is None and time.monotonic() > deadline:
                    why = f"did not answer within {self.start_timeout:g}s"
                if why is not None:
                    failed[i] = why
                    break
                time.sleep(0.01)
        return failed

    async def _wait_async(self, indexes: Iterable[int]) -> dict[int, str]:
        deadline = time.monotonic() + self.start_timeout
        gate = asyncio.Semaphore(200)
        failed: dict[int, str] = {}

        async def one(i: int) -> None:
            host = self._hosts[i]
            running = functools.partial(self.is_running, i)
            while True:
                async with gate:
                    if self._status(i) is None and await _banner_async(host.address, host.port, running):
                        return
                why = self._status(i)
                if why is None and time.monotonic() > deadline:
                    why = f"did not answer within {self.start_timeout:g}s"
                if why is not None:
                    failed[i] = why
                    return
                await asyncio.sleep(0.01)

        await asyncio.gather(*(one(i) for i in indexes))
        return failed

    # -- context managers --------------------------------------------------------------------------------------

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    async def __aenter__(self) -> Self:
        return await self.astart()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


# -- helpers ---------------------------------------------------------------------------------------------------


def _keygen(jobs: Sequence[tuple[Path, str]]) -> None:
    """Make ed25519 key pairs with ssh-keygen, a batch of processes at a time."""
    for start in range(0, len(jobs), _KEYGEN_BATCH):
        procs = [
            (
                path,
                subprocess.Popen(
                    ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)],
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.PIPE,
                ),
            )
            for path, comment in jobs[start : start + _KEYGEN_BATCH]
        ]
        errors = []
        for path, proc in procs:
            _, err = proc.communicate()
            if proc.returncode != 0:
                errors.append(f"{path}: {err.decode(errors='replace').strip()}")
        if errors:
            raise FleetError("ssh-keygen failed: " + "; ".join(errors))


def _banner_sync(address: str, port: int, running: Callable[[], bool]) -> bool:
    """Connect and read the SSH banner; gives up after a second or as soon as the sshd exits."""
    deadline = time.monotonic() + 1.0
    try:
        with socket.create_connection((address, port), timeout=1.0) as sock:
            sock.settimeout(0.05)
            data = b""
            while b"\n" not in data and running() and time.monotonic() < deadline:
                with contextlib.suppress(TimeoutError):
                    chunk = sock.recv(256)
                    if not chunk:
                        break
                    data += chunk
            if data.startswith(b"SSH-") and b"\n" in data:
                sock.sendall(_PROBE_IDENT)  # a silent close would make sshd log a kex error
                return True
            return False
    except OSError:
        return False


async def _banner_async(address: str, port: int, running: Callable[[], bool]) -> bool:
    """Connect and read the SSH banner; gives up after a second or as soon as the sshd exits."""
    deadline = time.monotonic() + 1.0
    try:
        async with asyncio.timeout(1.0):
            reader, writer = await asyncio.open_connection(address, port)
        try:
            read = asyncio.ensure_future(reader.readline())
            while not read.done() and running() and time.monotonic() < deadline:
                await asyncio.wait([read], timeout=0.05)
            if not read.done():
                read.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await read
                return False
            if read.result().startswith(b"SSH-"):
                writer.write(_PROBE_IDENT)  # a silent close would make sshd log a kex error
                await writer.drain()
                return True
            return False
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
    except (OSError, TimeoutError):
        return False


def _proc_stat(pid: int) -> tuple[str, int, int] | None:
    """(state, ppid, start time) of a process, or None if it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = text[text.rindex(")") + 2 :].split()
    return fields[0], int(fields[1]), int(fields[19])


def _alive(pid: int, started: int | None = None) -> bool:
    """Whether ``pid`` runs (not a zombie) and, given ``started``, is still the process that started then."""
    stat = _proc_stat(pid)
    return stat is not None and stat[0] not in ("Z", "X") and started in (None, stat[2])


def _descendants(roots: Iterable[int]) -> dict[int, int]:
    """Every process below the ``roots``, as {pid: start time}."""
    children: dict[int, list[tuple[int, int]]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (stat := _proc_stat(int(entry))) is not None:
            children.setdefault(stat[1], []).append((int(entry), stat[2]))
    found: dict[int, int] = {}
    todo = [child for root in roots for child in children.get(root, [])]
    while todo:
        pid, started = todo.pop()
        found[pid] = started
        todo.extend(children.get(pid, []))
    return found
