"""Approvals and the queue through the real bot and the emulator, across a crash, a restart and another process:
an approval asked of a bot that was SIGKILLed still deploys (once) when a second person approves it from the new
bot; two approvers pressing at once start one deploy; a chat deploy queued behind a ``shipbot deploy`` run from the
CLI starts when that run ends."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from cli.bot_settings import Settings
from cli.root import Running, serve
from deploy.store.tables import Store
from tests.bot.conftest import ACCESS, Stack, StackFactory, dump

pytestmark = pytest.mark.sshd

SHIPBOT = str(Path(sys.executable).with_name("shipbot"))


def data_dir(s: Stack) -> Path:
    return s.config_path.parent / "data"  # where the stack's bot keeps its store


def bot_env(s: Stack) -> dict[str, str]:
    return {
        **os.environ,
        "SLACK_BOT_TOKEN": s.emu.bot_token,
        "SLACK_APP_TOKEN": s.emu.app_token,
        "SLACK_API_URL": s.emu.api_url,
        "SHIPBOT_CONFIG": str(s.config_path),
        "SHIPBOT_DATA_DIR": str(data_dir(s)),
        "SHIPBOT_OPS_PORT": "0",
        "SHIPBOT_UPDATE_INTERVAL": "0.2",
        "SHIPBOT_LOG_FORMAT": "json",
    }


@contextlib.asynccontextmanager
async def bot_process(s: Stack, log: Path) -> AsyncIterator[asyncio.subprocess.Process]:
    """``shipbot run`` in its own process, connected to the emulator; killed at the end if still running."""
    with log.open("ab") as out:
        proc = await asyncio.create_subprocess_exec(SHIPBOT, "run", env=bot_env(s), stdout=out, stderr=out)
    try:
        assert await s.emu.wait_connections(1, 30), log.read_text()
        yield proc
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


@contextlib.asynccontextmanager
async def bot_again(s: Stack) -> AsyncIterator[Running]:
    """The stack's bot started again in this process on the same store (what a restart does)."""
    settings = Settings(
        SLACK_BOT_TOKEN=s.emu.bot_token, SLACK_APP_TOKEN=s.emu.app_token, SLACK_API_URL=s.emu.api_url,
        SHIPBOT_CONFIG=str(s.config_path), SHIPBOT_DATA_DIR=data_dir(s), SHIPBOT_OPS_PORT=0,
        SHIPBOT_UPDATE_INTERVAL=0.2, SHIPBOT_ON_SHUTDOWN="cancel",
    )  # fmt: skip
    ready: asyncio.Future[Running] = asyncio.get_running_loop().create_future()

    async def on_ready(running: Running) -> None:
        ready.set_result(running)

    task = asyncio.create_task(serve(settings, on_ready))
    await asyncio.wait([task, ready], timeout=20, return_when=asyncio.FIRST_COMPLETED)
    running = ready.result()
    try:
        assert await s.emu.wait_connections(1, 10)
        yield running
    finally:
        running.stop.set()
        await asyncio.wait_for(task, 60)


async def eventually(condition: Callable[[], bool], timeout: float) -> None:
    """Poll ``condition`` (state outside the emulator, such as the store) until it holds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition never held"
        await asyncio.sleep(0.05)


def approve_value(message: Any) -> str:
    return next(
        e["value"]
        for b in message.blocks
        if b["type"] == "actions"
        for e in b["elements"]
        if e["action_id"] == "run_approve"
    )


async def test_an_approval_asked_of_a_killed_bot_deploys_once_when_approved_after_the_restart(
    stack: StackFactory, tmp_path: Path
) -> None:
    s = await stack(hosts=2)
    await s.stop()  # the bot runs in processes of its own from here
    log = tmp_path / "bots.log"
    async with bot_process(s, log) as first:
        await s.say("alice", "deploy v1.0.0 to production")
        ask = await s.bot_message(lambda m: "run_approve" in str(m.blocks))
        run_id = approve_value(ask)
        store = Store.in_data_dir(data_dir(s))
        await eventually(lambda: (row := store.waiting.get(run_id)) is not None and row.ts == ask.ts, 10)
        first.send_signal(signal.SIGKILL)
        assert await first.wait() == -signal.SIGKILL
    await s.emu.wait_until(lambda: s.emu.connection_count == 0, 10)

    async with bot_process(s, log):
        await s.emu.click("bob", "#deploys", ask.ts, "run_approve", value=run_id)
        report = await s.bot_message(lambda m: ":large_green_circle:" in str(m.blocks) and "production" in m.text, 90)
        assert s.repo.sha("v1.0.0")[:7] in str(report.blocks), await dump(s.emu)
        closed = await s.emu.wait_for(lambda m: m.ts == ask.ts and "run_approve" not in str(m.blocks), 10)
        assert f"{run_id} approved by bob" in closed.text, "the message asked before the crash is closed"
        await s.say("carol", f"approve {run_id}")
        late = await s.emu.wait_for(lambda m: m.ephemeral_to == "U0CAROL" and "already approved" in m.text, 10)
        assert f"`{run_id}` was already approved by bob" in str(late.blocks)

    assert [r.run_id for r in store.list_runs("shop", "production")] == [run_id], "deployed exactly once"
    assert (s.fleet.hosts[1].local_deploy_to / "current" / "VERSION").read_text() == "v1\n"


async def test_two_approvers_pressing_at_once_start_one_deploy(stack: StackFactory) -> None:
    production = {**ACCESS["environments"]["production"], "approve": ["@oncall", "@deployers"]}
    access: dict[str, Any] = {**ACCESS, "environments": {**ACCESS["environments"], "production": production}}
    s = await stack(hosts=2, access=access)
    await s.say("alice", "deploy v1.0.0 to production")
    ask = await s.bot_message(lambda m: "run_approve" in str(m.blocks))
    run_id = approve_value(ask)
    await s.stop()  # a restart between the request and the clicks: nothing cached, both clicks ask Slack

    async with bot_again(s):
        await s.emu.storm("usergroups.list", 2, retry_after=1)  # both clicks wait on Slack at the same time
        await asyncio.gather(
            s.emu.click("bob", "#deploys", ask.ts, "run_approve", value=run_id),
            s.emu.click("carol", "#deploys", ask.ts, "run_approve", value=run_id),
        )
        await s.bot_message(lambda m: ":large_green_circle:" in str(m.blocks) and "production" in m.text, 60)
        second = await s.emu.wait_for(lambda m: "already approved by" in m.text, 10)
        first = "carol" if second.ephemeral_to == "U0BOB" else "bob"
        assert second.ephemeral_to in ("U0BOB", "U0CAROL")
        assert f"`{run_id}` was already approved by {first}" in str(second.blocks)
        await asyncio.sleep(1)  # time for a second run to show, if there were one
        assert [r.run_id for r in s.store.list_runs("shop", "production")] == [run_id], await dump(s.emu)
        approvals = [m for m in await s.emu.messages("#deploys") if m["text"] == f"approved {run_id}"]
        assert len(approvals) == 1, "one click was answered Approved"


async def test_a_chat_deploy_queued_behind_a_cli_run_starts_when_the_cli_run_ends(
    stack: StackFactory, tmp_path: Path
) -> None:
    staging = {**ACCESS["environments"]["staging"], "queue": True}
    access: dict[str, Any] = {**ACCESS, "environments": {**ACCESS["environments"], "staging": staging}}
    s = await stack(hosts=2, access=access, pipeline={"build": ["sleep 3"]})
    env = {**os.environ, "SHIPBOT_DATA_DIR": str(data_dir(s)), "SHIPBOT_CONFIG": str(s.config_path)}
    cli = await asyncio.create_subprocess_exec(
        SHIPBOT, "deploy", "staging", "main", env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        await eventually(lambda: s.store.active_run("shop", "staging") is not None or cli.returncode is not None, 30)
        assert cli.returncode is None, "the CLI run is under way"

        await s.say("alice", "deploy feature/new-login to staging")

        await s.bot_message(lambda m: m.text == "queued at position 1", 10)
        _, stderr = await asyncio.wait_for(cli.communicate(), 60)
        assert cli.returncode == 0, stderr.decode()
        report = await s.bot_message(
            lambda m: ":large_green_circle:" in str(m.blocks) and "feature/new-login" in m.text, 60
        )
        assert s.repo.sha("feature/new-login")[:7] in str(report.blocks)
        assert (s.fleet.hosts[0].local_deploy_to / "current" / "VERSION").read_text() == "v2\n"
        assert s.store.list_runs("shop", "staging")[0].user == "U0ALICE"
    finally:
        if cli.returncode is None:
            cli.kill()
            await cli.wait()
