"""PostgreSQL stopped, restarted or its backends killed in the middle of a run, under two bot replicas (``shipbot
run`` against the Slack emulator) and ``shipbot deploy`` on the command line, all on a PostgreSQL cluster of the
test's own (initdb + pg_ctl on a free port; the machine's shared server is never touched), against the real sshd
fleet:

- while the database is down, a command typed in chat is answered "the store is not answering" instead of
  nothing; once it is back, Cancel clicked on the replica that does not drive the run still reaches the one that
  does, and the run is cancelled and its hosts put back, answered once;
- a run whose database was restarted under it ends as it would have: success, each host switched and restarted
  once, one run recorded;
- a ``shipbot deploy`` whose database sessions were killed is still cancelled by ``cancel staging`` typed in chat.
"""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Iterator

import pytest

from slack_emulator.server import SlackEmulator
from tests.durable.conftest import SHIPBOT, World, wait_for
from tests.durable.test_bot_takeover import button
from tests.durable.test_replicas import (
    CHANNEL,
    Replica,
    all_answered,
    answers,
    ask,
    config,
    deploy_from_chat,
    emu,
    hold,
    let_go,
    replicas,
    start,
    steer,
    taken_by,
)
from tests.support.pg_cluster import Cluster

pytestmark = pytest.mark.sshd
__all__ = ["config", "emu", "replicas"]  # fixtures shared with the replica tests

ENGINES = ("postgresql",)  # the subject: PostgreSQL stopped, restarted, its sessions cut (the world beside it on 5432)
LEASE_TTL = 30.0  # longer than an outage here, on a loaded machine too: the run stays with its replica, no takeover
STATEMENT_TIMEOUT = 1.0


@pytest.fixture
def database_name(pg_cluster: Cluster) -> Iterator[str]:
    with pg_cluster.database("shipbot_outage", migrated=True) as (name, _url):  # migrated before any replica starts
        yield name


@pytest.fixture
def replica_env(world: World, pg_cluster: Cluster, database_name: str) -> dict[str, str]:
    """The environment of every replica and ``shipbot deploy`` of a test: the cluster's database."""
    return {
        **world.env(), "SHIPBOT_DATABASE_URL": pg_cluster.url(database_name), "SHIPBOT_LEASE_TTL": str(LEASE_TTL),
        "SHIPBOT_DB_STATEMENT_TIMEOUT": str(STATEMENT_TIMEOUT), "SHIPBOT_SHUTDOWN_GRACE": "30",
        "SHIPBOT_UPDATE_INTERVAL": "0.2", "SHIPBOT_OPS_PORT": "0", "SHIPBOT_CONFIG": "replicas.yml",
    }  # fmt: skip


def runs_in(pg_cluster: Cluster, database: str) -> list[tuple[object, ...]]:
    return pg_cluster.admin("SELECT run_id, state FROM runs ORDER BY started_at", database)


async def test_while_the_database_is_down_chat_is_told_and_afterwards_cancel_from_the_other_replica_works(
    world: World,
    baseline: None,
    emu: SlackEmulator,
    replica_env: dict[str, str],
    replicas: list[Replica],
    pg_cluster: Cluster,
    database_name: str,
) -> None:
    live = world.one_release_everywhere()
    await start(world, emu, replica_env, replicas)
    await start(world, emu, replica_env, replicas)
    building = hold(world, 0)
    message, run_id, asking = await deploy_from_chat(emu, "feature/new-login")
    wait_for(building.exists, what="the held build")
    other = next(r for r in replicas if r is not taken_by(emu, replicas, asking))

    await asyncio.to_thread(pg_cluster.stop)
    try:
        down = await ask(emu, "history staging 1")
        told = await emu.wait_for(lambda m: m.thread_ts == down and "store is not answering" in m.text, 30)
    finally:
        await asyncio.to_thread(pg_cluster.start)
    await asyncio.sleep(2 * STATEMENT_TIMEOUT + 2)  # every replica's loops have had a failing tick and a good one

    await steer(emu, other)
    click = await emu.click("bob", CHANNEL, message.ts, "run_cancel", value=run_id)
    asked = await emu.wait_for(lambda m: "asked the shipbot running" in m.text and run_id in m.text, 15)
    ended = await emu.wait_for(lambda m: m.ts == message.ts and ": cancelled" in m.text, 60)
    back = await ask(emu, "history staging 1")
    await all_answered(emu, [back])

    assert "try again in a moment" in told.text
    assert other.conn == click.attempts[0].connection, "the click went to the replica not running the deploy"
    assert "cancel it" in asked.text and "cancelled" in ended.text
    said = [m for m in emu.core.workspace.all_messages() if "asked the shipbot running" in m.text]
    assert 1 == len(said), "answered once"
    assert not any("not answering" in m.text for m in answers(emu, back)), "the store answers again"
    assert live == world.one_release_everywhere()
    assert [(run_id, "cancelled")] == runs_in(pg_cluster, database_name)
    assert all(r.proc.poll() is None for r in replicas), "no replica died of it"


async def test_a_run_whose_database_restarts_under_it_ends_as_it_would_have_once(
    world: World,
    baseline: None,
    emu: SlackEmulator,
    replica_env: dict[str, str],
    replicas: list[Replica],
    pg_cluster: Cluster,
    database_name: str,
) -> None:
    live = world.one_release_everywhere()
    before = [_restarts(world, i) for i in range(world.fleet.count)]
    await start(world, emu, replica_env, replicas)
    await start(world, emu, replica_env, replicas)
    building = hold(world, 0)
    message, run_id, _asking = await deploy_from_chat(emu, "feature/new-login")
    wait_for(building.exists, what="the held build")
    await asyncio.to_thread(pg_cluster.restart)
    await asyncio.to_thread(pg_cluster.terminate, database_name)  # and whatever reconnected since, cut once more
    await asyncio.sleep(1)
    let_go(world, 0)
    ended = await emu.wait_for(lambda m: m.ts == message.ts and ": success" in m.text, 90)
    await asyncio.sleep(1.5)  # a second ending, if any, would come now

    now = world.one_release_everywhere()
    assert live != now and "success" in ended.text
    release = now.split("/")[-1]
    restarts = [_restarts(world, i).count(release) - b.count(release) for i, b in enumerate(before)]
    assert [1, 1, 1] == restarts, "each host went live on the new release once"
    assert [(run_id, "success")] == runs_in(pg_cluster, database_name)
    finished = [m for m in emu.core.workspace.all_messages() if m.ts == message.ts and button(m, "run_cancel")]
    assert [] == finished, "the run's message has no Cancel left"


async def test_a_command_line_deploy_whose_database_sessions_were_killed_is_still_cancelled_from_chat(
    world: World,
    baseline: None,
    emu: SlackEmulator,
    replica_env: dict[str, str],
    replicas: list[Replica],
    pg_cluster: Cluster,
    database_name: str,
) -> None:
    live = world.one_release_everywhere()
    await start(world, emu, replica_env, replicas)
    building = hold(world, 0)
    cli = subprocess.Popen(
        [SHIPBOT, "deploy", "staging", "feature/new-login", "--config", "replicas.yml"],
        cwd=world.cwd, env=replica_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        wait_for(building.exists, what="the command line's held build")
        killed = await asyncio.to_thread(pg_cluster.terminate, database_name)
        await asyncio.to_thread(pg_cluster.restart)
        await asyncio.sleep(2)
        cancel = await ask(emu, "cancel staging")
        await all_answered(emu, [cancel])
        _out, err = await asyncio.to_thread(cli.communicate, timeout=60)
    finally:
        if cli.poll() is None:
            cli.kill()
            cli.wait()

    assert killed >= 1, "the command line's and the bot's sessions were cut"
    assert [1] == [len(answers(emu, cancel))]
    assert "asked the shipbot running" in answers(emu, cancel)[0].text
    assert 1 == cli.returncode, err
    assert "cancelled by U" in err, err
    assert live == world.one_release_everywhere()
    [(_run, state)] = runs_in(pg_cluster, database_name)
    assert "cancelled" == state


def _restarts(world: World, i: int) -> list[str]:
    log = world.disk(i) / "restarts.log"
    return log.read_text().split() if log.exists() else []
