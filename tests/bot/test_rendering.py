"""Rendering runs and replies for Slack (pure): within Slack's limits at 500 hosts, and escaped."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from bot.mrkdwn import PERSON, code, code_block, esc, mention, people_in, user
from bot.reply_blocks import render
from bot.run_view import RunView
from commands.replies import HistoryEntry, HistoryReply, Refusal
from deploy.capistrano.cap_entries import CapEntry
from deploy.events import (
    HostOutcome,
    HostState,
    HostStateChanged,
    HostStepFinished,
    Outcome,
    Phase,
    PhaseChanged,
    RunFinished,
    RunStarted,
)
from deploy.records import Commit, RunRecord

SHA = "0123456789abcdef0123456789abcdef01234567"


def started(hosts: int, ref: str = "main") -> RunStarted:
    names = tuple(f"10.0.{i // 250}.{i % 250}" for i in range(hosts))
    return RunStarted("r1", "deploy", "shop", "production", ref, SHA, "20261123090000", "U0ALICE", names)


def within_slack_limits(blocks: list[dict[str, object]], text: str) -> None:
    assert len(blocks) <= 50
    assert len(text) <= 40_000
    for block in blocks:
        for part in [block.get("text"), *block.get("fields", []), *block.get("elements", [])]:  # type: ignore[misc]
            if isinstance(part, dict) and "text" in part and isinstance(part["text"], str):
                assert len(part["text"]) <= 3000, part["text"][:80]


def test_a_500_host_run_with_every_host_failing_stays_within_slack_limits_and_posts_few_thread_messages() -> None:
    view = RunView("r1", "C0DEPLOY")
    s = started(500)
    view.apply(s)
    view.apply(PhaseChanged("r1", Phase.PREPARE))
    for host in s.hosts:
        view.apply(HostStepFinished("r1", host, "build", False, 2, 1.0, "x" * 5000, "exit status 2"))
    outcomes = tuple(HostOutcome(h, HostState.FAILED, None, None, "build", "exit status 2") for h in s.hosts)
    view.apply(RunFinished("r1", Outcome.FAILED, "m" * 10_000, 12.0, outcomes))

    within_slack_limits(view.blocks(), view.summary_text())
    lines = view.thread_lines()
    assert len(lines) <= 12, "failures beyond the first ten are summarised, not posted one by one"
    assert all(len(line) <= 3000 for line in lines)


@pytest.mark.parametrize(
    ("state", "light"),
    [(None, ":large_yellow_circle:"), (Outcome.SUCCESS, ":large_green_circle:"), (Outcome.FAILED, ":red_circle:")],
)
def test_the_deploy_light_is_yellow_while_running_green_when_done_red_when_failed(
    state: Outcome | None, light: str
) -> None:
    view = RunView("r1", "C0DEPLOY")
    view.apply(started(2))
    if state is not None:
        view.apply(RunFinished("r1", state, "done", 1.0))
    status = view.blocks()[1]["fields"][0]["text"]
    assert status.startswith(f"*Status:*\n{light}")


def test_a_migration_left_out_by_a_host_filter_is_said_while_the_run_goes_and_when_it_ends() -> None:
    note = "migration skipped: the host filter 'web' leaves out every host with the role migrate; deploy to those"
    view = RunView("r1", "C0DEPLOY")
    view.apply(replace(started(2), notes=(note,)))
    running = json.dumps(view.blocks())
    view.apply(RunFinished("r1", Outcome.SUCCESS, "live on all 2 hosts", 1.0, notes=(note,)))
    assert (True, True, True) == (note in running, note in json.dumps(view.blocks()), note in view.final_line())


def test_progress_counts_hosts_by_state() -> None:
    view = RunView("r1", "C0DEPLOY")
    s = started(4)
    view.apply(s)
    view.apply(HostStateChanged("r1", s.hosts[0], HostState.HEALTHY))
    view.apply(HostStateChanged("r1", s.hosts[1], HostState.SWITCHED))
    view.apply(HostStateChanged("r1", s.hosts[2], HostState.FAILED))
    tally = view.blocks()[2]["text"]["text"]
    assert tally.endswith("1 pending · 0 preparing · 1 switched · 1 healthy · 1 failed")


def test_text_from_people_hosts_and_commits_is_escaped() -> None:
    view = RunView("r1", "C0DEPLOY")
    view.apply(started(1, ref="<!channel>"))
    view.commits = [Commit(SHA, "<!here> Mallory", "fix <https://evil.example|login> & more")]
    view.apply(HostStepFinished("r1", "h1", "build", False, 1, 0.1, "<!everyone> <@U0BOB>", "exit <1>"))
    # what Slack parses as mrkdwn: the fallback text, mrkdwn text objects and thread lines (plain_text is shown as is)
    parsed = [view.summary_text(), *view.thread_lines()]
    for block in view.blocks():
        for part in [block.get("text"), *block.get("fields", []), *block.get("elements", [])]:
            if isinstance(part, dict) and part.get("type") == "mrkdwn":
                parsed.append(part["text"])
    rendered = json.dumps(parsed)
    for raw in ["<!channel>", "<!here>", "<https://evil", "<!everyone>", "<@U0BOB>"]:
        assert raw not in rendered


@pytest.mark.parametrize(
    ("given", "shown"),
    [
        ("a & b", "a &amp; b"),
        ("<!channel>", "&lt;!channel&gt;"),
        ("<@U0BOB|bob>", "&lt;@U0BOB|bob&gt;"),
        ("plain", "plain"),
    ],
)
def test_esc_turns_markup_into_text(given: str, shown: str) -> None:
    assert shown == esc(given)


def test_code_cannot_be_closed_early_and_blocks_keep_the_tail() -> None:
    assert "`a'b`" == code("a`b")
    block = code_block("start\n" + "y" * 5000 + "\nTHE ERROR", limit=100)
    assert block.startswith("```…") and block.endswith("THE ERROR```") and len(block) <= 110


@pytest.mark.parametrize(("uid", "shown"), [("U0ALICE", "<@U0ALICE>"), ("W123", "<@W123>"), ("!channel", "!channel")])
def test_only_user_ids_become_mentions(uid: str, shown: str) -> None:
    assert shown == mention(uid)


@pytest.mark.parametrize(
    ("uid", "named"), [("U0ALICE", ["U0ALICE"]), ("W123", ["W123"]), ("!channel", []), ("u0alice", [])]
)
def test_only_user_ids_become_people_to_name(uid: str, named: list[str]) -> None:
    assert named == PERSON.findall(user(uid))


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("staging is locked by U0ALICE since 2026-03-27", ["U0ALICE"]),
        ("Ask W012A3CDE to `unlock staging`", ["W012A3CDE"]),
        ("deploy `U0ALICE1` or feature/U0BOB1 or UPDATE or U0ALICE's", ["U0ALICE"]),
        ("U0BOB may not force deploys to production; W3C is not a person", ["U0BOB"]),
    ],
)
def test_user_ids_in_a_sentence_are_named_but_not_inside_code_or_refs(text: str, named: list[str]) -> None:
    assert named == PERSON.findall(people_in(text))


def test_a_refusal_is_shown_only_to_the_asker_with_its_hint() -> None:
    message = render(Refusal("unknown environment `stagin`", "did you mean `staging`?"))
    assert message.ephemeral
    assert "did you mean `staging`?" in message.blocks[0]["text"]["text"]


def test_history_marks_capistranos_lines_and_never_turns_their_user_into_a_mention() -> None:
    run = RunRecord("r0009", "deploy", "shop", "prod", "U0ALICE", "main", "b" * 40, "", "success", 300.0)
    deployed = CapEntry("shop", "prod", "20260102120000", "deploy", "U0MALLORY", "a" * 40, "main", 200.0, "web1", 1)
    rolled = CapEntry("shop", "prod", "20260101120000", "rollback", "<!channel>", "c" * 40, "", 250.0, "web1", 2)
    message = render(HistoryReply((HistoryEntry("shop", "prod", (run,), (deployed, rolled)),)))
    text = "\n".join(str(b["text"]["text"]) for b in message.blocks)
    lines = text.split("\n")
    assert "r0009" in lines[1] and user("U0ALICE") in lines[1]  # a person, named when the message leaves the bot
    assert "_capistrano_ rollback to release `20260101120000` by &lt;!channel&gt;" in lines[2]
    assert "_capistrano_ deploy main `aaaaaaa` release `20260102120000` by U0MALLORY" in lines[3]
    assert "<@U0MALLORY>" not in text and user("U0MALLORY") not in text
