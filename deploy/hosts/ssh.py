"""The asyncssh adapter: one connection per host per run, handshakes bounded, every step killable.

``SshConnector.connect(host)`` opens one authenticated connection (host keys checked strictly against
``known_hosts``; through the jump host when one is configured), and ``HostConnection.run(step)`` runs one step on
it as its own channel. The first output line of every step is its remote process group id
(:func:`deploy.hosts.remote.with_pgid`), so a step that times out or is cancelled is killed on the host with its whole
process tree, not left running; the step waits until that group is handed to ``on_pgid`` (the run records it in
the store) before it runs, so a controller killed at any moment leaves nothing running that a repair cannot find.
``run`` keeps the last 64 KiB of a step's output (what people are shown); ``read`` keeps a bookkeeping command's
whole output, up to :data:`READ_LIMIT`, and fails loudly past it. asyncssh errors are mapped to
:class:`~deploy.errors.HostUnreachable` / :class:`~deploy.hosts.connector.StepResult` (``lost`` when the connection
dropped) here and nowhere else. ``SshConnector``
itself is the :data:`~deploy.hosts.connector.ConnectorFactory` composition roots hand to the engine:
``Engine(config, store, data_dir, SshConnector)``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import asyncssh

from deploy.config.models import Ssh
from deploy.errors import ConfigError, HostUnreachable
from deploy.hosts import remote
from deploy.hosts.connector import HostConnection, StepResult
from deploy.hosts.ssh_identity import identity_problems
from deploy.redact import Redactor, tail
from deploy.run.plan import Host

_TAIL_BYTES = 64 * 1024
READ_LIMIT = 16 * 1024 * 1024  # the most a bookkeeping read takes from a host; more is an error, never cut
_KILL_GRACE = 2.0
_MAX_NOISE_LINES = 200


class _Output:
    """A step's output: its last ``limit`` bytes (``whole=False``: what people are shown, so 500 hosts of build
    output stay small), or all of it up to ``limit`` (``whole=True``: data for a parser; past the limit
    ``overflow`` is set and nothing more is kept)."""

    def __init__(self, limit: int, whole: bool = False) -> None:
        self.buf = bytearray()
        self.limit = limit
        self.whole = whole
        self.overflow = False

    def add(self, chunk: bytes) -> None:
        if self.whole:
            if len(self.buf) + len(chunk) > self.limit:
                self.overflow = True
            if not self.overflow:
                self.buf += chunk
            return
        self.buf += chunk
        if len(self.buf) > self.limit:
            del self.buf[: len(self.buf) - self.limit]

    def text(self) -> str:
        return self.buf.decode("utf-8", errors="replace")


class _Lines:
    """A streamed command's output, handed on line by line (redacted, without the newline) as it arrives."""

    def __init__(self, emit: Callable[[str], None], redact: Callable[[str], str]) -> None:
        self._emit = emit
        self._redact = redact
        self._partial = b""

    def add(self, chunk: bytes) -> None:
        *whole, self._partial = (self._partial + chunk).split(b"\n")
        for line in whole:
            self._emit(self._redact(line.decode("utf-8", errors="replace")))

    def flush(self) -> None:
        if self._partial:
            self._emit(self._redact(self._partial.decode("utf-8", errors="replace")))
            self._partial = b""


class SshHostConnection:
    def __init__(
        self,
        host: Host,
        conn: asyncssh.SSHClientConnection,
        redact: Callable[[str], str],
        posix_login_shell: bool = True,
        read_limit: int = READ_LIMIT,
    ) -> None:
        self.host = host
        self._conn = conn
        self._redact = redact
        self._posix = posix_login_shell
        self._read_limit = read_limit

    async def run(
        self,
        command: str,
        timeout: float,
        stdin: bytes | None = None,
        on_pgid: Callable[[int], Awaitable[None]] | None = None,
        on_line: Callable[[str], None] | None = None,
    ) -> StepResult:
        return await self._exec(command, timeout, stdin, _Output(_TAIL_BYTES), on_pgid, on_line)

    async def read(
        self,
        command: str,
        timeout: float,
        stdin: bytes | None = None,
        on_pgid: Callable[[int], Awaitable[None]] | None = None,
    ) -> StepResult:
        out = _Output(self._read_limit, whole=True)
        result = await self._exec(command, timeout, stdin, out, on_pgid)
        if out.overflow:
            error = f"its output is larger than {self._read_limit} bytes, the most shipbot reads from a host"
            return StepResult(None, "", result.duration, error=error)
        return result

    async def _exec(
        self,
        command: str,
        timeout: float,
        stdin: bytes | None,
        out: _Output,
        on_pgid: Callable[[int], Awaitable[None]] | None,
        on_line: Callable[[str], None] | None = None,
    ) -> StepResult:
        started = time.monotonic()
        lines = _Lines(on_line, self._redact) if on_line is not None else None
        shown: Callable[[str], str] = (lambda text: text) if out.whole else tail
        pgid: int | None = None
        opening = asyncio.ensure_future(
            self._conn.create_process(remote.with_pgid(command, self._posix), stderr=asyncssh.STDOUT, encoding=None)
        )
        try:
            proc = await asyncio.shield(opening)
        except asyncio.CancelledError:
            # cancelled while the channel opens: the command may start on the host all the same, so wait for the
            # channel and kill what it started (its process group line is read first) before giving up
            with contextlib.suppress(asyncssh.Error, OSError, TimeoutError):
                await asyncio.shield(self._kill(None, await asyncio.wait_for(opening, 10)))
            raise
        except (asyncssh.Error, OSError) as exc:
            return StepResult(
                None, "", time.monotonic() - started, error=f"connection lost: {_reason(exc)}", lost=True, sent=False
            )

        async def drive() -> int | None:
            nonlocal pgid
            mark = remote.PGID_MARK.encode()
            for _ in range(_MAX_NOISE_LINES):  # the login shell may print lines of its own first
                line = await proc.stdout.readline()
                if not line or line.startswith(mark):
                    with contextlib.suppress(ValueError):
                        pgid = int(line[len(mark) :].strip() or b"x")
                    if pgid is not None and on_pgid is not None:
                        await on_pgid(pgid)
                    break
                out.add(line)
                if lines is not None:
                    lines.add(line)

            # the process group is recorded: the step may run (remote.GO), then its input. A command may end before
            # it has read all its input (a check that fails first): the channel is then closed for sending, which
            # is no lost connection: its output and exit status are still on the way
            async def feed() -> None:
                with contextlib.suppress(BrokenPipeError, asyncssh.ProtocolError):
                    proc.stdin.write(remote.GO + (stdin or b""))
                    await proc.stdin.drain()
                    proc.stdin.write_eof()

            # a streamed command (several steps in one session) is read while its input is still being sent: a
            # later step may print more than the channel's window before the first has read all of its input
            writing = asyncio.ensure_future(feed()) if lines is not None else None
            try:
                if writing is None:
                    await feed()
                while chunk := await proc.stdout.read(65536):
                    out.add(chunk)
                    if lines is not None:
                        lines.add(chunk)
                if lines is not None:
                    lines.flush()
                if writing is not None:
                    await writing
            finally:
                if writing is not None and not writing.done():
                    writing.cancel()
            completed = await proc.wait()
            return completed.exit_status

        try:
            status = await asyncio.wait_for(drive(), timeout)
        except TimeoutError:
            await asyncio.shield(self._kill(pgid, proc))
            return StepResult(
                None,
                self._redact(shown(out.text())),
                time.monotonic() - started,
                True,
                f"timed out after {timeout:g}s",
            )
        except asyncio.CancelledError:
            await asyncio.shield(self._kill(pgid, proc))
            raise
        except (asyncssh.Error, OSError, BrokenPipeError) as exc:
            proc.close()
            return StepResult(
                None,
                self._redact(shown(out.text())),
                time.monotonic() - started,
                error=f"connection lost: {_reason(exc)}",
                lost=True,
            )
        except Exception:
            # anything else once the command may have started (``on_pgid`` failing: the store refused to record
            # the process group) must not leave it running on the host, nor the channel open: kill, then raise
            await asyncio.shield(self._kill(pgid, proc))
            raise
        if status is None or status < 0:
            sig = proc.exit_signal[0] if proc.exit_signal else "a signal"
            return StepResult(
                None, self._redact(shown(out.text())), time.monotonic() - started, error=f"killed by {sig}"
            )
        return StepResult(status, self._redact(shown(out.text())), time.monotonic() - started)

    async def _kill(self, pgid: int | None, proc: asyncssh.SSHClientProcess[bytes]) -> None:
        """Kill the step's remote process group: TERM, then KILL after a grace period. A step cut short before its
        process group line arrived still has it on the way (the shell prints it first): it is read, then killed."""
        try:
            if pgid is None:
                with contextlib.suppress(ValueError, asyncssh.Error, OSError, TimeoutError):
                    pgid = await asyncio.wait_for(_read_pgid(proc), 10)
            if pgid is not None:
                await asyncio.wait_for(self._conn.run(remote.kill_group(pgid, "TERM")), 10)
                await asyncio.sleep(_KILL_GRACE if proc.exit_status is None else 0)
                await asyncio.wait_for(self._conn.run(remote.kill_group(pgid, "KILL")), 10)
        except (asyncssh.Error, OSError, TimeoutError):
            pass
        finally:
            proc.close()

    async def close(self) -> None:
        self._conn.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._conn.wait_closed(), 5)


async def _read_pgid(proc: asyncssh.SSHClientProcess[bytes]) -> int | None:
    mark = remote.PGID_MARK.encode()
    for _ in range(_MAX_NOISE_LINES):
        line = await proc.stdout.readline()
        if not line:
            return None
        if line.startswith(mark):
            return int(line[len(mark) :].strip() or b"x")
    return None


def _reason(exc: BaseException) -> str:
    if isinstance(exc, asyncssh.HostKeyNotVerifiable):
        return "its host key is not trusted (unknown, or changed since it was recorded in known_hosts)"
    if isinstance(exc, asyncssh.PermissionDenied):
        return "authentication was refused (check ssh.user and ssh.identity)"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused (is sshd running on that port?)"
    if isinstance(exc, TimeoutError):
        return "connection timed out"
    if isinstance(exc, asyncssh.DisconnectError):
        return f"disconnected: {exc.reason}"
    if isinstance(exc, OSError):
        return exc.strerror or str(exc)
    return str(exc) or type(exc).__name__


def _expand(path: str | None) -> str | None:
    return None if path is None else os.path.expanduser(path)


class SshConnector:
    """Opens host connections with at most ``connect_concurrency`` handshakes in flight, through one jump host
    connection shared by every host of the run (opened once, closed by :meth:`close` at the run's end; a jump host
    that cannot be reached fails every host at once, naming it, without trying it again).

    With ``ssh.identity`` unset the agent (``SSH_AUTH_SOCK``) and the default keys (``~/.ssh/id_ed25519``,
    ``id_ecdsa``, ``id_rsa``, ...) are offered, as OpenSSH does; a named key is offered besides the agent's, and a
    named key file that does not exist is a :class:`~deploy.errors.ConfigError` naming it, raised here, before any
    run starts.
    """

    def __init__(self, ssh: Ssh, redactor: Redactor | None = None, read_limit: int = READ_LIMIT) -> None:
        self._ssh = ssh
        self._redact: Callable[[str], str] = redactor or Redactor()
        self._read_limit = read_limit
        self._handshakes = asyncio.Semaphore(ssh.connect_concurrency)
        self._jump: asyncssh.SSHClientConnection | None = None
        self._jump_failed = ""  # why the jump host could not be reached: every later host fails with it at once
        self._jump_lock = asyncio.Lock()
        known = _expand(ssh.known_hosts)
        assert known is not None
        self._known_hosts = known
        self._trusted: asyncssh.SSHKnownHosts | None = None  # the file, parsed once for the run's every host
        problems = identity_problems(ssh)
        if problems:
            raise ConfigError("ssh.identity", problems)
        identity = _expand(ssh.identity)
        # asyncssh: no client_keys means the default keys; None would mean no keys at all (and no agent)
        self._keys: dict[str, list[str]] = {"client_keys": [identity]} if identity else {}

    def _known(self, host: Host) -> asyncssh.SSHKnownHosts:
        """``ssh.known_hosts``, read and parsed once per run: asyncssh given the file's name parses all of it for
        every connection, which made a run's controller time grow with the square of its hosts (1,000 hosts: a
        million keys decoded)."""
        if self._trusted is None:
            if not Path(self._known_hosts).exists():
                raise HostUnreachable(
                    host.name, "connect", f"known_hosts file {self._known_hosts} does not exist (ssh.known_hosts)"
                )
            try:
                self._trusted = asyncssh.read_known_hosts(self._known_hosts)
            except (OSError, ValueError) as exc:
                raise HostUnreachable(
                    host.name, "connect", f"known_hosts file {self._known_hosts} cannot be read: {exc}"
                ) from exc
        return self._trusted

    def _options(self, host: Host, timeout: float) -> asyncssh.SSHClientConnectionOptions:
        return asyncssh.SSHClientConnectionOptions(
            username=host.user,
            known_hosts=self._known(host),
            connect_timeout=timeout,
            login_timeout=timeout,
            keepalive_interval=self._ssh.keepalive_interval,
            keepalive_count_max=3,
            compression_algs=None,
            # a discovered host is looked up under the name it was found under and under its address, with the
            # port, as OpenSSH does (``[name]:port`` or ``[addr]:port``; bare on port 22)
            host_key_alias=host.alias,
            **self._keys,
        )

    async def _jump_conn(self, host: Host, timeout: float) -> asyncssh.SSHClientConnection | None:
        spec = self._ssh.jump_host
        if not spec:
            return None
        async with self._jump_lock:
            if self._jump_failed:
                raise HostUnreachable(host.name, "connect", self._jump_failed)
            if self._jump is None:
                user, _, hostport = spec.rpartition("@")
                address, _, port = hostport.partition(":")
                jump = Host(address, int(port or 22), user or self._ssh.user, "/")
                try:
                    self._jump = await asyncio.wait_for(
                        asyncssh.connect(address, int(port or 22), options=self._options(jump, timeout)), timeout + 1
                    )
                except (asyncssh.Error, OSError, TimeoutError) as exc:
                    self._jump_failed = f"the jump host {spec} is unreachable: {_reason(exc)}"
                    raise HostUnreachable(host.name, "connect", self._jump_failed) from exc
            return self._jump

    async def connect(self, host: Host, timeout: float) -> HostConnection:
        options = self._options(host, timeout)
        tunnel = await self._jump_conn(host, timeout)
        async with self._handshakes:
            try:
                conn = await asyncio.wait_for(
                    asyncssh.connect(host.address, host.port, tunnel=tunnel, options=options), timeout + 1
                )
            except (asyncssh.Error, OSError, TimeoutError) as exc:
                raise HostUnreachable(host.name, "connect", _reason(exc) + self._key_hint(host, exc)) from exc
        return SshHostConnection(host, conn, self._redact, self._ssh.login_shell == "posix", self._read_limit)

    def _key_hint(self, host: Host, exc: BaseException) -> str:
        """How to trust an unknown host key (after checking it out of band)."""
        if not isinstance(exc, asyncssh.HostKeyNotVerifiable):
            return ""
        names = [n if host.port == 22 else f"[{n}]:{host.port}" for n in (host.alias, host.address) if n]
        return (
            f"; shipbot looks its key up in {self._known_hosts} as {' or '.join(names)}: once you have checked the "
            f"key, add it with `ssh-keyscan -p {host.port} {host.address} >> {self._known_hosts}`"
        )

    async def close(self) -> None:
        """Close the jump host connection (the run's host connections are closed by the run)."""
        if self._jump is not None:
            self._jump.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._jump.wait_closed(), 5)
            self._jump = None
