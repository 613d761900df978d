"""End-to-end fixtures: the real bolt app (``cli.root.serve``) against the local Slack emulator, deploying to real
sshd hosts from a real git repository."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from cli.bot_settings import Settings
from cli.root import Running, serve
from deploy.store.database import Database
from deploy.store.tables import Store
from slack_emulator.server import SlackEmulator
from tests.engine.conftest import PIPELINE
from tests.support.gitrepo import GitRepo
from tests.support.ports import free_port
from tests.support.sshd_fleet import FleetFactory, SshdFleet

ACCESS: dict[str, Any] = {
    "admins": ["U0ADMIN"],
    "groups": {"deployers": ["U0ALICE", "U0BOB"], "sre": ["U0CAROL"]},
    "environments": {
        "staging": {"deploy": ["*"], "lock": ["*"], "rollback": ["*"], "cancel": ["*"]},
        "production": {
            "deploy": ["@deployers"],
            "rollback": ["@deployers", "@sre"],
            "approve": ["@sre", "@deployers"],
            "lock": ["@sre"],
            "approval": "required",
        },
    },
}


@dataclass
class Stack:
    emu: SlackEmulator
    fleet: SshdFleet
    running: Running
    repo: GitRepo
    config_path: Path
    task: asyncio.Task[None]

    @functools.cached_property
    def store(self) -> Store:
        """The bot's store through a connection of the test's own, as the operator CLI or another replica has
        one (the bot's refuses statements on the event loop, which the test shares)."""
        return Store(Database(self.running.store.db.url, upgrade=False), self.running.store.lease_ttl)

    async def stop(self) -> None:
        """What SIGTERM does: the bot stops and ``serve`` returns."""
        self.running.stop.set()
        await asyncio.wait_for(self.task, 60)

    async def say(self, user: str, text: str, channel: str = "#deploys") -> str:
        return await self.emu.post_message(user, channel, f"<@{self.emu.bot_user_id}> {text}")

    async def bot_message(self, predicate: Callable[[Any], bool], timeout: float = 30.0) -> Any:
        return await self.emu.wait_for(lambda m: m.user == self.emu.bot_user_id and predicate(m), timeout)


StackFactory = Callable[..., Awaitable[Stack]]


@pytest.fixture
async def stack(tmp_path: Path, sshd_fleet: FleetFactory, app_repo: GitRepo) -> AsyncIterator[StackFactory]:
    """``s = await stack(hosts=2, pipeline=..., emulator options)``: everything started, stopped at teardown.
    ``staging`` and ``production`` add keys to those environments; ``repo`` replaces the config's repo URL; ``edit``
    changes the config dict before it is written."""
    started: list[tuple[asyncio.Task[None], Running | None, SlackEmulator]] = []

    async def make(
        hosts: int = 2,
        pipeline: dict[str, Any] | None = None,
        access: dict[str, Any] | None = None,
        http: bool = False,
        staging: dict[str, Any] | None = None,
        fleet_options: dict[str, Any] | None = None,
        settings: dict[str, Any] | None = None,
        production: dict[str, Any] | None = None,
        repo: str | None = None,
        edit: Callable[[dict[str, Any]], None] | None = None,
        **emu_options: Any,
    ) -> Stack:
        fleet = await sshd_fleet(hosts, **(fleet_options or {}))
        half = max(1, hosts // 2)
        data = fleet.config_yaml(
            repo=repo or app_repo.path,
            environments={"staging": range(half), "production": range(half, hosts) if hosts > 1 else range(1)},
            pipeline=pipeline or PIPELINE,
            shared={"dirs": ["log"]},
            access=access or ACCESS,
        )
        data["environments"]["staging"].update(staging or {})
        data["environments"]["production"].update(production or {})
        if edit is not None:
            edit(data)  # more config keys, given the fleet's config
        config_path = tmp_path / "shipbot.yml"
        config_path.write_text(yaml.safe_dump(data))
        http_port = free_port()
        if http:
            emu_options |= {
                "request_url": f"http://127.0.0.1:{http_port}/slack/events",
                "signing_secret": "s3cr3t-sign",
            }
        emu = SlackEmulator(**emu_options)
        await emu.start()
        mode: dict[str, Any] = (
            {"SHIPBOT_MODE": "http", "SHIPBOT_HTTP_PORT": http_port, "SHIPBOT_HTTP_HOST": "127.0.0.1",
             "SLACK_SIGNING_SECRET": emu.signing_secret}
            if http
            else {"SLACK_APP_TOKEN": emu.app_token}
        )  # fmt: skip
        bot_settings = Settings(
            SLACK_BOT_TOKEN=emu.bot_token,
            **mode,
            SLACK_API_URL=emu.api_url,
            SHIPBOT_CONFIG=str(config_path),
            SHIPBOT_DATA_DIR=tmp_path / "data",
            SHIPBOT_OPS_PORT=0,
            SHIPBOT_UPDATE_INTERVAL=0.2,
            **({"SHIPBOT_ON_SHUTDOWN": "cancel"} | (settings or {})),
        )
        ready: asyncio.Future[Running] = asyncio.get_running_loop().create_future()

        async def on_ready(running: Running) -> None:
            ready.set_result(running)

        task = asyncio.create_task(serve(bot_settings, on_ready))
        done, _ = await asyncio.wait([task, ready], timeout=20, return_when=asyncio.FIRST_COMPLETED)
        if task in done:
            task.result()  # raises what went wrong
        running = ready.result()
        started.append((task, running, emu))
        if not http:
            await emu.wait_connections(1, 10)
        return Stack(emu, fleet, running, app_repo, config_path, task)

    try:
        yield make
    finally:
        for task, running, emu in started:
            if running is not None:
                running.stop.set()
            if not task.done():
                await asyncio.wait_for(task, 60)
            await emu.stop()


async def dump(emu: SlackEmulator, channel: str = "#deploys") -> str:
    """The channel as text, for failure messages."""
    out = []
    for m in await emu.messages(channel):
        out.append(f"{m.get('ts')} {m.get('user')} {m.get('text')!r} edits={len(m.get('edits', []))}")
        for r in m.get("replies", []):
            out.append(f"    {r.get('user')} {r.get('text')!r}")
    return "\n".join(out)
