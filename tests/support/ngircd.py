"""A real IRC server for tests: Debian's ``ngircd`` on a free loopback port, in the foreground, stopped at the end;
and a small client that sits in a channel and records what is said there."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.support.ports import free_port

CONFIG = """[Global]
    Name = irc.shipbot.test
    Info = shipbot test server
    AdminInfo1 = shipbot tests
    AdminInfo2 = loopback
    AdminEMail = nobody@shipbot.test
    Listen = 127.0.0.1
    Ports = {port}
    MotdPhrase = hello
{password}
[Limits]
    MaxNickLength = 30
[Options]
    PAM = no
    Ident = no
    DNS = no
"""


@dataclass(frozen=True)
class IrcServer:
    host: str
    port: int
    password: str | None


@contextlib.contextmanager
def ngircd(folder: Path, password: str | None = None) -> Iterator[IrcServer]:
    binary = shutil.which("ngircd") or "/usr/sbin/ngircd"
    if not Path(binary).exists():
        pytest.skip("ngircd is not installed (apt-get install ngircd)")
    port = free_port()
    folder.mkdir(parents=True, exist_ok=True)
    conf = folder / "ngircd.conf"
    conf.write_text(CONFIG.format(port=port, password=f"    Password = {password}" if password else ""))
    process = subprocess.Popen(
        [binary, "--nodaemon", "--config", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    try:
        end = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                assert process.poll() is None, "ngircd exited at start"
                assert time.monotonic() < end, "ngircd did not listen in time"
                time.sleep(0.05)
        yield IrcServer("127.0.0.1", port, password)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@dataclass
class Watcher:
    """A client in ``channel`` recording every PRIVMSG: (sender's nick, text)."""

    said: list[tuple[str, str]] = field(default_factory=list)
    raw: list[bytes] = field(default_factory=list)
    _task: asyncio.Task[None] | None = None
    _writer: asyncio.StreamWriter | None = None

    async def join(self, server: IrcServer, nick: str, channel: str) -> None:
        reader, writer = await asyncio.open_connection(server.host, server.port)
        self._writer = writer
        if server.password:
            writer.write(f"PASS {server.password}\r\n".encode())
        writer.write(f"NICK {nick}\r\nUSER {nick} 0 * :watcher\r\n".encode())
        joined = asyncio.get_running_loop().create_future()

        async def read() -> None:
            while line := await reader.readline():
                self.raw.append(line)
                text = line.decode(errors="replace").rstrip("\r\n")
                prefix, _, rest = text[1:].partition(" ") if text.startswith(":") else ("", "", text)
                words = rest.split(" ")
                if words[0] == "PING":
                    writer.write(f"PONG {words[1] if len(words) > 1 else ''}\r\n".encode())
                elif words[0] == "001":
                    writer.write(f"JOIN {channel}\r\n".encode())
                elif words[0] == "366" and not joined.done():
                    joined.set_result(None)
                elif words[0] == "PRIVMSG":
                    self.said.append((prefix.split("!")[0], rest.partition(" :")[2]))

        self._task = asyncio.create_task(read())
        await asyncio.wait_for(joined, 10)

    async def leave(self) -> None:
        if self._writer is not None:
            self._writer.close()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionError):
                await self._task
