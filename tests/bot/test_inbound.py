"""bot.inbound: what a Slack body asks of the bot, and its inbox key, read from Slack's own payloads (the contracts
under tests/emulator/contracts, copied from Slack's documentation and SDK fixtures), and for any body at all
(Hypothesis): never an exception, a request survives the store as it went in, and the inbox never holds a token."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.inbound import Inbound, inbound

CONTRACTS = Path(__file__).parents[1] / "emulator" / "contracts"


def contract(name: str) -> Any:
    return json.loads((CONTRACTS / name).read_text())


def test_a_mention_is_a_message_keyed_by_channel_and_ts_without_its_leading_mention() -> None:
    body = contract("app_mention_event_callback.json")
    expected = Inbound(
        "msg:C123ABC456:1515449522.000016", "message", "U061F7AUR", "C123ABC456", "is it everything a river should be?"
    )
    assert expected == inbound(body)


def test_a_redelivery_and_the_mentions_message_twin_share_one_key() -> None:
    first = contract("app_mention_socket_mode_envelope.json")["payload"]
    again = {**first, "retry_attempt": 1, "retry_reason": "timeout"}
    twin = {**first, "event_id": "Ev999", "event": {**first["event"], "type": "message", "channel_type": "im"}}
    keys = {r.key for r in (inbound(first), inbound(again), inbound(twin)) if r is not None}
    assert {"msg:C111:1610241741.000200"} == keys


def test_channel_messages_edits_and_bot_posts_are_not_requests() -> None:
    retry = contract("message_event_socket_mode_envelope_retry.json")["payload"]
    assert inbound(retry) is None  # a plain channel message: the bot hears it only as app_mention
    im = {**retry, "event": {**retry["event"], "channel_type": "im"}}
    assert inbound(im) is not None
    for extra in ({"subtype": "message_changed"}, {"bot_id": "B1"}):
        assert inbound({**im, "event": {**im["event"], **extra}}) is None


def test_a_slash_command_keeps_its_text_and_where_to_answer_but_no_token() -> None:
    got = inbound(contract("slash_command_payload.json"))
    assert got is not None
    assert ("slash:111.111.xxx", "slash", "W111", "C111", "Hi") == (got.key, got.what, got.user, got.channel, got.text)
    assert "https://hooks.slack.com/commands/T111/111/xxxxx" == got.response_url
    assert "verification_token" not in got.to_json()


def test_a_click_on_one_of_the_bots_buttons_is_a_click_others_are_not() -> None:
    body = contract("block_actions_payload.json")
    assert inbound(body) is None  # the documented example's button is not one of the bot's
    body["actions"][0] |= {"action_id": "run_cancel", "value": "rabc234"}
    got = inbound(body)
    assert got is not None
    assert (f"click:{body['trigger_id']}", "click", "run_cancel", "rabc234") == (
        got.key,
        got.what,
        got.action,
        got.value,
    )
    assert got.user == body["user"]["id"] and got.channel == body["channel"]["id"]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=20,
)
fields = {
    "type": st.sampled_from(["event_callback", "block_actions", "view_submission"]) | json_values,
    "event": st.fixed_dictionaries(
        {},
        optional={
            "type": st.sampled_from(["app_mention", "message", "reaction_added"]) | json_values,
            "channel": st.text(max_size=12) | json_values,
            "ts": st.text(max_size=12) | json_values,
            "text": st.text(max_size=40) | json_values,
            "channel_type": st.sampled_from(["im", "channel"]) | json_values,
            "user": json_values,
            "thread_ts": json_values,
        },
    )
    | json_values,
    "event_id": json_values,
    "command": st.just("/deploy") | json_values,
    "trigger_id": st.text(max_size=12) | json_values,
    "actions": st.lists(
        st.fixed_dictionaries({}, optional={"action_id": st.sampled_from(["run_cancel", "x"]), "value": json_values})
        | json_values,
        max_size=2,
    )
    | json_values,
    "user": st.fixed_dictionaries({}, optional={"id": json_values}) | json_values,
    "token": st.just("verification-token-secret"),
}
bodies = st.fixed_dictionaries({}, optional=fields) | json_values


@given(bodies)
def test_any_body_is_a_request_or_none_and_a_request_survives_the_inbox_as_it_went_in(body: Any) -> None:
    got = inbound(body)
    if got is None:
        return
    assert got.key and got.what in ("message", "slash", "click")
    written = got.to_json()
    assert "verification-token-secret" not in written
    assert got == Inbound.from_json(written)


@given(st.text(max_size=60) | json_values.map(json.dumps))
def test_whatever_the_inbox_holds_is_read_as_a_request_or_refused_with_one_clear_error(text: str) -> None:
    try:
        got = Inbound.from_json(text)
    except ValueError as err:
        assert "inbox entry" in str(err)
    else:
        assert got.what in ("message", "slash", "click") and got.key
        assert all(isinstance(v, str) for k, v in vars(got).items() if k != "thread_ts")


@pytest.mark.parametrize(
    "text",
    [
        "",
        "[]",
        '{"what": "deploy"}',
        '{"what": "message", "key": 3}',
        '{"what": "click", "key": "k", "user": [1]}',
        '{"what": "message"}',
        '{"what": "message", "key": "k", "thread_ts": 1}',
    ],
)
def test_entries_that_are_not_requests_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="inbox entry"):
        Inbound.from_json(text)
