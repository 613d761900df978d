"""Replies about a request (accepted, queued, awaiting approval) show how it was read, ask for a rollback in a
rollback's words, and mark a forced rollback as loudly as a forced deploy (pure rendering)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot.reply_blocks import render
from commands.replies import AwaitingApproval, Queued, Reply, RunAccepted
from commands.runs import RunRequest

SHA = "0123456789abcdef0123456789abcdef01234567"
NOTE = "hubot is an app here, so this deploys shop's default branch"


def request(**fields: Any) -> RunRequest:
    base: dict[str, Any] = {
        "run_id": "r7",
        "kind": "deploy",
        "app": "shop",
        "environment": "production",
        "user": "U0ALICE",
        "channel": "C0DEPLOYS",
        "requested_at": 0.0,
        "ref": "main",
        "sha": SHA,
    }
    return RunRequest(**(base | fields))


def shown(reply: Reply) -> str:
    message = render(reply)
    return message.fallback + json.dumps(message.blocks, ensure_ascii=False)


def asking(run: RunRequest) -> AwaitingApproval:
    return AwaitingApproval(run, (), ("@sre",), 1_780_000_000.0)


@pytest.mark.parametrize(
    "reply",
    [
        pytest.param(RunAccepted(request(note=NOTE)), id="accepted"),
        pytest.param(Queued(request(note=NOTE), 2), id="queued"),
        pytest.param(asking(request(note=NOTE)), id="awaiting-approval"),
    ],
)
def test_the_note_on_how_the_request_was_read_is_shown(reply: Reply) -> None:
    assert NOTE in shown(reply)


@pytest.mark.parametrize(
    ("run", "asks"),
    [
        pytest.param(
            request(kind="rollback", ref="20261123090000", sha=None),
            "wants to roll back shop production to `20261123090000`",
            id="rollback-to-a-release",
        ),
        pytest.param(request(kind="rollback", ref="", sha=None), "wants to roll back shop production.", id="rollback"),
        pytest.param(request(), "wants to deploy shop main (0123456) → production", id="deploy"),
    ],
)
def test_an_approval_request_says_what_is_asked_in_its_own_words(run: RunRequest, asks: str) -> None:
    text = shown(asking(run))

    assert asks in text
    assert "deploy shop a rollback" not in text


@pytest.mark.parametrize("kind", ["deploy", "rollback"])
@pytest.mark.parametrize(
    "make",
    [
        pytest.param(RunAccepted, id="accepted"),
        pytest.param(lambda run: Queued(run, 1), id="queued"),
        pytest.param(asking, id="awaiting-approval"),
    ],
)
def test_a_forced_rollback_is_marked_as_loudly_as_a_forced_deploy(kind: str, make: Any) -> None:
    run = request(kind=kind, ref="20261123090000" if kind == "rollback" else "main", forced=True)
    message = render(make(run))

    assert ":warning: *forced*" in json.dumps(message.blocks)
    assert not message.ephemeral, "everyone in the channel sees it"
