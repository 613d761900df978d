"""Feature flags where deploys need an approver, and flag changes made on the command line, through the real bolt
app against the Slack emulator, flag files on real sshd hosts read by the real flagd provider: a raise waits for a
second person (across a restart), is applied once approved and not at all when rejected; the kill switch never
waits; a change made with ``shipbot flag`` is posted once in the notify channel by the running bots (two replicas),
and every change's ``flag.changed`` event reaches the environment's webhook."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from standardwebhooks import Webhook

from deploy.flags.flag_store import FlagStore
from tests.bot.conftest import Stack, StackFactory, dump
from tests.bot.test_waiting_requests import approve_value, bot_again
from tests.flags.support import evaluate, validator
from tests.support.receivers import Receiver

pytestmark = pytest.mark.sshd

SHIPBOT = str(Path(sys.executable).with_name("shipbot"))
SECRET = "whsec_" + "c2hpcGJvdC10ZXN0LXNlY3JldC0zMi1ieXRlcy1sb25nIQ=="
SCHEMA = json.loads((Path(__file__).parents[2] / "docs/events.schema.json").read_text())
ACCESS: dict[str, Any] = {
    "admins": ["U0ADMIN"],
    "groups": {"deployers": ["U0ALICE", "U0BOB"]},
    "environments": {
        "staging": {"deploy": ["*"], "flag": ["@deployers"]},
        "production": {
            "deploy": ["@deployers"], "flag": ["@deployers"], "approve": ["@deployers"], "approval": "required",
        },
    },
}  # fmt: skip
KEYS = [f"user-{i}" for i in range(2000)]


def reject_value(message: Any) -> str:
    return next(
        e["value"]
        for b in message.blocks
        if b["type"] == "actions"
        for e in b["elements"]
        if e["action_id"] == "run_reject"
    )


def history(s: Stack) -> list[tuple[str, str, str]]:
    return [(c.action, c.actor, c.after.describe()) for c in FlagStore(s.store.db).history("shop", "new-login")]


async def test_a_raise_in_production_waits_for_an_approver_across_a_restart_and_the_kill_switch_never_waits(
    stack: StackFactory,
) -> None:
    s = await stack(hosts=2, access=ACCESS, production={"notify": ["C0GENERAL"]})
    production = s.fleet.hosts[1].local_deploy_to / "shared" / "flags.json"

    await s.say("alice", "flag new-login to 10% in production")
    ask = await s.bot_message(lambda m: "run_approve" in str(m.blocks))
    assert "wants to set flag new-login to 10% in production, from new" in str(ask.blocks), await dump(s.emu)
    run_id = approve_value(ask)
    assert (production.exists(), history(s)) == (False, []), "nothing changes before it is approved"

    await s.stop()  # the request is kept in the store: the next bot's buttons still work
    async with bot_again(s):
        await s.emu.click("alice", "#deploys", ask.ts, "run_approve", value=run_id)
        await s.emu.wait_for(lambda m: "you cannot approve your own flag change" in m.text, 10)
        assert history(s) == []
        await s.emu.click("bob", "#deploys", ask.ts, "run_approve", value=run_id)
        done = await s.bot_message(lambda m: f"{run_id}` approved by" in str(m.blocks), 30)
        assert "to *10%* (was new)" in str(done.blocks), await dump(s.emu)
        told = await s.emu.wait_for(lambda m: m.channel == "C0GENERAL" and "new-login" in m.text, 10)
        assert "to *10%* (was new)" in told.text
        assert list(validator().iter_errors(json.loads(production.read_text()))) == []
        assert 150 <= sum(evaluate(production, "new-login", KEYS)) <= 250
        assert history(s) == [("ramp", "U0ALICE", "10%")], "applied once, as the requester's change"

        await s.say("alice", "flag off new-login in production")  # the kill switch: no approver asked
        await s.bot_message(lambda m: "to off (was *10%*)" in str(m.blocks), 30)
        assert sum(evaluate(production, "new-login", KEYS)) == 0

        await s.say("alice", "flag on new-login in production")
        again = await s.bot_message(lambda m: "from off" in str(m.blocks) and "run_reject" in str(m.blocks))
        assert "wants to set flag new-login to on in production, from off" in str(again.blocks)
        second = reject_value(again)
        await s.emu.click("bob", "#deploys", again.ts, "run_reject", value=second)
        rejected = await s.bot_message(lambda m: f"{second}` rejected by" in str(m.blocks), 30)
        assert "<@U0ALICE>, flag new-login to on in production, from off was not changed" in str(rejected.blocks)
        await asyncio.sleep(1)
        assert sum(evaluate(production, "new-login", KEYS)) == 0, "a rejected raise changes nothing"
        assert [a for a, _, _ in history(s)] == ["off", "ramp"]


def shipbot(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SHIPBOT_DATA_DIR": str(cwd / "data"), "USER": "operator"}
    return subprocess.run([SHIPBOT, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


async def test_a_flag_changed_on_the_command_line_is_posted_once_by_two_running_bots_and_every_change_is_an_event(
    stack: StackFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOOK_SECRET", SECRET)
    receiver = await Receiver().start()
    try:
        hook = {"webhook": f"{receiver.url}/h", "secret_env": "HOOK_SECRET"}
        s = await stack(hosts=2, access=ACCESS, staging={"notify": ["C0GENERAL", hook]})
        async with bot_again(s):  # a second replica on the same store
            done = await asyncio.to_thread(shipbot, tmp_path, "flag", "new-login", "10%", "staging", "--reason", "beta")
            assert done.returncode == 0, done.stderr
            told = await s.emu.wait_for(lambda m: m.channel == "C0GENERAL" and "new-login" in m.text, 20)
            assert "operator set `new-login` in *staging* to *10%* (was new) — beta" in told.text
            assert told.thread_ts is None
            await asyncio.sleep(3)  # both replicas' senders have had their rounds
            lines = [m for m in await s.emu.messages("C0GENERAL") if "new-login" in str(m.get("text"))]
            assert len(lines) == 1, await dump(s.emu, "C0GENERAL")

        await s.say("alice", "flag off new-login in staging")
        await s.bot_message(lambda m: "to off (was *10%*)" in str(m.blocks), 30)
        end = time.monotonic() + 30
        while sum(r.status == 200 for r in receiver.requests) < 2:
            assert time.monotonic() < end, [r.status for r in receiver.requests]
            await asyncio.sleep(0.1)
    finally:
        await receiver.stop()
    events = [Webhook(SECRET).verify(r.body, r.headers) for r in receiver.requests if r.status == 200]
    for event in events:
        jsonschema.validate(event, SCHEMA)
    assert [
        (e["type"], e["source"], e["user"], e.get("before", {}).get("percent"), e["after"]["percent"]) for e in events
    ] == [("flag.changed", "cli", "operator", None, "10%"), ("flag.changed", "chat", "U0ALICE", "10%", "0%")]
    assert events[0]["reason"] == "beta"
