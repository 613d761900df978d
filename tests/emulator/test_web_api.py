"""The Web API through slack_sdk's real AsyncWebClient."""

from __future__ import annotations

import time

import aiohttp
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from slack_emulator import RateRule, SlackEmulator


async def test_auth_test_names_the_bot(emu: SlackEmulator, web: AsyncWebClient) -> None:
    resp = await web.auth_test()
    assert resp["user_id"] == emu.bot_user_id
    assert resp["bot_id"] == emu.workspace.bot.bot_id
    assert resp["team_id"] == emu.workspace.team.id


@pytest.mark.parametrize("token", ["xoxb-wrong", None])
async def test_wrong_or_missing_token_is_invalid_auth(emu: SlackEmulator, token: str | None) -> None:
    client = AsyncWebClient(token=token, base_url=emu.api_url)
    with pytest.raises(SlackApiError) as info:
        await client.chat_postMessage(channel="C0DEPLOY", text="hi")
    assert info.value.response["error"] == "invalid_auth"
    assert await emu.messages("deploys") == []


async def test_app_token_cannot_post_and_bot_token_cannot_open_sockets(emu: SlackEmulator) -> None:
    with pytest.raises(SlackApiError) as info:
        await AsyncWebClient(token=emu.app_token, base_url=emu.api_url).chat_postMessage(channel="C0DEPLOY", text="x")
    assert info.value.response["error"] == "not_allowed_token_type"
    with pytest.raises(SlackApiError) as info:
        await AsyncWebClient(base_url=emu.api_url).apps_connections_open(app_token=emu.bot_token)
    assert info.value.response["error"] == "not_allowed_token_type"
    opened = await AsyncWebClient(base_url=emu.api_url).apps_connections_open(app_token=emu.app_token)
    assert opened["url"].startswith(f"ws://127.0.0.1:{emu.port}/socket-mode?ticket=")


async def test_post_then_update_is_visible_with_its_history(emu: SlackEmulator, web: AsyncWebClient) -> None:
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "Deploy #1: *queued*"}}]
    posted = await web.chat_postMessage(
        channel="#deploys", text="Deploy #1: queued", blocks=blocks, unfurl_links=False, unfurl_media=False
    )
    assert posted["channel"] == "C0DEPLOY"
    assert posted["message"]["bot_id"] == emu.workspace.bot.bot_id
    await web.chat_update(channel="C0DEPLOY", ts=posted["ts"], text="Deploy #1: running")
    done = [{"type": "section", "text": {"type": "mrkdwn", "text": "Deploy #1: *done*"}}]
    updated = await web.chat_update(channel="C0DEPLOY", ts=posted["ts"], text="Deploy #1: done", blocks=done)
    assert updated["text"] == "Deploy #1: done"

    [message] = await emu.messages("deploys")
    assert message["ts"] == posted["ts"]
    assert message["text"] == "Deploy #1: done"
    assert message["blocks"][0]["text"]["text"] == "Deploy #1: *done*"
    assert message["update_count"] == 2
    assert message["unfurl_links"] is False and message["unfurl_media"] is False
    assert [e["text"] for e in message["edits"]] == ["Deploy #1: running", "Deploy #1: done"]


async def test_thread_replies_and_ephemerals(emu: SlackEmulator, web: AsyncWebClient) -> None:
    parent = await web.chat_postMessage(channel="C0DEPLOY", text="Deploy #2 started")
    await web.chat_postMessage(channel="C0DEPLOY", text="step 1 ok", thread_ts=parent["ts"])
    eph = await web.chat_postEphemeral(channel="C0DEPLOY", user="U0ALICE", text="only for alice")
    assert eph["message_ts"]

    as_alice = await emu.messages("deploys", as_user="alice")
    as_bob = await emu.messages("deploys", as_user="bob")
    assert [m["text"] for m in as_alice] == ["Deploy #2 started", "only for alice"]
    assert [m["text"] for m in as_bob] == ["Deploy #2 started"]
    assert [r["text"] for r in as_bob[0]["replies"]] == ["step 1 ok"]
    assert as_bob[0]["reply_count"] == 1


async def test_broadcast_reply_shows_in_thread_and_channel(emu: SlackEmulator, web: AsyncWebClient) -> None:
    parent = await web.chat_postMessage(channel="C0DEPLOY", text="Deploy #3 started")
    await web.chat_postMessage(channel="C0DEPLOY", text="Deploy #3 done", thread_ts=parent["ts"], reply_broadcast=True)
    messages = await emu.messages("deploys")
    assert [m["text"] for m in messages] == ["Deploy #3 started", "Deploy #3 done"]
    assert [r["text"] for r in messages[0]["replies"]] == ["Deploy #3 done"]


async def test_update_of_unknown_message_fails(web: AsyncWebClient) -> None:
    with pytest.raises(SlackApiError) as info:
        await web.chat_update(channel="C0DEPLOY", ts="1.000001", text="nope")
    assert info.value.response["error"] == "message_not_found"


async def test_form_encoded_blocks_are_accepted(emu: SlackEmulator, web: AsyncWebClient) -> None:
    blocks = '[{"type": "divider"}, {"type": "section", "text": {"type": "plain_text", "text": "form"}}]'
    resp = await web.api_call("chat.postMessage", data={"channel": "C0DEPLOY", "text": "f", "blocks": blocks})
    assert resp["ok"]
    [message] = await emu.messages("deploys")
    assert [b["type"] for b in message["blocks"]] == ["divider", "section"]


async def test_directory_methods(emu: SlackEmulator, web: AsyncWebClient) -> None:
    alice = await web.users_info(user="U0ALICE")
    assert alice["user"]["name"] == "alice"
    assert alice["user"]["profile"]["display_name"] == "alice"
    admin = await web.users_info(user=emu.user_id("admin"))
    assert admin["user"]["is_admin"] is True
    group = await web.usergroups_users_list(usergroup="S0DEPLOYERS")
    assert sorted(group["users"]) == ["U0ALICE", "U0BOB"]
    info = await web.conversations_info(channel="C0DEPLOY")
    assert info["channel"]["name"] == "deploys"
    dm = await web.conversations_info(channel=emu.channel_id("alice"))
    assert dm["channel"]["is_im"] is True and dm["channel"]["user"] == "U0ALICE"
    with pytest.raises(SlackApiError) as info_err:
        await web.users_info(user="U0NOBODY")
    assert info_err.value.response["error"] == "user_not_found"


def _section(text: str) -> dict[str, object]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


async def test_fifty_blocks_pass_fifty_one_do_not(emu: SlackEmulator, web: AsyncWebClient) -> None:
    await web.chat_postMessage(channel="C0DEPLOY", text="ok", blocks=[{"type": "divider"}] * 50)
    with pytest.raises(SlackApiError) as info:
        await web.chat_postMessage(channel="C0DEPLOY", text="too many", blocks=[{"type": "divider"}] * 51)
    assert info.value.response["error"] == "invalid_blocks"
    assert [m["text"] for m in await emu.messages("deploys")] == ["ok"]


async def test_section_text_limit_is_3000(emu: SlackEmulator, web: AsyncWebClient) -> None:
    await web.chat_postMessage(channel="C0DEPLOY", text="ok", blocks=[_section("x" * 3000)])
    with pytest.raises(SlackApiError) as info:
        await web.chat_postMessage(channel="C0DEPLOY", text="long", blocks=[_section("x" * 3001)])
    assert info.value.response["error"] == "invalid_blocks"
    assert "/blocks/0/text" in info.value.response["response_metadata"]["messages"][0]
    posted = (await emu.messages("deploys"))[0]
    with pytest.raises(SlackApiError) as info:
        await web.chat_update(channel="C0DEPLOY", ts=posted["ts"], text="u", blocks=[_section("y" * 3001)])
    assert info.value.response["error"] == "invalid_blocks"
    assert (await emu.messages("deploys"))[0]["update_count"] == 0


async def test_message_text_limit_is_40000(emu: SlackEmulator, web: AsyncWebClient) -> None:
    await web.chat_postMessage(channel="C0DEPLOY", text="a" * 40_000)
    with pytest.raises(SlackApiError) as info:
        await web.chat_postMessage(channel="C0DEPLOY", text="a" * 40_001)
    assert info.value.response["error"] == "msg_too_long"
    assert len(await emu.messages("deploys")) == 1


async def test_storm_answers_429_with_retry_after(emu: SlackEmulator, web: AsyncWebClient) -> None:
    await emu.storm("chat.postMessage", count=1, retry_after=7)
    with pytest.raises(SlackApiError) as info:
        await web.chat_postMessage(channel="C0DEPLOY", text="hi")
    assert info.value.response.status_code == 429
    assert info.value.response.headers["Retry-After"] == "7"
    assert info.value.response["error"] == "ratelimited"
    await web.chat_postMessage(channel="C0DEPLOY", text="after the storm")
    statuses = [c.status for c in await emu.calls("chat.postMessage")]
    assert statuses == [429, 200]


async def test_retry_handler_honours_retry_after_and_finally_succeeds(emu: SlackEmulator) -> None:
    client = AsyncWebClient(
        token=emu.bot_token,
        base_url=emu.api_url,
        retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=3)],
    )
    posted = await client.chat_postMessage(channel="C0DEPLOY", text="v1")
    await emu.storm("chat.update", count=2, retry_after=1)
    started = time.monotonic()
    resp = await client.chat_update(channel="C0DEPLOY", ts=posted["ts"], text="v2")
    elapsed = time.monotonic() - started
    assert resp["ok"]
    assert elapsed >= 1.9, "the client must have waited Retry-After twice"
    calls = await emu.calls("chat.update")
    assert [c.status for c in calls] == [429, 429, 200]
    assert calls[1].at - calls[0].at >= 0.95
    assert (await emu.messages("deploys"))[0]["text"] == "v2"


async def test_configured_rate_rule_per_message(emu: SlackEmulator, web: AsyncWebClient) -> None:
    emu.set_rate_rule(RateRule("chat.update", limit=2, window=60, scope="message"))
    a = await web.chat_postMessage(channel="C0DEPLOY", text="a")
    b = await web.chat_postMessage(channel="C0DEPLOY", text="b")
    for n in range(2):
        await web.chat_update(channel="C0DEPLOY", ts=a["ts"], text=f"a{n}")
    with pytest.raises(SlackApiError) as info:
        await web.chat_update(channel="C0DEPLOY", ts=a["ts"], text="a-too-often")
    assert info.value.response.status_code == 429
    assert int(info.value.response.headers["Retry-After"]) >= 1
    await web.chat_update(channel="C0DEPLOY", ts=b["ts"], text="b1")  # another message: own budget
    texts = [m["text"] for m in await emu.messages("deploys")]
    assert texts == ["a1", "b1"]


async def test_files_upload_v2_shares_into_channel(emu: SlackEmulator, web: AsyncWebClient) -> None:
    resp = await web.files_upload_v2(
        channel="C0DEPLOY", content="deploy log line\n", filename="deploy-42.log", initial_comment="full log"
    )
    assert resp["ok"]
    [message] = await emu.messages("deploys")
    assert message["text"] == "full log"
    assert message["files"][0]["name"] == "deploy-42.log"
    stored = emu.core.files.files[message["files"][0]["id"]]
    assert stored.content == b"deploy log line\n"


async def test_unknown_method(emu: SlackEmulator) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.post(emu.api_url + "chat.frobnicate", headers={"Authorization": f"Bearer {emu.bot_token}"}) as resp,
    ):
        body = await resp.json()
    assert body == {"ok": False, "error": "unknown_method"}
