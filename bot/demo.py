"""``shipbot demo`` (``make demo``): shipbot's main job on embedded defaults, no Slack account, no root, no sshd.

It starts, on loopback only: the local Slack emulator and its web page; a demo fleet of embedded SSH servers
(staging: 2 hosts, production: 4), each a folder under the data dir where commands really run; a git repo of a tiny
web app (``main``, ``feature/new-login``, ``broken-health``); a config with a policy (production needs a second
person's approval); and the bot, connected over Socket Mode exactly as in production. Ctrl-C (or SIGTERM) stops
the bot, the hosts and the apps they started, and the emulator: nothing is left running.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import socket
import sys
from pathlib import Path

from bot import logs
from bot.demo_config import write_demo_config
from bot.demo_hosts import DemoFleet
from bot.demo_repo import make_demo_repo
from bot.main import Running, serve
from bot.settings import Settings
from slack_emulator.server import SlackEmulator

DEFAULT_PORT = 8765

TRY = """
  shipbot demo is running.

  Open {url} and, as alice in #deploys, type:

    @shipbot deploy feature/new-login to staging
    @shipbot status staging
    @shipbot deploy broken-health to staging      (fails its health check; every host goes back)
    @shipbot rollback staging
    @shipbot deploy main to production            (waits for approval: switch to bob and press Approve)
    @shipbot help

  The staging apps answer on {apps}.
  Ctrl-C stops everything.
"""


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


async def demo(data_dir: Path, port: int, announce: bool = True) -> None:
    await asyncio.to_thread(data_dir.mkdir, parents=True, exist_ok=True)
    emulator = SlackEmulator(port=port)
    fleet = DemoFleet(data_dir)
    await emulator.start()
    try:
        await fleet.start()
        repo = make_demo_repo(data_dir / "repo.git")
        config = write_demo_config(data_dir / "shipbot.yml", repo, fleet)
        settings = Settings(
            SLACK_BOT_TOKEN=emulator.bot_token,
            SLACK_APP_TOKEN=emulator.app_token,
            SLACK_API_URL=emulator.api_url,
            SHIPBOT_CONFIG=str(config),
            SHIPBOT_DATA_DIR=data_dir / "state",
            SHIPBOT_OPS_PORT=0,
            SHIPBOT_ON_SHUTDOWN="cancel",
            SHIPBOT_UPDATE_INTERVAL=0.5,
        )

        async def ready(running: Running) -> None:
            apps = ", ".join(f"http://127.0.0.1:{h.app_port}/" for h in fleet.hosts["staging"])
            if announce:
                print(TRY.format(url=emulator.url, apps=apps), flush=True)
            print(f"shipbot demo ready: {emulator.url} (ops port {running.ops_port})", flush=True)

        await serve(settings, ready)
    finally:
        await fleet.stop()
        await emulator.stop()


def run_demo(args: argparse.Namespace) -> int:
    data_dir = Path(args.data_dir or os.environ.get("SHIPBOT_DEMO_DIR", ".shipbot-data/demo")).resolve()
    port = args.port if args.port is not None else int(os.environ.get("SHIPBOT_DEMO_PORT", DEFAULT_PORT))
    if port and not _port_free(port):
        print(f"shipbot: port {port} is in use; pass --port N (or 0 for any free port)", file=sys.stderr)
        return 2
    logs.configure(os.environ.get("SHIPBOT_LOG_FORMAT", "console"), os.environ.get("SHIPBOT_LOG_LEVEL", "WARNING"))
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(demo(data_dir, port))
    print("shipbot demo stopped.", flush=True)
    return 0
