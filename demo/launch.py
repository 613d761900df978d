"""``shipbot demo`` (``make demo``): shipbot's main job on embedded defaults, no Slack account, no root, no sshd.

:func:`demo` starts, on loopback only: the local Slack emulator and its web page; a demo fleet of embedded SSH
servers (staging: 2 hosts, production: 4), each a folder under the data dir where commands really run; a git repo
of a tiny web app (``main``, ``feature/new-login``, ``broken-health``); a config with a policy (production needs a
second person's approval); and the bot, connected over Socket Mode exactly as in production. When the bot returns
(Ctrl-C or SIGTERM) it stops the hosts and the apps they started, and the emulator: nothing is left running.

The demo does not build the bot itself: the caller passes ``settings_for`` (the bot's settings for the emulator's
tokens, the demo config and the state folder) and ``serve`` (the composition root's entry point), so the demo
depends on the bot's wiring only through those two callables.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TypeVar

from demo.config import write_demo_config
from demo.fleet import DemoFleet
from demo.repo import make_demo_repo
from slack_emulator.server import SlackEmulator

DEFAULT_PORT = 8765

TRY = """
  shipbot demo is running.

  Open {url} and, as alice in #deploys, type:

    @shipbot deploy main to staging
    @shipbot deploy feature/new-login to staging
    @shipbot status staging
    @shipbot deploy broken-health to staging      (fails its health check; every host goes back)
    @shipbot rollback staging                     (back to main, the previous good release)
    @shipbot deploy main to production            (waits for approval: switch to bob and press Approve)
    @shipbot help

  The staging apps answer on {apps}.
  Ctrl-C stops everything.
"""


@dataclass(frozen=True)
class DemoWiring:
    """What the demo's bot is pointed at: the emulator's tokens and API, the demo config, the state folder."""

    bot_token: str
    app_token: str
    api_url: str
    config: Path
    data_dir: Path


class StartedBot(Protocol):
    """What the demo reads from the started bot: the ops server's port (printed in the ready line)."""

    @property
    def ops_port(self) -> int: ...


SettingsT = TypeVar("SettingsT")
Ready = Callable[[StartedBot], Awaitable[None]]


def port_free(port: int) -> bool:
    """True when ``port`` can be bound on loopback."""
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


async def demo(
    data_dir: Path,
    port: int,
    settings_for: Callable[[DemoWiring], SettingsT],
    serve: Callable[[SettingsT, Ready], Awaitable[None]],
    announce: bool = True,
) -> None:
    """Start everything, run the bot until ``serve`` returns, then stop the fleet and the emulator."""
    await asyncio.to_thread(data_dir.mkdir, parents=True, exist_ok=True)
    emulator = SlackEmulator(port=port)
    fleet = DemoFleet(data_dir)
    await emulator.start()
    try:
        await fleet.start()
        repo = make_demo_repo(data_dir / "repo.git")
        config = write_demo_config(data_dir / "shipbot.yml", repo, fleet)
        wiring = DemoWiring(emulator.bot_token, emulator.app_token, emulator.api_url, config, data_dir / "state")

        async def ready(running: StartedBot) -> None:
            apps = ", ".join(f"http://127.0.0.1:{h.app_port}/" for h in fleet.hosts["staging"])
            if announce:
                print(TRY.format(url=emulator.url, apps=apps), flush=True)
            print(f"shipbot demo ready: {emulator.url} (ops port {running.ops_port})", flush=True)

        await serve(settings_for(wiring), ready)
    finally:
        await fleet.stop()
        await emulator.stop()
