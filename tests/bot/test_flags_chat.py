"""Feature flags from chat: the real bolt app against the Slack emulator, flag files on real sshd hosts, read by an
app through the real OpenFeature SDK and flagd provider; the change told in the notify channel."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from tests.bot.conftest import Stack, StackFactory, dump
from tests.flags.support import evaluate, validator
from tests.support.sshd_fleet import SshdFleet

pytestmark = pytest.mark.sshd

FLAGS_ACCESS: dict[str, Any] = {
    "admins": ["U0ADMIN"],
    "groups": {"deployers": ["U0ALICE", "U0BOB"]},
    "environments": {
        "staging": {"deploy": ["*"], "flag": ["@deployers"]},
        "production": {"deploy": ["@deployers"], "force": ["U0BOB"]},
    },
}


def flag_files(fleet: SshdFleet, hosts: range) -> list[Path]:
    return [fleet.hosts[i].local_deploy_to / "shared" / "flags.json" for i in hosts]


async def reply(s: Stack, *words: str) -> Any:
    return await s.bot_message(lambda m: all(w in str(m.blocks) for w in words))


async def test_flag_on_and_off_from_chat_reach_every_staging_host_and_the_flagd_provider(stack: StackFactory) -> None:
    s = await stack(hosts=4, access=FLAGS_ACCESS, staging={"notify": ["C0GENERAL"]})
    staging = flag_files(s.fleet, range(2))

    started = time.monotonic()
    await s.say("alice", "flag on new-checkout in staging")
    await reply(s, "new-checkout", "to *on*", "on 2/2 hosts")
    assert time.monotonic() - started < 5, await dump(s.emu)
    for path in staging:
        assert list(validator().iter_errors(json.loads(path.read_text()))) == []
        assert evaluate(path, "new-checkout", ["U1", "U2"]) == [True, True]
    told = await s.emu.wait_for(lambda m: m.channel == "C0GENERAL" and "new-checkout" in m.text, 10)
    assert (told.thread_ts, "(was new)" in told.text) == (None, True)

    await s.say("bob", "flag off new-checkout in staging because errors up")
    await reply(s, "new-checkout", "to off", "was *on*")
    assert [evaluate(p, "new-checkout", ["U1"]) for p in staging] == [[False], [False]]
    await s.say("alice", "flag revert new-checkout in staging")
    await reply(s, "new-checkout", "to *on*", "was off")
    await s.say("alice", "flag new-checkout to 10% in staging")
    await reply(s, "to *10%*", "was *on*")
    keys = [f"user-{i}" for i in range(2000)]
    at10 = evaluate(staging[0], "new-checkout", keys)
    assert 150 <= sum(at10) <= 250
    await s.say("alice", "flag new-checkout to 20% in staging")
    await reply(s, "to *20%*", "was *10%*")
    at20 = evaluate(staging[1], "new-checkout", keys)
    assert [k for k, a, b in zip(keys, at10, at20, strict=True) if a and not b] == []
    await s.say("alice", "flag on new-checkout for U123,U456 in staging")
    await reply(s, "`U123`, `U456`")
    assert evaluate(staging[0], "new-checkout", ["U123", "U456"]) == [True, True]
    await s.say("alice", "flag new-checkout drop U456 in staging")
    await reply(s, "on for `U123` (was *20%*, on for `U123`, `U456`)")
    rule = json.loads(staging[1].read_text())["flags"]["new-checkout"]["targeting"]["if"]
    assert rule[0] == {"in": [{"var": "targetingKey"}, ["U123"]]}
    await s.say("carol", "flag history new-checkout in staging")
    await reply(s, "7 changes")

    await s.say("carol", "flag on new-checkout in staging")
    await reply(s, "may not change feature flags in staging")
    await s.say("alice", "flag off new-chekout in staging")
    await reply(s, "did you mean `new-checkout`?")

    await s.say("carol", "flags staging")
    listed = await reply(s, "flags v7", "current on 2/2 hosts")
    assert "new-checkout" in str(listed.blocks)


async def test_production_takes_a_flag_only_as_far_as_staging_did_unless_forced(stack: StackFactory) -> None:
    s = await stack(hosts=2, access=FLAGS_ACCESS, production={"promote_from": "staging"})
    await s.say("alice", "flag on new-checkout in production")
    await reply(s, "cannot go to on in production", "was never turned on there")
    await s.say("alice", "flag! on new-checkout in production")
    await reply(s, "may not force flags in production")
    await s.say("bob", "flag! on new-checkout in production")
    await reply(s, "new-checkout", "forced", "promotion order")
    assert evaluate(flag_files(s.fleet, range(1, 2))[0], "new-checkout", ["U1"]) == [True]
