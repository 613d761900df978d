"""The ports tests choose for their servers: two pytest-xdist workers never hand out the same one, none is in the
kernel's ephemeral range (what ``bind(0)`` and every outgoing connection take), and one bound now is skipped."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

from tests.support.ports import free_port, free_range, worker_block

ROOT = Path(__file__).resolve().parent.parent


def handed_out(worker: str | None, count: int) -> tuple[list[int], list[int]]:
    """In a new process as pytest-xdist starts one (``worker``: its PYTEST_XDIST_WORKER), the ports of ``count``
    calls and its block."""
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_XDIST_WORKER"}
    if worker is not None:
        env["PYTEST_XDIST_WORKER"] = worker
    code = (
        "import json; from tests.support.ports import free_port, worker_block; "
        f"b = worker_block(); print(json.dumps([[free_port() for _ in range({count})], [b.start, b.stop]]))"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    ports, block = json.loads(done.stdout)
    return ports, block


def test_two_workers_and_a_run_without_xdist_never_choose_the_same_port() -> None:
    got = {w: handed_out(w, 200) for w in ("gw0", "gw1", None)}
    low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    blocks = [range(*block) for _ports, block in got.values()]
    assert all(not set(a) & set(b) for i, a in enumerate(blocks) for b in blocks[i + 1 :]), blocks
    for ports, (start, stop) in got.values():
        assert len(set(ports)) == len(ports), "never the same port twice in one process"
        assert all(start <= p < stop < low for p in ports), (start, stop, low)


def test_a_port_something_listens_on_is_skipped_and_a_range_is_consecutive() -> None:
    first = free_port()
    block = worker_block()
    with socket.socket() as squatter:
        nxt = first + 1 if first + 1 in block else block.start
        squatter.bind(("127.0.0.1", nxt))
        squatter.listen()
        assert nxt != free_port()
    low, high = free_range(3)
    assert (high - low, True) == (2, all(p in block for p in range(low, high + 1)))
