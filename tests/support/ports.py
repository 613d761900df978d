"""Ports for the servers tests start on a port chosen beforehand (sshd, PostgreSQL, nginx, dnsmasq, a demo, an app
started later by a deploy), without two pytest-xdist workers ever choosing the same one.

The kernel's own choice (``bind(('127.0.0.1', 0))`` then close) is unsafe between processes: the port is free only
until the socket closes, the next ``bind(0)`` of another worker may get it again, and every outgoing connection
(SSH, PostgreSQL, HTTP) takes its local port from that same ephemeral range. So each worker hands out ports from a
block of its own below the ephemeral range (``/proc/sys/net/ipv4/ip_local_port_range``), which neither ``bind(0)``
nor ``connect()`` ever gives out: ``gw0`` gets the first block, ``gw1`` the second, a run without xdist the last.
Inside its block a worker goes round in turn from a random start (two sessions on one machine rarely meet), never
giving the same port twice until it has gone round, and skips a port something is bound to now.

A server that binds port 0 itself and reports its port needs none of this; use it for ports that must be named
before their server starts.
"""

from __future__ import annotations

import os
import random
import re
import socket
import threading
from pathlib import Path

_BLOCKS = 9  # gw0..gw7, and a run without xdist; a ninth worker shares gw0's block (its probe still skips ports in use)
_FLOOR = 10000  # below: well-known services (PostgreSQL's 5432, ...)


def _ephemeral_low() -> int:
    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    return max(low, _FLOOR + 1000 * _BLOCKS)


def _block() -> range:
    size = (_ephemeral_low() - _FLOOR) // _BLOCKS
    worker = re.fullmatch(r"gw(\d+)", os.environ.get("PYTEST_XDIST_WORKER", ""))
    index = int(worker.group(1)) % (_BLOCKS - 1) if worker else _BLOCKS - 1
    return range(_FLOOR + index * size, _FLOOR + (index + 1) * size)


class _Ports:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._block = _block()
        self._next = random.randrange(len(self._block))

    def take(self, count: int, address: str, udp: bool) -> int:
        """The first of ``count`` consecutive ports of this worker's block, free on ``address`` now."""
        with self._lock:
            for _ in range(len(self._block)):
                if self._next + count > len(self._block):
                    self._next = 0
                first = self._block[self._next]
                self._next += count
                if all(_bindable(p, address, udp) for p in range(first, first + count)):
                    return first
        raise RuntimeError(f"no {count} free consecutive port(s) left in {self._block}")


def _bindable(port: int, address: str, udp: bool) -> bool:
    kinds = (socket.SOCK_STREAM, socket.SOCK_DGRAM) if udp else (socket.SOCK_STREAM,)
    for kind in kinds:
        with socket.socket(socket.AF_INET, kind) as sock:
            try:
                sock.bind((address, port))
            except OSError:
                return False
    return True


_PORTS = _Ports()


def free_port(address: str = "127.0.0.1", *, udp: bool = False) -> int:
    """A TCP port (and UDP too with ``udp``) of this worker's own that nothing is bound to on ``address`` now."""
    return _PORTS.take(1, address, udp)


def free_range(size: int, address: str = "127.0.0.1") -> tuple[int, int]:
    """``size`` consecutive TCP ports of this worker's own, none bound now: the first and the last."""
    first = _PORTS.take(size, address, False)
    return first, first + size - 1


def worker_block() -> range:
    """The ports this process hands out (for tests of this module)."""
    return _PORTS._block
