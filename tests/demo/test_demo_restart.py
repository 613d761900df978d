"""``shipbot demo`` as a newcomer meets it: the banner's lines for the command line work as printed, the hosts
have names, and after Ctrl-C the demo starts again at once on the same port (TIME-WAIT connections left by the
browser's page do not count as the port being in use)."""

from __future__ import annotations

import asyncio
import os
import re
import shlex
import signal
import socket
import time
from pathlib import Path

import aiohttp

from demo.launch import first_commands, port_free
from tests.demo.test_demo_command import SHIPBOT, read_until
from tests.support.ports import free_port

READY = r"shipbot demo ready: (http://127\.0\.0\.1:\d+) \(ops port (\d+)\)"


def time_wait_on(port: int) -> bool:
    """Whether a TCP connection with local port ``port`` is in TIME-WAIT (state 06 in /proc/net/tcp)."""
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if int(fields[1].split(":")[1], 16) == port and fields[3] == "06":
            return True
    return False


async def start(port: int, data: Path) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        SHIPBOT, "demo", "--port", str(port), "--data-dir", str(data),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip


async def stop(proc: asyncio.subprocess.Process) -> int:
    if proc.returncode is None:
        proc.send_signal(signal.SIGINT)
        try:
            return await asyncio.wait_for(proc.wait(), 30)
        except TimeoutError:
            proc.kill()
    return await proc.wait()


async def shipbot(env: dict[str, str], *argv: str) -> tuple[int, str]:
    """Exit status and standard output of a command run with ``env`` added to this one's."""
    proc = await asyncio.create_subprocess_exec(
        *argv, env={**os.environ, **env}, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 60)
    return await proc.wait(), out.decode()


async def test_the_banners_cli_lines_work_and_ctrl_c_then_demo_starts_at_once_on_the_same_port(tmp_path: Path) -> None:
    port, data = free_port(), tmp_path / "demo-data"
    proc = await start(port, data)
    try:
        assert proc.stdout is not None
        banner = await read_until(proc.stdout, READY, 60)
        printed = banner.string
        assert first_commands() in printed.replace("\n    @shipbot", "\n@shipbot")
        export = re.search(r"^\s+export (SHIPBOT_CONFIG=\S+) (SHIPBOT_DATA_DIR=\S+)$", printed, re.M)
        assert export is not None, printed
        env = dict(shlex.split(part)[0].split("=", 1) for part in export.groups())
        history = re.search(r"^\s+(\S+) history staging$", printed, re.M)
        assert history is not None, printed
        cli = shlex.split(history.group(1))[0]

        assert (0, "no runs recorded for staging yet\n") == await shipbot(env, cli, "history", "staging")
        code, status = await shipbot(env, cli, "status", "staging")
        assert 0 == code and "  stg-1 (127.0.0.1:" in status and "  stg-2 (127.0.0.1:" in status, status

        async with aiohttp.ClientSession() as page:  # a browser with the page open, its connection kept alive
            async with page.get(banner.group(1)) as r:
                assert 200 == r.status
            assert 0 == await stop(proc)
        assert time_wait_on(port), "the stopped demo left TIME-WAIT connections on its port"

        again = await start(port, data)
        try:
            assert again.stdout is not None
            restarted = await read_until(again.stdout, READY, 60)
            assert f"http://127.0.0.1:{port}" == restarted.group(1)
        finally:
            assert 0 == await stop(again)
    finally:
        await stop(proc)


def test_a_port_left_in_time_wait_is_free_but_one_listened_on_is_not() -> None:
    with socket.socket() as server:
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        assert not port_free(port), "a listening process holds it"
        client = socket.create_connection(("127.0.0.1", port))
        accepted, _ = server.accept()
        accepted.close()  # the server side closes first, as a stopping demo does: its end waits in TIME-WAIT
        client.close()
    deadline = time.monotonic() + 2
    while not time_wait_on(port) and time.monotonic() < deadline:  # the last ACK crosses loopback
        time.sleep(0.01)
    assert time_wait_on(port)
    assert port_free(port)
