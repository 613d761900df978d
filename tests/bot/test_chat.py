"""Queries, escaping, groups, metrics, HTTP mode and shutdown, through the real bolt app and the emulator."""

from __future__ import annotations

import aiohttp
import pytest

from tests.bot.conftest import ACCESS, StackFactory
from tests.bot.test_end_to_end import HANGS_ON_H2, v2_switched_on_h1, versions
from tests.bot.test_end_to_end import ROLLING as SWITCH_ONE_BY_ONE

pytestmark = pytest.mark.sshd


async def test_status_history_where_and_help_are_answered_in_chat(stack: StackFactory) -> None:
    s = await stack(hosts=2)
    await s.say("alice", "deploy main to staging")
    await s.bot_message(lambda m: ":large_green_circle:" in str(m.blocks))

    await s.say("alice", "status stg")
    status = await s.bot_message(lambda m: "consistent" in str(m.blocks))
    assert s.repo.sha("main")[:7] in str(status.blocks)

    await s.say("alice", "history staging")
    history = await s.bot_message(lambda m: "success" in str(m.blocks) and "history" == m.text)
    assert "by alice" in str(history.blocks) and "U0ALICE" not in str(history.blocks)

    await s.say("carol", "where can I deploy")
    where = await s.emu.wait_for(lambda m: m.ephemeral_to == "U0CAROL" and "staging" in str(m.blocks))
    assert ":no_entry_sign: shop *production*" in str(where.blocks)

    await s.say("carol", "help")
    helped = await s.emu.wait_for(lambda m: m.ephemeral_to == "U0CAROL" and "What you can do" in str(m.blocks))
    assert "deploy" in str(helped.blocks)


async def test_a_near_miss_gets_a_suggestion_not_silence(stack: StackFactory) -> None:
    s = await stack(hosts=2)

    await s.say("alice", "deploi main to stagin")

    reply = await s.emu.wait_for(lambda m: m.ephemeral_to == "U0ALICE")
    assert "deploy" in str(reply.blocks)


async def test_broadcasts_smuggled_in_a_ref_or_in_host_output_are_escaped(stack: StackFactory) -> None:
    pipeline = {"build": ['echo "<!channel> <@U0BOB> & co"; exit 1']}
    s = await stack(hosts=2, pipeline=pipeline)

    await s.say("alice", "deploy <!channel> to staging")
    refusal = await s.emu.wait_for(lambda m: m.ephemeral_to == "U0ALICE")
    assert "<!channel>" not in str(refusal.blocks) + refusal.text

    await s.say("alice", "deploy main to staging")
    report = await s.bot_message(lambda m: ":red_circle:" in str(m.blocks) and "Deploy" in m.text)
    detail = await s.bot_message(lambda m: m.thread_ts == report.ts and "build failed" in m.text)
    assert "&lt;!channel&gt; &lt;@U0BOB&gt; &amp; co" in detail.text
    assert "<!channel>" not in detail.text


async def test_an_at_group_that_only_slack_knows_is_resolved_through_slack(stack: StackFactory) -> None:
    access = {**ACCESS, "environments": {**ACCESS["environments"], "staging": {"deploy": ["@oncall"]}}}
    s = await stack(hosts=2, access=access)

    await s.say("alice", "deploy main to staging")
    refusal = await s.emu.wait_for(lambda m: m.ephemeral_to == "U0ALICE")
    assert "staging" in refusal.text

    await s.say("carol", "deploy main to staging")
    await s.bot_message(lambda m: ":large_green_circle:" in str(m.blocks) and "Requested by:*\\ncarol" in str(m.blocks))


async def test_metrics_count_runs_by_environment_and_outcome(stack: StackFactory) -> None:
    s = await stack(hosts=2)
    await s.say("alice", "deploy main to staging")
    await s.bot_message(lambda m: ":large_green_circle:" in str(m.blocks))

    async with aiohttp.ClientSession() as http:
        async with http.get(f"http://127.0.0.1:{s.running.ops_port}/metrics") as r:
            text = await r.text()
        async with http.get(f"http://127.0.0.1:{s.running.ops_port}/healthz") as r:
            assert 200 == r.status
    assert 'shipbot_runs_total{environment="staging",kind="deploy",outcome="success"} 1.0' in text
    assert "shipbot_run_duration_seconds_count" in text


async def test_http_mode_receives_signed_events_and_deploys(stack: StackFactory) -> None:
    s = await stack(hosts=2, http=True)

    await s.say("bob", "deploy feature/new-login to staging")

    await s.bot_message(lambda m: ":large_green_circle:" in str(m.blocks) and "Requested by:*\\nbob" in str(m.blocks))


async def test_on_sigterm_a_running_deploy_is_cancelled_reverted_and_the_channel_told(stack: StackFactory) -> None:
    s = await stack(hosts=4, staging=SWITCH_ONE_BY_ONE, pipeline=HANGS_ON_H2)
    report = await v2_switched_on_h1(s)

    await s.stop()

    told = await s.bot_message(lambda m: "shipbot is restarting" in m.text, timeout=5)
    assert told.thread_ts == report.ts
    ended = await s.emu.message("#deploys", report.ts)
    assert ended is not None and ":octagonal_sign: cancelled" in str(ended.blocks)
    assert ["v1\n", "v1\n"] == versions(s), "the switched hosts are switched back"


ROLLING = {"strategy": "rolling", "batches": [1, "100%"], "pause": True}
ONLY_ALICE_AND_BOB = {**ACCESS, "environments": {**ACCESS["environments"], "staging": {"deploy": ["@deployers"]}}}


async def test_a_paused_rolling_deploy_continues_when_someone_allowed_presses_continue(stack: StackFactory) -> None:
    s = await stack(hosts=4, staging=ROLLING, access=ONLY_ALICE_AND_BOB)

    await s.say("alice", "deploy feature/new-login to staging")
    report = await s.bot_message(lambda m: "run_continue" in str(m.blocks))
    assert "paused before batch 2/2" in str(report.blocks)
    run_id = report.text.split()[1].rstrip(":")

    await s.emu.click("carol", "#deploys", report.ts, "run_continue", value=run_id)
    await s.emu.wait_for(lambda m: m.ephemeral_to == "U0CAROL")
    assert [True, False] == [(h.local_deploy_to / "current").exists() for h in s.fleet.hosts[:2]]

    await s.emu.click("bob", "#deploys", report.ts, "run_continue", value=run_id)
    await s.bot_message(lambda m: m.ts == report.ts and ":large_green_circle:" in str(m.blocks))
    assert ["v2\n", "v2\n"] == [(h.local_deploy_to / "current" / "VERSION").read_text() for h in s.fleet.hosts[:2]]


async def test_abort_at_the_pause_switches_the_canary_back(stack: StackFactory) -> None:
    s = await stack(hosts=4, staging=ROLLING)

    await s.say("alice", "deploy main to staging")
    report = await s.bot_message(lambda m: "run_abort" in str(m.blocks))
    run_id = report.text.split()[1].rstrip(":")
    await s.emu.click("alice", "#deploys", report.ts, "run_abort", value=run_id)

    ended = await s.bot_message(lambda m: m.ts == report.ts and ":octagonal_sign:" in str(m.blocks))
    assert "aborted" in str(ended.blocks)
    assert [False, False] == [(h.local_deploy_to / "current").exists() for h in s.fleet.hosts[:2]]
