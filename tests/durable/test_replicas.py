"""Two bot replicas (two ``shipbot run`` processes) on one Slack app (two Socket Mode connections to the emulator)
and one store, against the real sshd fleet:

- every command is answered exactly once, whichever replica Slack hands it to, Slack's re-deliveries included;
- the replica running a deploy is SIGKILLed mid-switch: the other one repairs the fleet and ends the run's message,
  within 30 s of the lease's expiry;
- Cancel (or Continue at a pause) clicked on the replica that does not run the deploy reaches the one that does
  (answered once), and ``cancel ENV`` typed in chat cancels a deploy ``shipbot deploy`` runs on the command line,
  which the bots show in ``status`` and count as busy; an approval asked on one replica is approved on the other;
- a rolling upgrade (start the new replica, SIGTERM the old) while people keep typing: nothing lost, nothing answered
  twice, the old replica's deploy finishes; a deploy paused for a person passes to the new replica at once.

The replicas share one store through :func:`replica_env`; each test starts its own emulator and replicas.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import subprocess
import time
import urllib.request
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from slack_emulator.server import SlackEmulator
from slack_emulator.workspace import Message
from tests.durable.conftest import PIPELINE, SHIPBOT, TTL, World, leftovers, wait_for
from tests.durable.test_bot_takeover import button

pytestmark = pytest.mark.sshd

CHANNEL = "#deploys"
# the build holds while <deploy_to>/HOLD_BUILD exists (marking IN_HOLD), so a test decides when a deploy goes on
HOLD = "if [ -e ../../HOLD_BUILD ]; then touch ../../IN_HOLD; while [ -e ../../HOLD_BUILD ]; do sleep 0.1; done; fi"


@pytest.fixture
def replica_env(world: World) -> dict[str, str]:
    """The environment every replica and ``shipbot deploy`` of a test runs with; it names the one store they share:
    the world's, one SQLite file in WAL mode in the shared data dir, or one PostgreSQL database
    (SHIPBOT_DATABASE_URL), as the ``database`` fixture gives."""
    return {
        **world.env(), "SHIPBOT_LEASE_TTL": str(TTL), "SHIPBOT_SHUTDOWN_GRACE": "30",
        "SHIPBOT_UPDATE_INTERVAL": "0.2", "SHIPBOT_OPS_PORT": "0", "SHIPBOT_CONFIG": "replicas.yml",
    }  # fmt: skip


@pytest.fixture
def config(world: World) -> Iterator[str]:
    """``replicas.yml``: the fleet's config, open to everyone, with a build that holds on demand."""
    config = yaml.safe_load((world.cwd / "shipbot.yml").read_text())
    config["pipeline"]["build"] = [*PIPELINE["build"], HOLD]
    config["access"] = {"environments": {"staging": {"deploy": ["*"], "cancel": ["*"], "rollback": ["*"]}}}
    (world.cwd / "replicas.yml").write_text(yaml.safe_dump(config))
    yield "replicas.yml"
    for i in range(world.fleet.count):
        for name in ("HOLD_BUILD", "IN_HOLD"):
            (world.disk(i) / name).unlink(missing_ok=True)
    world.calm()


@pytest.fixture
async def emu() -> AsyncIterator[SlackEmulator]:
    emulator = SlackEmulator()
    await emulator.start()
    try:
        yield emulator
    finally:
        await emulator.stop()


@dataclass
class Replica:
    proc: subprocess.Popen[bytes]
    conn: str  # its Socket Mode connection in the emulator
    log: Path  # what it logged (JSON lines)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def metrics(self) -> str:
        """Its ``/metrics`` page (the ops port it chose is in its ``bot_started`` log line)."""
        started = next(json.loads(line) for line in self.log.read_text().splitlines() if '"bot_started"' in line)
        with urllib.request.urlopen(f"http://127.0.0.1:{started['ops_port']}/metrics", timeout=10) as page:
            return str(page.read().decode())


@pytest.fixture
async def replicas(
    world: World, emu: SlackEmulator, replica_env: dict[str, str], config: str
) -> AsyncIterator[list[Replica]]:
    """Started replicas (see :func:`start`); whatever is still running at the end is stopped."""
    started: list[Replica] = []
    yield started
    for r in started:
        if r.proc.poll() is None:
            r.proc.send_signal(signal.SIGTERM)
    for r in started:  # waited for in a thread: the emulator, in this loop, answers them while they stop
        with contextlib.suppress(subprocess.TimeoutExpired):
            await asyncio.to_thread(r.proc.wait, 60)
        if r.proc.poll() is None:
            r.proc.kill()
            r.proc.wait()


async def start(world: World, emu: SlackEmulator, env: dict[str, str], started: list[Replica]) -> Replica:
    """One more ``shipbot run`` on the emulator's app; returns once its Socket Mode connection is open."""
    before = {c.id for c in emu.core.hub.connections}
    env = {**env, "SLACK_BOT_TOKEN": emu.bot_token, "SLACK_APP_TOKEN": emu.app_token, "SLACK_API_URL": emu.api_url}
    log = world.cwd / f"replica-{len(started)}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([SHIPBOT, "run"], cwd=world.cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
    await emu.wait_until(lambda: any(c.id not in before for c in emu.core.hub.open_connections()), 30)
    conn = next(c.id for c in emu.core.hub.open_connections() if c.id not in before)
    started.append(Replica(proc, conn, log))
    return started[-1]


def taken_by(emu: SlackEmulator, replicas: list[Replica], ts: str) -> Replica:
    """The replica that took the mention posted at ``ts`` (the one whose connection acknowledged its
    ``app_mention``): a run started from it is driven, and its lease held, there."""
    [mention] = [d for d in deliveries_of(emu, "app_mention") if (d.payload.get("event") or {}).get("ts") == ts]
    conn = next(a.connection for a in mention.attempts if a.outcome == "acked")
    return next(r for r in replicas if r.conn == conn)


async def ask(emu: SlackEmulator, text: str, channel: str = CHANNEL) -> str:
    """Type ``@shipbot text`` in a thread of its own (the bot answers in that thread); the thread's ts."""
    parent = await emu.post_message("alice", channel, f"asking: {text}")
    await emu.post_message("alice", channel, f"<@{emu.bot_user_id}> {text}", thread_ts=parent)
    return parent


def answers(emu: SlackEmulator, thread: str) -> list[Message]:
    return [m for m in emu.core.workspace.all_messages() if m.user == emu.bot_user_id and m.thread_ts == thread]


async def all_answered(emu: SlackEmulator, threads: list[str], timeout: float = 30) -> None:
    await emu.wait_until(lambda: all(answers(emu, t) for t in threads), timeout)
    await asyncio.sleep(1.5)  # a second answer, if any, would come now


async def deploy_from_chat(emu: SlackEmulator, ref: str) -> tuple[Message, str, str]:
    """The run's message, its id, and the ts of the message that asked for it."""
    asking = await emu.post_message("alice", CHANNEL, f"<@{emu.bot_user_id}> deploy {ref} to staging")
    message = await emu.wait_for(lambda m: button(m, "run_cancel") is not None and ref in m.text, 60)
    return message, str((button(message, "run_cancel") or {})["value"]), asking


async def steer(emu: SlackEmulator, to: Replica) -> None:
    """Make the next envelope go to ``to``'s connection: events the bot ignores (a plain channel message) move
    the emulator's round robin on, as traffic spreads Slack's."""
    while (nxt := emu.core.hub.next_connection()) is not None and nxt.id != to.conn:
        await emu.post_message("carol", CHANNEL, "chatter")
        await asyncio.sleep(0.2)


def hold(world: World, i: int) -> Path:
    (world.disk(i) / "HOLD_BUILD").touch()
    return world.disk(i) / "IN_HOLD"


def let_go(world: World, i: int) -> None:
    (world.disk(i) / "HOLD_BUILD").unlink(missing_ok=True)


def deliveries_of(emu: SlackEmulator, event_type: str) -> list[Any]:
    return [
        d
        for d in emu.core.dispatcher.deliveries.values()
        if d.kind == "events_api" and (d.payload.get("event") or {}).get("type") == event_type
    ]


async def test_commands_are_answered_once_whichever_replica_gets_them_redeliveries_included(
    world: World, baseline: None, emu: SlackEmulator, replica_env: dict[str, str], replicas: list[Replica]
) -> None:
    one = await start(world, emu, replica_env, replicas)
    two = await start(world, emu, replica_env, replicas)
    threads = [await ask(emu, "history staging 1") for _ in range(8)]
    await emu.wait_until(lambda: all(answers(emu, t) for t in threads), 30)
    mentions = deliveries_of(emu, "app_mention")
    for d in mentions:  # Slack sends each again (retry_attempt 1 and 2): round robin puts retries on the other one
        await emu.redeliver(d)
        await emu.redeliver(d)
    await all_answered(emu, threads)

    assert [1] * 8 == [len(answers(emu, t)) for t in threads], "each command answered exactly once"
    handled_by = {d.attempts[0].connection for d in mentions}
    assert {one.conn, two.conn} == handled_by, "both replicas took commands"
    retried_elsewhere = [d for d in mentions if {a.connection for a in d.attempts} == {one.conn, two.conn}]
    assert retried_elsewhere, "some re-deliveries reached the replica that had not seen the event"
    assert all(a.outcome == "acked" for d in mentions for a in d.attempts)


async def test_a_replica_killed_mid_switch_is_repaired_by_the_other_within_30s_of_its_lease_expiry(
    world: World, baseline: None, emu: SlackEmulator, replica_env: dict[str, str], replicas: list[Replica]
) -> None:
    live = world.one_release_everywhere()
    await start(world, emu, replica_env, replicas)
    await start(world, emu, replica_env, replicas)
    switched = world.slow(2, "MV")
    message, _run_id, asking = await deploy_from_chat(emu, "feature/new-login")
    wait_for(switched.exists, what="host 2's switch")
    dead = taken_by(emu, replicas, asking)
    survivor = next(r for r in replicas if r is not dead)
    dead.proc.send_signal(signal.SIGKILL)
    dead.proc.wait(30)
    killed = time.monotonic()
    world.calm()

    repaired = await emu.wait_for(lambda m: m.ts == message.ts and "interrupted, repaired" in m.text, TTL + 30)
    took = time.monotonic() - killed
    assert took < TTL + 30, f"repaired {took:.1f}s after the kill (lease TTL {TTL}s)"
    assert f":{survivor.pid}`" in repaired.text, "the message names the replica that repaired the run"
    assert "switched back to" in repaired.text
    assert live == world.one_release_everywhere()
    assert [] == leftovers()
    assert 'shipbot_lease_takeovers_total{outcome="repaired"} 1.0' in await asyncio.to_thread(survivor.metrics)


async def test_cancel_clicked_on_the_other_replica_cancels_and_reverts_the_run_answered_once(
    world: World, baseline: None, emu: SlackEmulator, replica_env: dict[str, str], replicas: list[Replica]
) -> None:
    live = world.one_release_everywhere()
    await start(world, emu, replica_env, replicas)
    await start(world, emu, replica_env, replicas)
    building = hold(world, 0)
    message, run_id, asking = await deploy_from_chat(emu, "feature/new-login")
    wait_for(building.exists, what="the held build")
    other = next(r for r in replicas if r is not taken_by(emu, replicas, asking))

    await steer(emu, other)
    click = await emu.click("bob", CHANNEL, message.ts, "run_cancel", value=run_id)
    asked = await emu.wait_for(lambda m: "asked the shipbot running" in m.text and run_id in m.text, 10)
    ended = await emu.wait_for(lambda m: m.ts == message.ts and ": cancelled" in m.text, 30)

    assert other.conn == click.attempts[0].connection, "the click went to the replica not running the deploy"
    assert "cancel it" in asked.text
    await asyncio.sleep(1.5)
    said = [m for m in emu.core.workspace.all_messages() if "asked the shipbot running" in m.text]
    assert 1 == len(said), "answered once"
    assert "cancelled" in ended.text
    assert live == world.one_release_everywhere()


async def test_chat_cancels_a_deploy_running_on_the_command_line_which_the_bots_see_as_busy(
    world: World, baseline: None, emu: SlackEmulator, replica_env: dict[str, str], replicas: list[Replica]
) -> None:
    live = world.one_release_everywhere()
    await start(world, emu, replica_env, replicas)
    await start(world, emu, replica_env, replicas)
    building = hold(world, 0)
    cli = subprocess.Popen(
        [SHIPBOT, "deploy", "staging", "feature/new-login", "--config", "replicas.yml"],
        cwd=world.cwd, env=replica_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        wait_for(building.exists, what="the command line's held build")
        status = await ask(emu, "status staging")
        busy = await ask(emu, "deploy main to staging")
        await all_answered(emu, [status, busy])
        cancel = await ask(emu, "cancel staging")
        await all_answered(emu, [cancel])
        _out, err = cli.communicate(timeout=60)
    finally:
        if cli.poll() is None:
            cli.kill()
            cli.wait()

    [shown] = answers(emu, status)
    assert "running" in str(shown.blocks) and "feature/new-login" in str(shown.blocks), "status shows the CLI's run"
    assert 1 == len(answers(emu, busy)) and "is busy" in answers(emu, busy)[0].text, "the CLI's run holds the slot"
    assert [1] == [len(answers(emu, cancel))]
    assert "asked the shipbot running" in answers(emu, cancel)[0].text
    assert 1 == cli.returncode
    assert "cancelled by U" in err, err
    assert live == world.one_release_everywhere()


async def test_a_rolling_upgrade_loses_no_command_and_lets_the_old_replicas_deploy_finish(
    world: World, baseline: None, emu: SlackEmulator, replica_env: dict[str, str], replicas: list[Replica]
) -> None:
    live = world.one_release_everywhere()
    old = await start(world, emu, replica_env, replicas)
    building = hold(world, 0)
    message, _run_id, _asking = await deploy_from_chat(emu, "feature/new-login")
    wait_for(building.exists, what="the held build")
    threads: list[str] = []
    typing = True

    async def type_continuously() -> None:  # in #general, at the pace Slack lets a bot answer in one channel
        while typing:
            threads.append(await ask(emu, "history staging 1", "#general"))
            await asyncio.sleep(1.0)

    typist = asyncio.create_task(type_continuously())
    try:
        await asyncio.sleep(0.5)
        await start(world, emu, replica_env, replicas)
        await asyncio.sleep(0.5)
        old.proc.send_signal(signal.SIGTERM)
        await emu.wait_until(lambda: old.conn not in {c.id for c in emu.core.hub.open_connections()}, 10)
        await asyncio.sleep(0.5)
        let_go(world, 0)  # the old replica's deploy goes on while it stops
        ended = await emu.wait_for(lambda m: m.ts == message.ts and ": success" in m.text, 60)
        await asyncio.to_thread(old.proc.wait, 60)
        await asyncio.sleep(0.5)
        while len(threads) < 5:  # an upgrade quicker than five commands: keep typing on the new replica
            await asyncio.sleep(0.1)
    finally:
        typing = False
        await typist
    await all_answered(emu, threads)

    assert 0 == old.proc.returncode
    assert len(threads) >= 5
    counts = [len(answers(emu, t)) for t in threads]
    assert [1] * len(threads) == counts, "every command answered exactly once"
    assert not [t for t in threads if "restarting" in answers(emu, t)[0].text], "none refused for the restart"
    assert "success" in ended.text
    assert live != world.one_release_everywhere()


async def test_a_deploy_paused_for_a_person_passes_to_the_new_replica_at_once_on_sigterm(
    world: World, baseline: None, emu: SlackEmulator, replica_env: dict[str, str], replicas: list[Replica]
) -> None:
    config = yaml.safe_load((world.cwd / "replicas.yml").read_text())
    config["environments"]["staging"].update({"strategy": "rolling", "batches": [1, "100%"], "pause": True})
    (world.cwd / "replicas.yml").write_text(yaml.safe_dump(config))
    env = {**replica_env, "SHIPBOT_LEASE_TTL": "60"}  # a hand-over must not wait for the lease to expire
    old = await start(world, emu, env, replicas)
    await emu.post_message("alice", CHANNEL, f"<@{emu.bot_user_id}> deploy feature/new-login to staging")
    paused = await emu.wait_for(lambda m: m.user == emu.bot_user_id and button(m, "run_continue") is not None, 90)
    run_id = str((button(paused, "run_continue") or {})["value"])
    new = await start(world, emu, env, replicas)
    old.proc.send_signal(signal.SIGTERM)
    stopped = time.monotonic()
    await asyncio.to_thread(old.proc.wait, 30)
    note = await emu.wait_for(lambda m: m.thread_ts == paused.ts and "still waits" in m.text, 20)
    took = time.monotonic() - stopped

    assert 0 == old.proc.returncode
    assert took < 15, f"taken over {took:.1f}s after SIGTERM, with a 60 s lease"
    assert f":{new.pid}`" in note.text
    await emu.click("bob", CHANNEL, paused.ts, "run_continue", value=run_id)
    await emu.wait_for(lambda m: m.ts == paused.ts and ": success" in m.text, 60)
    world.one_release_everywhere()


async def test_an_approval_asked_on_one_replica_is_approved_on_the_other_and_its_message_closed(
    world: World, baseline: None, emu: SlackEmulator, replica_env: dict[str, str], replicas: list[Replica]
) -> None:
    config = yaml.safe_load((world.cwd / "replicas.yml").read_text())
    config["access"]["environments"]["staging"].update({"approval": "required", "approve": ["U0BOB"]})
    (world.cwd / "replicas.yml").write_text(yaml.safe_dump(config))
    await start(world, emu, replica_env, replicas)
    await start(world, emu, replica_env, replicas)
    asking = await emu.post_message("alice", CHANNEL, f"<@{emu.bot_user_id}> deploy feature/new-login to staging")
    request = await emu.wait_for(lambda m: button(m, "run_approve") is not None, 30)
    run_id = str((button(request, "run_approve") or {})["value"])
    other = next(r for r in replicas if r is not taken_by(emu, replicas, asking))

    await steer(emu, other)
    click = await emu.click("bob", CHANNEL, request.ts, "run_approve", value=run_id)
    closed = await emu.wait_for(lambda m: m.ts == request.ts and "approved by" in m.text, 30)
    await emu.wait_for(lambda m: "feature/new-login" in m.text and ": success" in m.text, 60)

    assert other.conn == click.attempts[0].connection, "approved on the replica that did not ask"
    assert button(closed, "run_approve") is None, "the buttons are gone"


async def test_continue_clicked_on_the_other_replica_lets_a_paused_deploy_go_on(
    world: World, baseline: None, emu: SlackEmulator, replica_env: dict[str, str], replicas: list[Replica]
) -> None:
    config = yaml.safe_load((world.cwd / "replicas.yml").read_text())
    config["environments"]["staging"].update({"strategy": "rolling", "batches": [1, "100%"], "pause": True})
    (world.cwd / "replicas.yml").write_text(yaml.safe_dump(config))
    live = world.one_release_everywhere()
    await start(world, emu, replica_env, replicas)
    await start(world, emu, replica_env, replicas)
    asking = await emu.post_message("alice", CHANNEL, f"<@{emu.bot_user_id}> deploy feature/new-login to staging")
    paused = await emu.wait_for(lambda m: m.user == emu.bot_user_id and button(m, "run_continue") is not None, 90)
    run_id = str((button(paused, "run_continue") or {})["value"])
    other = next(r for r in replicas if r is not taken_by(emu, replicas, asking))

    await steer(emu, other)
    click = await emu.click("bob", CHANNEL, paused.ts, "run_continue", value=run_id)
    asked = await emu.wait_for(lambda m: "asked the shipbot running" in m.text and "to continue" in m.text, 10)
    await emu.wait_for(lambda m: m.ts == paused.ts and ": success" in m.text, 60)

    assert other.conn == click.attempts[0].connection, "the click went to the replica not running the deploy"
    assert run_id in asked.text
    assert live != world.one_release_everywhere()
