"""The SSH side of one demo host: who may log in, and how one exec request runs (see :mod:`demo.fleet`).

:class:`HostServer` accepts exactly one login (the fleet's user with the demo client key) and keeps track of the
host's connections. :class:`CommandSessions` runs each exec request for real, like sshd runs it: ``SHELL -c
COMMAND`` in a new session, with the host's folder as working directory and HOME; standard input, output and error
are separate binary streams; the exit status (or the signal that ended the shell) goes back to the client; a
channel that closes while its command still runs gets the command's process group killed (TERM, then KILL).
Shells, terminals and subsystems (sftp) are refused. It remembers every command it started, so the fleet can stop
them all.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from dataclasses import dataclass, field
from pathlib import Path

import asyncssh

from demo.processes import KILL_GRACE, killpg, signal_name, terminate, wait_all

_CHUNK = 65536
_OUTPUT_GRACE = 2.0  # after the shell exits, how long output from leftover background children is still read


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
class HostState:
    """What one host's server needs at run time."""

    host: DemoHost
    env: dict[str, str]
    acceptor: asyncssh.SSHAcceptor | None = None
    connections: set[asyncssh.SSHServerConnection] = field(default_factory=set)


def load_or_make_key(path: Path) -> asyncssh.SSHKey:
    if path.exists():
        return asyncssh.read_private_key(str(path))
    key = asyncssh.generate_private_key("ssh-ed25519")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # private from the first byte
    with os.fdopen(fd, "wb") as file:
        file.write(key.export_private_key())
    key.write_public_key(str(path) + ".pub")
    return key


def public_line(key: asyncssh.SSHKey) -> str:
    return key.export_public_key("openssh").decode().strip()


class HostServer(asyncssh.SSHServer):
    """Authentication and connection bookkeeping for one host: one user, one key."""

    def __init__(self, state: HostState, user: str, client_key: str) -> None:
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
        return username == self._user and public_line(key) == self._client_key


class CommandSessions:
    """Every exec request of every host of one fleet, and the commands they started."""

    def __init__(self, shell: str) -> None:
        self.shell = shell
        self.stopping = False
        self._children: dict[int, asyncio.subprocess.Process] = {}
        self.pgids: set[int] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    async def serve(self, state: HostState, process: asyncssh.SSHServerProcess[bytes]) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            await self._serve_command(state, process)
        finally:
            if task is not None:
                self._tasks.discard(task)

    async def _serve_command(self, state: HostState, process: asyncssh.SSHServerProcess[bytes]) -> None:
        command = process.command
        if command is None or process.subsystem or self.stopping:
            reason = "shutting down" if self.stopping else "only commands are served here (ssh HOST COMMAND)"
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
        self.pgids.add(child.pid)
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
                await terminate(child)  # the client went away first: the command goes too
                return
            await asyncio.wait(outputs, timeout=_OUTPUT_GRACE)
            if process.is_closing():
                return
            code = child.returncode if child.returncode is not None else -signal.SIGKILL
            if code >= 0:
                process.exit(code)
            else:
                process.exit_with_signal(signal_name(code))
        finally:
            for t in (feed, *outputs, exited, closed):
                t.cancel()
            await asyncio.gather(feed, *outputs, exited, closed, return_exceptions=True)
            if child.returncode is None:
                killpg(child.pid, signal.SIGKILL)
                with contextlib.suppress(ProcessLookupError):
                    await asyncio.shield(child.wait())
            self._children.pop(child.pid, None)

    async def stop_commands(self) -> None:
        """TERM every running command's process group, KILL what is left after a grace period."""
        children = list(self._children.values())
        for child in children:
            killpg(child.pid, signal.SIGTERM)
        await wait_all(children, KILL_GRACE)
        for child in children:
            if child.returncode is None:
                killpg(child.pid, signal.SIGKILL)
        await wait_all(children, KILL_GRACE)

    async def wait_sessions(self, timeout: float = 5.0) -> None:
        """Give the sessions still being served ``timeout`` seconds to end, then cancel them."""
        tasks = list(self._tasks)
        if tasks:
            await asyncio.wait(tasks, timeout=timeout)
        for task in tasks:
            task.cancel()


async def _copy_in(reader: asyncssh.SSHReader[bytes], writer: asyncio.StreamWriter, pgid: int) -> None:
    """Client stdin to the command, then EOF; signals the client sends go to the command's process group."""
    try:
        while True:
            try:
                data = await reader.read(_CHUNK)
            except asyncssh.SignalReceived as exc:
                sig = getattr(signal, f"SIG{exc.signal}", None)
                if isinstance(sig, signal.Signals):
                    killpg(pgid, sig)
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
