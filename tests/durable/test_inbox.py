# ruff: noqa: F811
"""Nothing typed is lost between Slack's acknowledgement and the bot's answer: a ``shipbot run`` process SIGKILLed
right after it acknowledged ``deploy main to staging`` (held in ref resolution by a slow ``git fetch``) leaves the
command in the store's inbox, and it is answered once (saying it was picked up) and deployed once:

- by the other replica, within the lease TTL + 5 s (two replicas on PostgreSQL, the store replicas share);
- by the same bot started again (one bot on its SQLite file).

The bots run with a ``git`` first on their PATH that, while ``SLOW_GIT`` exists beside it, takes that file (one
process only: a rename), marks ``IN_GIT`` and sleeps before fetching; everything else goes to the real ``git``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.app import PICKED_UP
from slack_emulator.server import SlackEmulator
from tests.durable.conftest import SHIPBOT, TTL, World

# the replica tests' fixtures (emu, replicas, replica_env, config) are imported and used as parameters
from tests.durable.test_replicas import (  # noqa: F401
    CHANNEL,
    Replica,
    answers,
    config,
    emu,
    replica_env,
    replicas,
    start,
    taken_by,
)

pytestmark = pytest.mark.sshd
STALL = f"sleep {random.randint(100_000, 999_999)}"
_GIT = """#!/bin/sh
case " $* " in
  *" fetch "*|*" clone "*)
    if /bin/mv "{marks}/SLOW_GIT" "{marks}/TAKEN_GIT" 2>/dev/null; then touch "{marks}/IN_GIT"; {stall}; fi ;;
esac
exec {git} "$@"
"""


@pytest.fixture
def slow_git(world: World, tmp_path: Path) -> Iterator[Path]:
    """A folder holding the slow ``git``; put it first on the bots' PATH and touch ``SLOW_GIT`` in it to arm it."""
    folder = tmp_path / "git-bin"
    folder.mkdir()
    real = subprocess.run(["sh", "-c", "command -v git"], capture_output=True, text=True, check=True).stdout.strip()
    (folder / "git").write_text(_GIT.format(marks=folder, stall=STALL, git=real))
    (folder / "git").chmod(0o755)
    yield folder
    stalls = subprocess.run(["pgrep", "-f", STALL], capture_output=True, text=True).stdout.split()
    for pid in stalls:  # the sleeps of the killed bot's git (its own children, orphaned by the kill)
        with contextlib.suppress(ProcessLookupError):
            os.kill(int(pid), signal.SIGKILL)


def on_path(env: dict[str, str], folder: Path) -> dict[str, str]:
    return {**env, "PATH": f"{folder}:{env.get('PATH', os.defpath)}"}


def restarts(world: World) -> list[int]:
    """How many restarts each host has seen (one line per deploy that reached it)."""
    logs = [world.disk(i) / "restarts.log" for i in range(world.fleet.count)]
    return [len(p.read_text().splitlines()) if p.exists() else 0 for p in logs]


def runs_of_main(world: World, since: float) -> list[tuple[str, str]]:
    store = world.store()
    try:
        return [(r.run_id, r.state) for r in store.list_runs("shop", "staging", 50) if r.started_at >= since]
    finally:
        store.close()


def unanswered(world: World) -> list[str]:
    store = world.store()
    try:
        return store.inbox.unanswered(["slack"])
    finally:
        store.close()


async def type_deploy(emu: SlackEmulator) -> tuple[str, str]:
    """``@shipbot deploy main to staging`` in a thread of its own: (the thread's ts, the mention's ts)."""
    parent = await emu.post_message("alice", CHANNEL, "shipping main")
    mention = await emu.post_message("alice", CHANNEL, f"<@{emu.bot_user_id}> deploy main to staging", thread_ts=parent)
    return parent, mention


async def deployed_once(slack: SlackEmulator, world: World, thread: str, since: float, before: list[int]) -> None:
    """The command is answered once, saying it was picked up; one run of it, a success; every host restarted once."""
    await slack.wait_until(lambda: any(state != "running" for _, state in runs_of_main(world, since)), 90)
    await asyncio.sleep(2 * TTL + 1)  # a second answer or a second run, if any, would come now
    said = answers(slack, thread)
    assert 1 == len(said), [m.text for m in said]
    assert PICKED_UP in str(said[0].blocks)
    assert 1 == len(runs := runs_of_main(world, since)), runs
    assert "success" == runs[0][1]
    assert [n + 1 for n in before] == restarts(world)
    assert [] == unanswered(world)


async def test_a_replica_killed_after_acknowledging_a_deploy_leaves_it_to_the_other_answered_and_run_once(
    world: World,
    baseline: None,
    emu: SlackEmulator,
    replica_env: dict[str, str],
    replicas: list[Replica],
    slow_git: Path,
) -> None:
    env = on_path(replica_env, slow_git)
    await start(world, emu, env, replicas)
    await start(world, emu, env, replicas)
    before, since = restarts(world), time.time()
    (slow_git / "SLOW_GIT").touch()
    thread, mention = await type_deploy(emu)
    await emu.wait_until((slow_git / "IN_GIT").exists, 60)
    dead = taken_by(emu, replicas, mention)  # its connection acknowledged the mention
    survivor = next(r for r in replicas if r is not dead)
    dead.proc.send_signal(signal.SIGKILL)
    await asyncio.to_thread(dead.proc.wait, 30)
    killed = time.monotonic()

    await emu.wait_until(lambda: '"inbox_picked_up"' in survivor.log.read_text(), TTL + 10)
    took = time.monotonic() - killed
    assert took < TTL + 5, f"picked up {took:.1f}s after the kill (lease TTL {TTL}s)"
    await deployed_once(emu, world, thread, since, before)


async def test_a_bot_killed_after_acknowledging_a_deploy_answers_and_runs_it_once_when_started_again(
    world: World,
    baseline: None,
    emu: SlackEmulator,
    replica_env: dict[str, str],
    config: str,
    slow_git: Path,
) -> None:
    env = on_path(replica_env, slow_git)
    env = {**env, "SLACK_BOT_TOKEN": emu.bot_token, "SLACK_APP_TOKEN": emu.app_token, "SLACK_API_URL": emu.api_url}
    before, since = restarts(world), time.time()
    first = subprocess.Popen(
        [SHIPBOT, "run"], cwd=world.cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    second = None
    try:
        assert await emu.wait_connections(1, 30)
        (slow_git / "SLOW_GIT").touch()
        thread, _mention = await type_deploy(emu)
        await emu.wait_until((slow_git / "IN_GIT").exists, 60)
        first.send_signal(signal.SIGKILL)
        await asyncio.to_thread(first.wait, 30)
        assert [] == answers(emu, thread), "killed before it answered"

        second = subprocess.Popen(
            [SHIPBOT, "run"], cwd=world.cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        await deployed_once(emu, world, thread, since, before)
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                await asyncio.to_thread(proc.wait, 60)
