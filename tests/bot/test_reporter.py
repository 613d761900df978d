"""The reporter against the local Slack emulator: coalesced, within a shared update budget, ends promptly."""

from __future__ import annotations

import asyncio
import time

from bot.run_message import RunMessage, UpdateBudget
from bot.slack_calls import make_client
from cli.metrics import Metrics
from deploy.events import HostState, HostStateChanged, Outcome, RunFinished, RunStarted
from slack_emulator.server import SlackEmulator

SHA = "0123456789abcdef0123456789abcdef01234567"


async def test_the_update_budget_waits_instead_of_going_over() -> None:
    budget = UpdateBudget(per_window=3, window=0.5)
    started = time.monotonic()
    for _ in range(3):
        await budget.take()
    assert time.monotonic() - started < 0.1
    await budget.take()
    assert time.monotonic() - started >= 0.45


async def test_a_finished_run_posts_its_final_line_without_waiting_for_the_update_interval() -> None:
    async with SlackEmulator() as emu:
        client = make_client(emu.bot_token, emu.api_url, Metrics())
        report = RunMessage(client, Metrics(), "C0DEPLOY", "r1", interval=5.0)
        report(RunStarted("r1", "deploy", "shop", "staging", "main", SHA, "20261123090000", "U0ALICE", ("h1",)))
        await emu.wait_for(lambda m: m.text.startswith("Deploy r1"))
        report(HostStateChanged("r1", "h1", HostState.HEALTHY))
        await asyncio.sleep(0.2)
        began = time.monotonic()
        report(RunFinished("r1", Outcome.SUCCESS, "shop is live", 0.3))

        final = await emu.wait_for(lambda m: "finished" in m.text, timeout=4)
        assert time.monotonic() - began < 2.0, "not held back by the 5 s interval"
        assert final.text.startswith(":large_green_circle: Deploy r1")
        await report.wait()


async def test_many_runs_at_once_share_the_budget_and_get_no_429() -> None:
    async with SlackEmulator() as emu:
        client = make_client(emu.bot_token, emu.api_url, Metrics())
        budget = UpdateBudget(per_window=45, window=60.0)
        reports = [RunMessage(client, Metrics(), "C0DEPLOY", f"r{i}", interval=0.05, budget=budget) for i in range(8)]
        for i, report in enumerate(reports):
            report(RunStarted(f"r{i}", "deploy", "shop", f"env{i}", "main", SHA, "2026", "U0ALICE", ("h1", "h2")))
        for _ in range(10):
            for report in reports:
                report(HostStateChanged(report.view.run_id, "h1", HostState.SWITCHED))
            await asyncio.sleep(0.06)
        for report in reports:
            report(RunFinished(report.view.run_id, Outcome.SUCCESS, "done", 1.0))
        await asyncio.wait_for(asyncio.gather(*(r.wait() for r in reports)), 30)

        statuses = [c.status for c in await emu.calls("chat.update")]
        assert 429 not in statuses
        assert 0 < len(statuses) <= 45
