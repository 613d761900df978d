"""Process-group housekeeping for the demo hosts: signalling, waiting, and finding what commands left behind.

Every host command runs in a new session, so its shell's pid is its process group id: a signal to the group
reaches the whole tree. :func:`processes_with_env` finds processes (Linux ``/proc``) by entries of their
environment, which is how the fleet finds daemons a finished command started.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Iterable
from pathlib import Path

from deploy.processes import pid_alive

KILL_GRACE = 2.0  # between TERM and KILL
_PROC = Path("/proc")
HAS_PROC = _PROC.is_dir()


def signal_name(returncode: int) -> str:
    """The signal name (``TERM``) that ended a child with a negative ``returncode``; ``KILL`` when unknown."""
    try:
        return signal.Signals(-returncode).name.removeprefix("SIG")
    except ValueError:
        return "KILL"


def killpg(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def kill(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, sig)


def processes_with_env(marks: Iterable[tuple[bytes, bytes]]) -> list[int]:
    """Pids (Linux /proc) whose environment holds both entries of one of ``marks``."""
    wanted = list(marks)
    found = []
    me = os.getpid()
    for entry in _PROC.iterdir() if HAS_PROC else ():
        if not entry.name.isdigit() or int(entry.name) == me:
            continue
        try:
            environ = set((entry / "environ").read_bytes().split(b"\0"))
        except OSError:
            continue
        if any(a in environ and b in environ for a, b in wanted):
            found.append(int(entry.name))
    return found


async def wait_gone(pids: Iterable[int], timeout: float) -> list[int]:
    """Wait until none of ``pids`` runs, at most ``timeout`` seconds; the ones still running."""
    left = list(pids)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while left:
        left = [p for p in left if pid_alive(p)]
        if not left or loop.time() >= deadline:
            break
        await asyncio.sleep(0.05)
    return left


async def wait_all(children: list[asyncio.subprocess.Process], timeout: float) -> None:
    """Wait for every child to exit, at most ``timeout`` seconds."""
    waits = [asyncio.ensure_future(c.wait()) for c in children if c.returncode is None]
    if waits:
        await asyncio.wait(waits, timeout=timeout)
        for w in waits:
            w.cancel()


async def terminate(child: asyncio.subprocess.Process) -> None:
    """TERM to the child's process group, KILL after a grace period."""
    killpg(child.pid, signal.SIGTERM)
    try:
        await asyncio.wait_for(child.wait(), KILL_GRACE)
    except TimeoutError:
        killpg(child.pid, signal.SIGKILL)
        await child.wait()
