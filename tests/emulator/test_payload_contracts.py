"""The emulator's payloads carry every field Slack's own examples carry (tests/emulator/contracts/), with the same
JSON types: slash commands (form body and Socket Mode envelope), button clicks, app_mention and message events, and
the ``users.info`` answer."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.people import display_name
from slack_emulator import SlackEmulator
from slack_emulator.delivery import Attempt, Delivery
from slack_emulator.http_delivery import encode_body

CONTRACTS = Path(__file__).parent / "contracts"
#: sent only by Enterprise Grid workspaces (see contracts/README.md)
GRID_ONLY = {"enterprise_id", "enterprise_name"}


def example(name: str) -> Any:
    return json.loads((CONTRACTS / name).read_text())


def missing(expected: Any, actual: Any, path: str = "") -> list[str]:
    """Where ``actual`` lacks a field of ``expected`` or holds another JSON type (``null`` in the example: any)."""
    if expected is None:
        return []
    if type(expected) is not type(actual):
        return [f"{path or '.'}: {type(expected).__name__} expected, {type(actual).__name__} sent"]
    if isinstance(expected, dict):
        return [
            problem
            for key, value in expected.items()
            if key not in GRID_ONLY
            for problem in (
                missing(value, actual[key], f"{path}.{key}") if key in actual else [f"{path}.{key}: missing"]
            )
        ]
    if isinstance(expected, list) and expected and actual:
        return missing(expected[0], actual[0], f"{path}[0]")
    return []


def envelope(delivery: Delivery, retry: int = 0, reason: str = "") -> dict[str, Any]:
    return delivery.envelope(Attempt(envelope_id="00000000-0000-0000-0000-000000000000", retry_attempt=retry,
                                     retry_reason=reason))  # fmt: skip


@pytest.fixture
async def slash(emu: SlackEmulator) -> Delivery:
    return await emu.slash_command("alice", "#deploys", "/deploy", "main to staging")


@pytest.fixture
async def click(emu: SlackEmulator) -> Delivery:
    web = AsyncWebClient(token=emu.bot_token, base_url=emu.api_url)
    button = {"type": "button", "action_id": "run_cancel", "value": "r1", "text": {"type": "plain_text", "text": "Go"}}
    posted = await web.chat_postMessage(
        channel=emu.channel_id("deploys"), text="run", blocks=[{"type": "actions", "elements": [button]}]
    )
    return await emu.click("alice", "#deploys", str(posted["ts"]), "run_cancel")


@pytest.fixture
async def mention(emu: SlackEmulator) -> tuple[Delivery, Delivery]:
    await emu.post_message("alice", "#deploys", f"<@{emu.bot_user_id}> status")
    deliveries = await emu.deliveries("events_api")
    by_type = {d.payload["event"]["type"]: d for d in deliveries}
    return by_type["app_mention"], by_type["message"]


def test_the_checker_notices_a_missing_field_and_a_changed_type() -> None:
    assert [".a.b: missing", ".c: int expected, str sent"] == missing({"a": {"b": 1}, "c": 2}, {"a": {}, "c": "2"})


def test_a_slash_command_carries_slacks_fields(slash: Delivery) -> None:
    assert [] == missing(example("slash_command_payload.json"), slash.payload)
    assert [] == missing(example("slash_command_socket_mode_envelope.json"), envelope(slash))
    assert ("/deploy", "main to staging") == (slash.payload["command"], slash.payload["text"])


def test_a_slash_commands_form_body_has_slacks_keys(slash: Delivery) -> None:
    body, content_type = encode_body(slash)
    theirs = parse_qs((CONTRACTS / "slash_command_form_body.txt").read_text().strip())
    ours = parse_qs(body.decode())
    assert "application/x-www-form-urlencoded" == content_type
    assert [] == sorted(set(theirs) - set(ours) - GRID_ONLY)


def test_a_button_click_carries_slacks_fields(click: Delivery) -> None:
    assert [] == missing(example("block_actions_payload.json"), click.payload)
    assert [] == missing(example("block_actions_socket_mode_envelope.json"), envelope(click))
    body, _ = encode_body(click)
    form = (CONTRACTS / "block_actions_http_form_body.txt").read_text().strip()
    theirs = json.loads(parse_qs(form)["payload"][0])
    assert [] == missing(theirs, json.loads(parse_qs(body.decode())["payload"][0]))


def test_a_mention_and_its_message_event_carry_slacks_fields(mention: tuple[Delivery, Delivery]) -> None:
    app_mention, message = mention
    assert [] == missing(example("app_mention_event_callback.json"), app_mention.payload)
    assert [] == missing(example("app_mention_socket_mode_envelope.json"), envelope(app_mention))
    assert [] == missing(example("message_event_socket_mode_envelope_retry.json"), envelope(message, 1, "timeout"))


async def test_users_info_answers_with_slacks_user_object_and_the_bot_reads_its_display_name(
    emu: SlackEmulator,
) -> None:
    """``users.info`` as Slack documents it (contracts/users_info_response.json): the emulator's answer carries
    every field, and the bot's reading of a display name works on Slack's own example."""
    web = AsyncWebClient(token=emu.bot_token, base_url=emu.api_url)

    answer = (await web.users_info(user="U0ALICE")).data

    assert [] == missing(example("users_info_response.json"), answer)
    assert "spengler" == display_name(example("users_info_response.json")["user"])
    assert "alice" == display_name(answer["user"])  # type: ignore[index]
    unnamed = {"id": "U1", "name": "handle", "real_name": "Real Name", "profile": {"display_name": ""}}
    assert "Real Name" == display_name(unnamed), "an empty display name falls back to the real name"
