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
import shlex
import socket
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TypeVar

from demo.config import write_demo_config
from demo.fleet import DemoFleet
from demo.repo import make_demo_repo
from slack_emulator.server import SlackEmulator

DEFAULT_PORT = 8765

#: what the demo suggests typing first, in this order (the README's quickstart lists the same lines)
FIRST_COMMANDS = (
    ("deploy main to staging", ""),
    ("flag on new-login in staging", "the staging pages say new-login: on within seconds, without a deploy"),
    ("run whoami on staging", "a task: each host's output, by host name"),
    ("status staging", "hosts by name, release and SHA"),
    ("plan feature/new-login to staging", "what a deploy would do, changing nothing"),
    ("deploy feature/new-login to staging", ""),
    ("deploy broken-health to staging", "fails its health check; every host goes back"),
    ("rollback staging", "back to the previous good release"),
    ("deploy main to production", "waits for approval: switch to bob and press Approve"),
    ("help", ""),
)

TRY = """
  shipbot demo is running.

  Open {url} and, as alice in #deploys, type:

{commands}

  The staging apps answer on {apps}.

  The command line works on the same hosts and store, in another terminal:

    export SHIPBOT_CONFIG={config} SHIPBOT_DATA_DIR={data_dir}
    {shipbot} status staging
    {shipbot} history staging
    {shipbot} task whoami staging

  Ctrl-C stops everything.
"""


def first_commands(prefix: str = "@shipbot ") -> str:
    """The suggested first commands, one a line, each with its note aligned after it."""
    width = max(len(prefix + command) for command, _ in FIRST_COMMANDS) + 2
    return "\n".join(
        (f"{prefix}{command}".ljust(width) + (f"({note})" if note else "")).rstrip() for command, note in FIRST_COMMANDS
    )


def shipbot_command() -> str:
    """How to call this shipbot from another terminal: the script beside the interpreter (a venv's), else on PATH."""
    script = Path(sys.executable).with_name("shipbot")
    return str(script) if script.exists() else "shipbot"


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
    """True when ``port`` can be bound on loopback the way the emulator binds it: with ``SO_REUSEADDR``, so the
    TIME-WAIT connections a stopped demo leaves behind do not count, only a process listening there does."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
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
                commands = "\n".join("    " + line for line in first_commands().splitlines())
                banner = TRY.format(
                    url=emulator.url, apps=apps, commands=commands, config=shlex.quote(str(wiring.config)),
                    data_dir=shlex.quote(str(wiring.data_dir)), shipbot=shlex.quote(shipbot_command()),
                )  # fmt: skip
                print(banner, flush=True)
            print(f"shipbot demo ready: {emulator.url} (ops port {running.ops_port})", flush=True)

        await serve(settings_for(wiring), ready)
    finally:
        await fleet.stop()
        await emulator.stop()
