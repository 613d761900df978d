"""What a host, a committer or a webhook can send, one row each, and the promise shipbot keeps against it.

Each row runs the real thing it is about: a real ``sh`` over a host's folder for the first exec and the listing,
the webhook server over real HTTP on loopback (the push use case stood in by a recorder of what got through), the
chat grammar and the preview naming as the bot calls them. The end-to-end versions on real sshd hosts live in
tests/engine/test_hostile_journal.py and tests/webhooks/test_push_deploys.py.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from aiohttp import web

from commands.errors import CommandError
from commands.grammar import parse as parse_chat
from commands.push_rules import Push
from commands.usecases.push_intake import Ignored, Received
from deploy.hosts import framing, guarded, journal, listing, remote
from deploy.previews.layout import PreviewRefused, preview_dir, preview_name
from tests.commands.helpers import ONE_APP
from tests.webhooks.hooks import SECRETS, headers, payload, send
from webhooks.server import build_app

SHA = "6113728f27ae82c7b1a177c8d03f9e96e0adf246"
MARKER = "--- shipbot-preamble-end"


class _Recorder:
    def __init__(self) -> None:
        self.pushes: list[Push] = []

    async def receive(self, push: Push) -> Received:
        self.pushes.append(push)
        return Ignored("recorded")


@asynccontextmanager
async def _door() -> AsyncIterator[tuple[int, _Recorder]]:
    recorder = _Recorder()
    runner = web.AppRunner(build_app(recorder, dict(SECRETS)), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield runner.addresses[0][1], recorder
    finally:
        await runner.cleanup()


def _host(tmp: Path, journal_bytes: bytes) -> Path:
    d = tmp / "srv"
    (d / "releases" / "r1").mkdir(parents=True)
    (d / "releases" / "r1" / "REVISION").write_text(SHA + "\n")
    (d / "current").symlink_to("releases/r1")
    (d / ".shipbot").mkdir()
    (d / ".shipbot" / "journal.jsonl").write_bytes(journal_bytes)
    return d


def _entry(user: str) -> journal.Entry:
    return journal.Entry("2026-11-23T09:00:00Z", "deploy", "r0", user, SHA, "r1", None, "success")


def _first_exec(d: Path) -> tuple[remote.Current | None, listing.ReleaseListing | None, str]:
    frame = framing.new()
    done = subprocess.run(["sh", "-c", guarded.prepare(str(d), ["echo built"], frame)], capture_output=True, check=True)
    preamble, shown = guarded.split_preamble(done.stdout.decode("utf-8", "replace"), frame)
    assert preamble is not None
    return (*guarded.parse_preamble(preamble, frame), shown)


async def committer_named_like_the_marker(tmp: Path) -> None:
    lines = [json.dumps(_entry(MARKER).__dict__), _entry(MARKER).to_line(), MARKER]  # old, new, hand-written
    current, found, shown = _first_exec(_host(tmp, ("\n".join(lines) + "\n").encode()))
    assert (remote.Current("r1", SHA), [_entry(MARKER)] * 2, "built\n") == (
        current, list(found.entries) if found else None, shown
    )  # fmt: skip
    assert MARKER not in _entry(MARKER).to_line()


async def before_starting_with_a_dash(tmp: Path) -> None:
    async with _door() as (port, recorder):
        data = {**payload("github", "https://x/acme/shop.git", "refs/heads/main", SHA), "commits": [],
                "before": f"--output={tmp / 'x'}"}  # fmt: skip
        raw = json.dumps(data).encode()
        status, answer = await send(port, "github", raw, headers("github", raw))
    assert (422, [], False) == (status, recorder.pushes, (tmp / "x").exists())
    assert answer["error"].startswith("the payload's 'before' is not a full commit id") and "\n" not in answer["error"]


async def branch_with_shell_syntax(tmp: Path) -> None:
    async with _door() as (port, recorder):
        raw = json.dumps(payload("gitea", "https://x/acme/shop.git", "refs/heads/demo/$(id)", SHA)).encode()
        status, answer = await send(port, "gitea", raw, headers("gitea", raw))
    assert (422, []) == (status, recorder.pushes) and "'ref'" in answer["error"]
    with pytest.raises(CommandError):
        parse_chat("deploy demo/$(id) to staging", ONE_APP)
    with pytest.raises(PreviewRefused):
        preview_name("demo/$(id)")


async def preview_name_with_dot_dot(tmp: Path) -> None:
    with pytest.raises(PreviewRefused, match="may not contain '..'"):
        preview_name("demo/../../etc")
    for name in ("..", "a/../b", "../x"):
        with pytest.raises(ValueError, match="is not a preview name"):
            preview_dir("/srv/app", name)


async def gitlab_token_as_github_signature(tmp: Path) -> None:
    async with _door() as (port, recorder):
        raw = json.dumps(payload("github", "https://x/acme/shop.git", "refs/heads/main", SHA)).encode()
        signed_with_token = headers("github", raw, secret=SECRETS["gitlab"])
        token_header = {**headers("github", raw), "X-Hub-Signature-256": f"sha256={SECRETS['gitlab']}"}
        answers = [(await send(port, "github", raw, h))[0] for h in (signed_with_token, token_header)]
    assert ([401, 401], []) == (answers, recorder.pushes)


async def unsigned_body_of_25_mib(tmp: Path) -> None:
    async with _door() as (port, recorder):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        head = ("POST /webhooks/github HTTP/1.1\r\nHost: x\r\nX-GitHub-Event: push\r\nContent-Type: application/json\r\n"
                f"Content-Length: {25 * 1024 * 1024}\r\n\r\n")  # fmt: skip
        writer.write(head.encode() + b" " * 65536)  # the rest never comes
        await writer.drain()
        status = await asyncio.wait_for(reader.readline(), 10)
        writer.close()
    assert (b"HTTP/1.1 401 Unauthorized\r\n", []) == (status, recorder.pushes)


async def journal_line_of_a_megabyte(tmp: Path) -> None:
    huge = _entry("é" * (1024 * 1024)).to_line()
    lines = [_entry("U0ALICE").to_line(), huge, "x" * (1024 * 1024), _entry("U0BOB").to_line()]
    current, found, _ = _first_exec(_host(tmp, ("\n".join(lines) + "\n").encode()))
    assert (remote.Current("r1", SHA), ["U0ALICE", "é" * (1024 * 1024), "U0BOB"]) == (
        current, [e.user for e in found.entries] if found else None
    )  # fmt: skip


async def journal_that_is_not_utf8(tmp: Path) -> None:
    raw = b"\xff\xfe\x00garbage\x80\n" + _entry("U0ALICE").to_line().encode() + b"\n\xc3\x28" + MARKER.encode() + b"\n"
    current, found, _ = _first_exec(_host(tmp, raw))
    assert (remote.Current("r1", SHA), [_entry("U0ALICE")]) == (current, list(found.entries) if found else None)


Check = Callable[[Path], Awaitable[None]]
ROWS = [
    ("a committer named '--- shipbot-preamble-end'", "the first exec still reads current, releases and the line; "
     "the name is written escaped", committer_named_like_the_marker),
    ("a push whose before is '--output=...'", "422 naming 'before' in one line; nothing reaches git, no file is "
     "written", before_starting_with_a_dash),
    ("a branch 'demo/$(id)'", "refused at the webhook (422 naming 'ref'), in chat and as a preview",
     branch_with_shell_syntax),
    ("a preview name with '..'", "refused before any path is made", preview_name_with_dot_dot),
    ("GitLab's token presented as a GitHub signature", "401: each forge verifies with its own secret only",
     gitlab_token_as_github_signature),
    ("a 25 MiB unsigned body", "401 before its body is read", unsigned_body_of_25_mib),
    ("a journal line of 1 MB", "read whole; the lines around it and current survive", journal_line_of_a_megabyte),
    ("a journal that is not UTF-8", "current and every valid line are read; the rest is skipped",
     journal_that_is_not_utf8),
]  # fmt: skip


@pytest.mark.parametrize(("case", "promise", "check"), ROWS, ids=[r[0] for r in ROWS])
async def test_each_hostile_case_keeps_its_promise(case: str, promise: str, check: Check, tmp_path: Path) -> None:
    await check(tmp_path)
