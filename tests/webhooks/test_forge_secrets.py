"""The webhook server's door, over real HTTP on loopback: one secret per forge, refusals before the body is read,
fields checked at the boundary. Requests are the providers' documented payloads (tests/webhooks/payloads), signed
as each provider signs them; what gets through is recorded by a receiver standing for the push use case."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from commands.push_rules import Push
from commands.usecases.push_intake import Ignored, Received
from tests.webhooks.hooks import SECRETS, headers, payload, send
from webhooks.server import build_app

REPO, SHA = "https://git.example.com/acme/shop.git", "6113728f27ae82c7b1a177c8d03f9e96e0adf246"


class Recorder:
    """Every push that passed the door."""

    def __init__(self) -> None:
        self.pushes: list[Push] = []

    async def receive(self, push: Push) -> Received:
        self.pushes.append(push)
        return Ignored("recorded")


async def serve(secrets: dict[str, str], max_body: int | None = None) -> AsyncIterator[tuple[int, Recorder]]:
    recorder = Recorder()
    app = build_app(recorder, secrets) if max_body is None else build_app(recorder, secrets, max_body)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield port, recorder
    finally:
        await runner.cleanup()


@pytest.fixture
async def door() -> AsyncIterator[tuple[int, Recorder]]:
    async for served in serve(dict(SECRETS)):
        yield served


def body(provider: str, **fields: object) -> bytes:
    data = payload(provider, REPO, "refs/heads/main", SHA)
    data.update(fields)
    return json.dumps(data).encode()


@pytest.mark.parametrize("provider", ["github", "gitlab", "gitea"])
async def test_each_forge_is_taken_with_its_own_secret_and_refused_with_another_forges(
    door: tuple[int, Recorder], provider: str
) -> None:
    port, recorder = door
    raw = body(provider)
    own = await send(port, provider, raw, headers(provider, raw))
    others = [
        (await send(port, provider, raw, headers(provider, raw, secret=SECRETS[other])))[0]
        for other in SECRETS
        if other != provider
    ]
    assert (202, "recorded", [401, 401], [SHA]) == (own[0], own[1].get("ignored"), others,
                                                    [p.after for p in recorder.pushes])  # fmt: skip


async def test_a_github_signature_made_with_the_gitlab_token_is_refused(door: tuple[int, Recorder]) -> None:
    port, recorder = door
    raw = body("github")
    status, answer = await send(port, "github", raw, headers("github", raw, secret=SECRETS["gitlab"]))
    assert (401, []) == (status, recorder.pushes)
    assert "wrong signature" in answer["error"] and SECRETS["gitlab"] not in json.dumps(answer)


async def test_a_forge_without_its_secret_is_refused_on_its_path_naming_the_variable() -> None:
    async for port, recorder in serve({"github": SECRETS["github"]}):
        raw = body("gitlab")
        status, answer = await send(port, "gitlab", raw, headers("gitlab", raw, secret=""))
        assert (401, []) == (status, recorder.pushes)
        assert "SHIPBOT_WEBHOOK_SECRET_GITLAB" in answer["error"]


async def _raw_request(port: int, provider: str, head: dict[str, str], length: int, sent: bytes) -> tuple[str, float]:
    """Send the request line, headers saying ``length`` bytes follow, and only ``sent`` of them; the status line
    that comes back and how long it took (the rest of the body is never sent)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    lines = [f"POST /webhooks/{provider} HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/json",
             f"Content-Length: {length}", *(f"{k}: {v}" for k, v in head.items()), "", ""]  # fmt: skip
    started = asyncio.get_running_loop().time()
    writer.write("\r\n".join(lines).encode() + sent)
    await writer.drain()
    status = await asyncio.wait_for(reader.readline(), 10)
    took = asyncio.get_running_loop().time() - started
    writer.close()
    return status.decode().strip(), took


@pytest.mark.parametrize("provider", ["github", "gitlab", "gitea"])
async def test_a_request_without_its_forges_header_is_refused_before_its_body_is_read(
    door: tuple[int, Recorder], provider: str
) -> None:
    port, recorder = door
    event = {"github": "X-GitHub-Event", "gitlab": "X-Gitlab-Event", "gitea": "X-Gitea-Event"}[provider]
    status, took = await _raw_request(port, provider, {event: "push"}, 1024 * 1024, b"{")
    assert ("HTTP/1.1 401 Unauthorized", []) == (status, recorder.pushes)
    assert took < 5, "answered while the body was still to come"


async def test_a_signed_body_is_capped_as_it_streams_in() -> None:
    async for port, recorder in serve(dict(SECRETS), max_body=1024):

        async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: the read itself is capped
            for _ in range(64):
                yield b" " * 256

        status, answer = await send(port, "github", chunks(), headers("github", b""))  # type: ignore[arg-type]
        assert (413, []) == (status, recorder.pushes), answer


@pytest.mark.parametrize(
    ("provider", "field", "value", "named"),
    [
        ("github", "before", "--output=/tmp/x", "'before'"),
        ("gitlab", "before", "-n1", "'before'"),
        ("gitea", "after", "--upload-pack=touch /tmp/pwned", "'after'"),
        ("github", "after", "HEAD", "'after'"),
        ("github", "ref", "refs/heads/demo/$(id)", "'ref'"),
        ("github", "ref", "refs/heads/-x", "'ref'"),
        ("gitlab", "ref", "refs/heads/a..b", "'ref'"),
        ("github", "ref", "refs/remotes/origin/main", "'ref'"),
        ("github", "commits", [{"id": "--all", "message": "x"}], "'commits[0].id'"),
    ],
)
async def test_a_malformed_commit_id_or_ref_is_refused_with_one_line_naming_the_field(
    door: tuple[int, Recorder], tmp_path: Path, provider: str, field: str, value: object, named: str
) -> None:
    port, recorder = door
    if isinstance(value, str):
        value = value.replace("/tmp/", f"{tmp_path}/")
    raw = body(provider, **{field: value})
    status, answer = await send(port, provider, raw, headers(provider, raw))
    assert (422, [], []) == (status, recorder.pushes, list(tmp_path.iterdir()))
    assert named in answer["error"] and "\n" not in answer["error"], answer
