"""The demo fleet: embedded SSH servers on loopback, one per simulated host, so ``shipbot demo`` needs no sshd.

Each :class:`DemoHost` is an asyncssh server on ``127.0.0.1`` with a port of its own, an ed25519 host key of its
own and a folder of its own (its "home"); ``deploy_to`` lives inside that folder. The servers accept exactly one
login: :attr:`DemoFleet.user` with the demo client key. Everything a real host would need is written under
``<data_dir>/demo``::

    client_key, client_key.pub           the key shipbot logs in with (made once, kept)
    known_hosts                          "[127.0.0.1]:PORT ssh-ed25519 ..." per host, rewritten on every start
    hosts/<name>/ssh_host_ed25519_key    the host's key (made once, kept)
    hosts/<name>/<app>/                  the host's deploy_to

An exec request runs for real (:mod:`demo.ssh_server`), like sshd runs it: ``SHELL -c COMMAND`` in a new session
(so the shell's pid is the process group id that shipbot's first output line ``echo $$`` reports, and
``kill -TERM -- -PGID`` sent over another channel of the same connection reaches the whole tree), with the host's
folder as working directory and HOME, and only PATH, HOME and ``SHIPBOT_DEMO_HOST`` in its environment. SHELL
plays the login shell sshd would start: ``/bin/bash`` where there is one, else ``/bin/sh``. (Where ``/bin/sh`` is
dash, its builtin ``kill`` rejects the ``--`` in ``kill -TERM -- -PGID``, so a step that times out would keep
running.)

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
from pathlib import Path

import asyncssh

from demo.processes import HAS_PROC, KILL_GRACE, kill, killpg, processes_with_env, wait_gone
from demo.ssh_server import CommandSessions, DemoHost, HostServer, HostState, load_or_make_key, public_line
from deploy.processes import pid_alive

ADDRESS = "127.0.0.1"
ENVIRONMENTS: dict[str, tuple[str, int]] = {"staging": ("stg", 2), "production": ("prod", 4)}

_STOP_SCRIPT_TIMEOUT = 15.0
_USER = re.compile(r"[a-z_][a-z0-9_.-]{0,31}")


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
    where ``python3`` on PATH is a shim that needs more of the environment than a host command gets. In a virtual
    environment (``make demo``'s ``.venv``) that is the environment's own ``bin``, so the app finds the packages
    installed there (the OpenFeature SDK and flagd provider that read its feature flags).
    """
    dirs = [d for d in os.environ.get("PATH", os.defpath).split(os.pathsep) if d]
    venv = Path(sys.executable).parent
    real = Path(os.path.realpath(sys.executable)).parent
    interpreter_dir = str(venv if (venv.parent / "pyvenv.cfg").exists() else real)
    if (Path(interpreter_dir) / "python3").exists():
        dirs.insert(0, interpreter_dir)
    return os.pathsep.join(dict.fromkeys(dirs))


def default_shell() -> str:
    """The shell commands run in: bash, as on a typical deploy account, or ``/bin/sh`` without it."""
    return "/bin/bash" if os.access("/bin/bash", os.X_OK) else "/bin/sh"


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
        self._running: list[HostState] = []
        self._sessions = CommandSessions(self.shell)

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
        self._sessions.stopping = False
        self.root.mkdir(parents=True, exist_ok=True)
        client_key = load_or_make_key(self.client_key)
        client_line = public_line(client_key)
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
        host_key = load_or_make_key(home / "ssh_host_ed25519_key")
        app_port = self._app_base_port + index if self._app_base_port else free_port()
        host = DemoHost(name, environment, ADDRESS, 0, str(deploy_to), home, app_port, public_line(host_key))
        state = HostState(host, {"PATH": command_path(), "HOME": str(home), "SHIPBOT_DEMO_HOST": name})
        self._running.append(state)

        async def serve(process: asyncssh.SSHServerProcess[bytes]) -> None:
            await self._sessions.serve(state, process)

        state.acceptor = await asyncssh.listen(
            ADDRESS,
            self._ssh_base_port + index if self._ssh_base_port else 0,
            server_factory=lambda: HostServer(state, self.user, client_line),
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

    # -- stop ----------------------------------------------------------------------------------------------

    async def stop(self) -> None:
        """Stop every server, the demo app on every host, and every process a command started. Safe to repeat."""
        self._sessions.stopping = True
        for state in self._running:
            if state.acceptor is not None:
                state.acceptor.close()
        for state in self._running:
            if state.acceptor is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(state.acceptor.wait_closed(), 5)
        await asyncio.gather(*(self._run_stop_script(state) for state in self._running))
        await self._sessions.stop_commands()
        for state in self._running:
            for conn in list(state.connections):
                conn.close()
        for state in self._running:
            for conn in list(state.connections):
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(conn.wait_closed(), 5)
        await self._sessions.wait_sessions()
        await self._sweep()
        self._running = []
        self._sessions.pgids.clear()

    async def _run_stop_script(self, state: HostState) -> None:
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
            killpg(proc.pid, signal.SIGKILL)
            await proc.wait()

    async def _sweep(self) -> None:
        """Kill what commands left running: every process carrying a host's environment, every group started."""
        marks = [(f"HOME={s.host.home}".encode(), f"SHIPBOT_DEMO_HOST={s.host.name}".encode()) for s in self._running]
        if HAS_PROC:
            pids = processes_with_env(marks)
            for pid in pids:
                kill(pid, signal.SIGTERM)
            for pid in await wait_gone(pids, KILL_GRACE):
                kill(pid, signal.SIGKILL)
            await wait_gone(pids, KILL_GRACE)
        else:  # no /proc: signal every process group a command started that still has members
            for pgid in self._sessions.pgids:
                killpg(pgid, signal.SIGTERM)
            await asyncio.sleep(0.2)
            for pgid in self._sessions.pgids:
                killpg(pgid, signal.SIGKILL)

    def leftover_pids(self) -> list[int]:
        """Processes (Linux) that still carry one of this fleet's host environments; empty after :meth:`stop`."""
        homes = [self.root / "hosts" / h.name for h in self.all_hosts]
        marks = [(f"HOME={home}".encode(), f"SHIPBOT_DEMO_HOST={home.name}".encode()) for home in homes]
        return [p for p in processes_with_env(marks) if pid_alive(p)]

    async def __aenter__(self) -> DemoFleet:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


__all__ = ["ADDRESS", "DemoFleet", "DemoHost", "command_path", "default_shell", "demo_user", "free_port"]
