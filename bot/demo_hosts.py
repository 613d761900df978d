"""The demo fleet: embedded SSH servers on loopback, one per simulated host, so ``shipbot demo`` needs no sshd.

Each :class:`DemoHost` is an asyncssh server on ``127.0.0.1`` with a port of its own, an ed25519 host key of its
own and a folder of its own (its "home"); ``deploy_to`` lives inside that folder. The servers accept exactly one
login: :attr:`DemoFleet.user` with the demo client key. Everything a real host would need is written under
``<data_dir>/demo``::

    client_key, client_key.pub           the key shipbot logs in with (made once, kept)
    known_hosts                          "[127.0.0.1]:PORT ssh-ed25519 ..." per host, rewritten on every start
    hosts/<name>/ssh_host_ed25519_key    the host's key (made once, kept)
    hosts/<name>/<app>/                  the host's deploy_to

An exec request runs for real, like sshd runs it: ``SHELL -c COMMAND`` in a new session (so the shell's pid is
the process group id that shipbot's first output line ``echo $$`` reports, and ``kill -TERM -- -PGID`` sent over
another channel of the same connection reaches the whole tree), with the host's folder as working directory and
HOME, and only PATH, HOME and ``SHIPBOT_DEMO_HOST`` in its environment. SHELL plays the login shell sshd would
start: ``/bin/bash`` where there is one, else ``/bin/sh``. (Where ``/bin/sh`` is dash, its builtin ``kill``
rejects the ``--`` in ``kill -TERM -- -PGID``, so a step that times out would keep running.)

Standard input, output and error are separate binary streams; the exit status (or the signal that ended the shell)
goes back to the client. A channel that closes while its command still runs gets the command's process group
killed (TERM, then KILL). Shells, terminals, subsystems (sftp) and forwarding are refused.

:meth:`DemoFleet.stop` stops listening, runs ``bin/stop`` in each host's ``current`` release (so the demo app goes
down cleanly), kills what is still running, closes every connection and finally sweeps any process that still
carries one of the fleet's host environments (an app daemon started by a finished command, say): nothing is left
behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import os
import re
import signal
import socket
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import asyncssh

ADDRESS = "127.0.0.1"
ENVIRONMENTS: dict[str, tuple[str, int]] = {"staging": ("stg", 2), "production": ("prod", 4)}

_CHUNK = 65536
_OUTPUT_GRACE = 2.0  # after the shell exits, how long output from leftover background children is still read
_KILL_GRACE = 2.0  # between TERM and KILL
_STOP_SCRIPT_TIMEOUT = 15.0
_USER = re.compile(r"[a-z_][a-z0-9_.-]{0,31}")
_PROC = Path("/proc")
_HAS_PROC = _PROC.is_dir()


@dataclass(frozen=True)
class DemoHost:
    """One simulated host: where it listens, what it is called, and where its app lives."""

    name: str  # stg-1, prod-3, ...
    environment: str
    address: str
    port: int  # its SSH port
    deploy_to: str
    home: Path  # the host's own folder: working directory and HOME of every command
    app_port: int  # the port the demo app listens on when deployed to this host
    public_key: str  # "ssh-ed25519 AAAA..."


@dataclass
class _Running:
    """What one host's server needs at run time."""

    host: DemoHost
    env: dict[str, str]
    acceptor: asyncssh.SSHAcceptor | None = None
    connections: set[asyncssh.SSHServerConnection] = field(default_factory=set)


def demo_user() -> str:
    """The login the demo hosts accept: the current user's name when it is a valid login name, else ``demo``."""
    try:
        name = getpass.getuser()
    except (KeyError, OSError):
        return "demo"
    return name if _USER.fullmatch(name) else "demo"


def free_port(address: str = ADDRESS) -> int:
    """A TCP port nothing listens on right now (the kernel's choice)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((address, 0))
        return int(sock.getsockname()[1])


def command_path() -> str:
    """PATH for host commands: the current PATH, with the running interpreter's own directory first.

    The demo app's scripts call ``python3``; putting the real interpreter's directory first makes that work even
    where ``python3`` on PATH is a shim that needs more of the environment than a host command gets.
    """
    dirs = [d for d in os.environ.get("PATH", os.defpath).split(os.pathsep) if d]
    interpreter_dir = str(Path(os.path.realpath(sys.executable)).parent)
    if (Path(interpreter_dir) / "python3").exists():
        dirs.insert(0, interpreter_dir)
    return os.pathsep.join(dict.fromkeys(dirs))


def default_shell() -> str:
    """The shell commands run in: bash, as on a typical deploy account, or ``/bin/sh`` without it."""
    return "/bin/bash" if os.access("/bin/bash", os.X_OK) else "/bin/sh"


def _load_or_make_key(path: Path) -> asyncssh.SSHKey:
    if path.exists():
        return asyncssh.read_private_key(str(path))
    key = asyncssh.generate_private_key("ssh-ed25519")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # private from the first byte
    with os.fdopen(fd, "wb") as file:
        file.write(key.export_private_key())
    key.write_public_key(str(path) + ".pub")
    return key


def _public_line(key: asyncssh.SSHKey) -> str:
    return key.export_public_key("openssh").decode().strip()


def _signal_name(returncode: int) -> str:
    try:
        return signal.Signals(-returncode).name.removeprefix("SIG")
    except ValueError:
        return "KILL"


def _killpg(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _kill(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, sig)


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie does not count)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return not _HAS_PROC
    return stat.rpartition(")")[2].split()[0] != "Z"


def _processes_with_env(marks: Iterable[tuple[bytes, bytes]]) -> list[int]:
    """Pids (Linux /proc) whose environment holds both entries of one of ``marks``."""
    wanted = list(marks)
    found = []
    me = os.getpid()
    for entry in _PROC.iterdir() if _HAS_PROC else ():
        if not entry.name.isdigit() or int(entry.name) == me:
            continue
        try:
            environ = set((entry / "environ").read_bytes().split(b"\0"))
        except OSError:
            continue
        if any(a in environ and b in environ for a, b in wanted):
            found.append(int(entry.name))
    return found


async def _wait_gone(pids: Iterable[int], timeout: float) -> list[int]:
    """Wait until none of ``pids`` runs, at most ``timeout`` seconds; the ones still running."""
    left = list(pids)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while left:
        left = [p for p in left if _alive(p)]
        if not left or loop.time() >= deadline:
            break
        await asyncio.sleep(0.05)
    return left


class _HostServer(asyncssh.SSHServer):
    """Authentication and connection bookkeeping for one host: one user, one key."""

    def __init__(self, state: _Running, user: str, client_key: str) -> None:
        self._state = state
        self._user = user
        self._client_key = client_key
        self._conn: asyncssh.SSHServerConnection | None = None

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        self._conn = conn
        self._state.connections.add(conn)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._conn is not None:
            self._state.connections.discard(self._conn)

    def begin_auth(self, username: str) -> bool:
        return True

    def password_auth_supported(self) -> bool:
        return False

    def public_key_auth_supported(self) -> bool:
        return True

    def validate_public_key(self, username: str, key: asyncssh.SSHKey) -> bool:
        return username == self._user and _public_line(key) == self._client_key


class DemoFleet:
    """Staging (2 hosts) and production (4 hosts) as embedded SSH servers under ``<data_dir>/demo``.

    ``ssh_base_port`` / ``app_base_port`` pin the ports (host ``i`` in fleet order gets base + i); by default every
    port is a free one chosen at :meth:`start`.
    """

    def __init__(
        self,
        data_dir: str | os.PathLike[str],
        *,
        app: str = "shop",
        user: str | None = None,
        environments: dict[str, tuple[str, int]] | None = None,
        ssh_base_port: int | None = None,
        app_base_port: int | None = None,
        shell: str | None = None,
    ) -> None:
        self.root = Path(data_dir).expanduser().resolve() / "demo"
        self.app = app
        self.user = user or demo_user()
        self.shell = shell or default_shell()
        self.client_key = self.root / "client_key"
        self.known_hosts = self.root / "known_hosts"
        self.hosts: dict[str, list[DemoHost]] = {}
        self._layout = dict(environments or ENVIRONMENTS)
        self._ssh_base_port = ssh_base_port
        self._app_base_port = app_base_port
        self._running: list[_Running] = []
        self._children: dict[int, asyncio.subprocess.Process] = {}
        self._pgids: set[int] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._stopping = False

    # -- start ---------------------------------------------------------------------------------------------

    @property
    def all_hosts(self) -> list[DemoHost]:
        return [h for hosts in self.hosts.values() for h in hosts]

    @property
    def running(self) -> bool:
        return bool(self._running)

    async def start(self) -> DemoFleet:
        """Listen on one loopback port per host and write ``known_hosts``; returns the fleet."""
        if self._running:
            return self
        self._stopping = False
        self.root.mkdir(parents=True, exist_ok=True)
        client_key = _load_or_make_key(self.client_key)
        client_line = _public_line(client_key)
        index = 0
        try:
            for environment, (prefix, count) in self._layout.items():
                self.hosts[environment] = []
                for n in range(1, count + 1):
                    host = await self._start_host(environment, f"{prefix}-{n}", index, client_line)
                    self.hosts[environment].append(host)
                    index += 1
        except BaseException:
            await self.stop()
            raise
        self.write_known_hosts()
        return self

    async def _start_host(self, environment: str, name: str, index: int, client_line: str) -> DemoHost:
        home = self.root / "hosts" / name
        deploy_to = home / self.app
        deploy_to.mkdir(parents=True, exist_ok=True)
        host_key = _load_or_make_key(home / "ssh_host_ed25519_key")
        app_port = self._app_base_port + index if self._app_base_port else free_port()
        host = DemoHost(name, environment, ADDRESS, 0, str(deploy_to), home, app_port, _public_line(host_key))
        state = _Running(host, {"PATH": command_path(), "HOME": str(home), "SHIPBOT_DEMO_HOST": name})
        self._running.append(state)

        async def serve(process: asyncssh.SSHServerProcess[bytes]) -> None:
            await self._serve(state, process)

        state.acceptor = await asyncssh.listen(
            ADDRESS,
            self._ssh_base_port + index if self._ssh_base_port else 0,
            server_factory=lambda: _HostServer(state, self.user, client_line),
            server_host_keys=[host_key],
            process_factory=serve,
            encoding=None,
            config=None,
            allow_pty=False,
            agent_forwarding=False,
            x11_forwarding=False,
            allow_scp=False,
            gss_host=None,
            reuse_address=True,
        )
        host = DemoHost(
            name, environment, ADDRESS, state.acceptor.get_port(), str(deploy_to), home, app_port, host.public_key
        )
        state.host = host
        return host

    def write_known_hosts(self) -> Path:
        """``[127.0.0.1]:PORT ssh-ed25519 ...`` for every host, replacing the file."""
        lines = [f"[{h.address}]:{h.port} {h.public_key}\n" for h in self.all_hosts]
        tmp = self.known_hosts.with_name(self.known_hosts.name + ".tmp")
        tmp.write_text("".join(lines))
        tmp.replace(self.known_hosts)
        return self.known_hosts

    # -- one channel ---------------------------------------------------------------------------------------

    async def _serve(self, state: _Running, process: asyncssh.SSHServerProcess[bytes]) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            await self._serve_command(state, process)
        finally:
            if task is not None:
                self._tasks.discard(task)

    async def _serve_command(self, state: _Running, process: asyncssh.SSHServerProcess[bytes]) -> None:
        command = process.command
        if command is None or process.subsystem or self._stopping:
            reason = "shutting down" if self._stopping else "only commands are served here (ssh HOST COMMAND)"
            process.stderr.write(f"{state.host.name}: {reason}\n".encode())
            process.exit(1)
            return
        try:
            child = await asyncio.create_subprocess_exec(
                self.shell,
                "-c",
                command,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                cwd=state.host.home,
                env=state.env,
                start_new_session=True,
            )
        except OSError as exc:
            process.stderr.write(f"{state.host.name}: cannot start {self.shell}: {exc}\n".encode())
            process.exit(127)
            return
        assert child.stdin is not None and child.stdout is not None and child.stderr is not None
        self._children[child.pid] = child
        self._pgids.add(child.pid)
        feed = asyncio.create_task(_copy_in(process.stdin, child.stdin, child.pid))
        outputs = [
            asyncio.create_task(_copy_out(child.stdout, process.stdout)),
            asyncio.create_task(_copy_out(child.stderr, process.stderr)),
        ]
        exited = asyncio.create_task(child.wait())
        closed = asyncio.create_task(process.channel.wait_closed())
        try:
            await asyncio.wait({exited, closed}, return_when=asyncio.FIRST_COMPLETED)
            if not exited.done():
                await _terminate(child)  # the client went away first: the command goes too
                return
            await asyncio.wait(outputs, timeout=_OUTPUT_GRACE)
            if process.is_closing():
                return
            code = child.returncode if child.returncode is not None else -signal.SIGKILL
            if code >= 0:
                process.exit(code)
            else:
                process.exit_with_signal(_signal_name(code))
        finally:
            for t in (feed, *outputs, exited, closed):
                t.cancel()
            await asyncio.gather(feed, *outputs, exited, closed, return_exceptions=True)
            if child.returncode is None:
                _killpg(child.pid, signal.SIGKILL)
                with contextlib.suppress(ProcessLookupError):
                    await asyncio.shield(child.wait())
            self._children.pop(child.pid, None)

    # -- stop ----------------------------------------------------------------------------------------------

    async def stop(self) -> None:
        """Stop every server, the demo app on every host, and every process a command started. Safe to repeat."""
        self._stopping = True
        for state in self._running:
            if state.acceptor is not None:
                state.acceptor.close()
        for state in self._running:
            if state.acceptor is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(state.acceptor.wait_closed(), 5)
        await asyncio.gather(*(self._run_stop_script(state) for state in self._running))
        children = list(self._children.values())
        for child in children:
            _killpg(child.pid, signal.SIGTERM)
        await _wait_all(children, _KILL_GRACE)
        for child in children:
            if child.returncode is None:
                _killpg(child.pid, signal.SIGKILL)
        await _wait_all(children, _KILL_GRACE)
        for state in self._running:
            for conn in list(state.connections):
                conn.close()
        for state in self._running:
            for conn in list(state.connections):
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(conn.wait_closed(), 5)
        tasks = list(self._tasks)
        if tasks:
            await asyncio.wait(tasks, timeout=5)
        for task in tasks:
            task.cancel()
        await self._sweep()
        self._running = []
        self._pgids.clear()

    async def _run_stop_script(self, state: _Running) -> None:
        """``bin/stop`` in the host's ``current`` release, when there is one, as a host command would run it."""
        current = Path(state.host.deploy_to) / "current"
        script = current / "bin" / "stop"
        if not (current.is_dir() and os.access(script, os.X_OK)):
            return
        proc = await asyncio.create_subprocess_exec(
            str(script),
            cwd=current,
            env=state.env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            await asyncio.wait_for(proc.wait(), _STOP_SCRIPT_TIMEOUT)
        except TimeoutError:
            _killpg(proc.pid, signal.SIGKILL)
            await proc.wait()

    async def _sweep(self) -> None:
        """Kill what commands left running: every process carrying a host's environment, every group started."""
        marks = [(f"HOME={s.host.home}".encode(), f"SHIPBOT_DEMO_HOST={s.host.name}".encode()) for s in self._running]
        if _HAS_PROC:
            pids = _processes_with_env(marks)
            for pid in pids:
                _kill(pid, signal.SIGTERM)
            for pid in await _wait_gone(pids, _KILL_GRACE):
                _kill(pid, signal.SIGKILL)
            await _wait_gone(pids, _KILL_GRACE)
        else:  # no /proc: signal every process group a command started that still has members
            for pgid in self._pgids:
                _killpg(pgid, signal.SIGTERM)
            await asyncio.sleep(0.2)
            for pgid in self._pgids:
                _killpg(pgid, signal.SIGKILL)

    def leftover_pids(self) -> list[int]:
        """Processes (Linux) that still carry one of this fleet's host environments; empty after :meth:`stop`."""
        homes = [self.root / "hosts" / h.name for h in self.all_hosts]
        marks = [(f"HOME={home}".encode(), f"SHIPBOT_DEMO_HOST={home.name}".encode()) for home in homes]
        return [p for p in _processes_with_env(marks) if _alive(p)]

    async def __aenter__(self) -> DemoFleet:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


async def _copy_in(reader: asyncssh.SSHReader[bytes], writer: asyncio.StreamWriter, pgid: int) -> None:
    """Client stdin to the command, then EOF; signals the client sends go to the command's process group."""
    try:
        while True:
            try:
                data = await reader.read(_CHUNK)
            except asyncssh.SignalReceived as exc:
                sig = getattr(signal, f"SIG{exc.signal}", None)
                if isinstance(sig, signal.Signals):
                    _killpg(pgid, sig)
                continue
            if not data:
                break
            writer.write(data)
            await writer.drain()
    except (OSError, asyncssh.Error):
        pass  # the command closed its stdin or the channel went away
    finally:
        with contextlib.suppress(OSError):
            writer.close()


async def _copy_out(reader: asyncio.StreamReader, writer: asyncssh.SSHWriter[bytes]) -> None:
    """One output stream of the command to the channel, with the channel's flow control."""
    try:
        while data := await reader.read(_CHUNK):
            writer.write(data)
            await writer.drain()
    except (OSError, asyncssh.Error):
        pass  # the channel closed; the watcher ends the command


async def _wait_all(children: list[asyncio.subprocess.Process], timeout: float) -> None:
    waits = [asyncio.ensure_future(c.wait()) for c in children if c.returncode is None]
    if waits:
        await asyncio.wait(waits, timeout=timeout)
        for w in waits:
            w.cancel()


async def _terminate(child: asyncio.subprocess.Process) -> None:
    """TERM to the command's process group, KILL after a grace period."""
    _killpg(child.pid, signal.SIGTERM)
    try:
        await asyncio.wait_for(child.wait(), _KILL_GRACE)
    except TimeoutError:
        _killpg(child.pid, signal.SIGKILL)
        await child.wait()


__all__ = ["ADDRESS", "DemoFleet", "DemoHost", "command_path", "default_shell", "demo_user", "free_port"]
