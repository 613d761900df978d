"""IRC against a real server (Debian's ngircd) and a real client in the channel: every event is one line there,
in order; a nick already taken gets a suffix; text from people never becomes a command or formatting."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from deploy.store.tables import Store
from sinks import irc
from sinks.sender import Sender
from tests.support.ngircd import IrcServer, Watcher, ngircd
from tests.support.outbox_runs import route, run


@pytest.fixture
def server(tmp_path: Path) -> Iterator[IrcServer]:
    with ngircd(tmp_path / "irc", password="letmein") as started:
        yield started


async def test_runs_are_said_in_the_channel_in_order_under_a_suffixed_nick(
    server: IrcServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IRC_PASS", "letmein")
    watcher = Watcher()
    await watcher.join(server, "shipbot", "#deploys")  # the nick shipbot would take is taken
    store = Store.in_data_dir(tmp_path / "data")
    route(store, "irc", {"server": server.host, "port": server.port, "tls": False, "channel": "#deploys",
                         "nick": "shipbot", "password_env": "IRC_PASS"})  # fmt: skip
    run(store, "r1", "success", message="live on 1 host\r\nQUIT :bye\x02\x0304red")
    run(store, "r2", "failed")
    sender = Sender(store, first_delay=0.2)
    try:
        end = time.monotonic() + 30
        while len(watcher.said) < 4:
            assert time.monotonic() < end, f"heard only {watcher.said}"
            await sender.tick()
            await sender.settle()
            await asyncio.sleep(0.1)
    finally:
        await sender.close()
        await watcher.leave()
    assert {"shipbot_"} == {nick for nick, _ in watcher.said}
    assert [
        "U0ALICE started a deploy of shop staging main (a84d88e) [r1]",
        "deploy of shop staging main (a84d88e) succeeded [r1]: live on 1 hostQUIT :bye04red",
        "U0ALICE started a deploy of shop staging main (a84d88e) [r2]",
        "deploy of shop staging main (a84d88e) failed [r2]: failed on 1 host",
    ] == [text for _, text in watcher.said]
    assert not any(b"\x02" in line or b"\x03" in line for line in watcher.raw)


async def test_a_wrong_password_fails_with_the_servers_reason(server: IrcServer) -> None:
    with pytest.raises(irc.IrcError, match="Access denied: Bad password"):
        await irc.say(server.host, server.port, tls=False, channel="#deploys", nick="shipbot", text="hi",
                      password="wrong")  # fmt: skip


def test_a_line_is_cut_to_fit_on_a_character_boundary() -> None:
    line = irc.clean("é" * 300 + "\r\nPRIVMSG #x :boom")
    assert len(line.encode()) <= irc.MAX_TEXT
    assert "\r" not in line and "\n" not in line
    assert set(line) == {"é"}
