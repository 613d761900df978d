"""Preview replies and notices as Slack messages: the URL as a link, the age, and nothing a pusher or a branch
carries becomes a mention or a link (pure)."""

from __future__ import annotations

from bot.preview_blocks import render_preview, render_preview_notice
from commands.replies import PreviewNotice, PreviewsListed, PreviewStarted
from deploy.previews.preview_runner import PreviewInfo

NOW = 1_780_000_000.0
INFO = PreviewInfo(
    "shop", "demo-xyz", "demo/xyz", "a" * 40, 9001, "http://demo-xyz.preview.example.com/", ("10.0.0.9",), "live",
    NOW - 3 * 3600, NOW - 600, NOW - 600 + 48 * 3600,
)  # fmt: skip


def test_a_live_preview_links_its_address_and_names_the_pusher_as_plain_text() -> None:
    message = render_preview_notice(PreviewNotice("C0DEPLOY", "shop", "demo/xyz", "live", "<!channel> ada", INFO))

    text = str(message.blocks)
    assert "<http://demo-xyz.preview.example.com/|demo-xyz.preview.example.com>" in text
    assert "&lt;!channel&gt; ada" in text and "<!channel>" not in text


def test_a_person_who_asked_is_mentioned() -> None:
    message = render_preview_notice(PreviewNotice("C0DEPLOY", "shop", "demo/xyz", "updated", "U0ALICE", INFO))

    assert "<@U0ALICE>" in str(message.blocks)
    assert "now runs `aaaaaaa`" in str(message.blocks)


def test_a_failure_says_why_and_what_still_runs() -> None:
    notice = PreviewNotice("C0DEPLOY", "shop", "demo/xyz", "failed", "ada", INFO, "h1: build failed: <boom>")

    text = str(render_preview_notice(notice).blocks)

    assert ":red_circle:" in text and "&lt;boom&gt;" in text and "It still runs `aaaaaaa`" in text


def test_the_list_shows_address_branch_sha_age_and_time_left() -> None:
    text = str(render_preview(PreviewsListed((INFO,), NOW)).blocks)

    assert "demo-xyz.preview.example.com" in text
    assert "`demo/xyz` at `aaaaaaa`, made 3h ago, last push 10m ago, removed in 47h50m" in text


def test_started_says_where_it_will_answer() -> None:
    reply = PreviewStarted("shop", "demo/xyz", "b" * 40, "demo-xyz", "http://demo-xyz.preview.example.com/", "U0ALICE")

    message = render_preview(reply)

    assert not message.ephemeral
    assert "Making the preview of `demo/xyz` (`bbbbbbb`)" in str(message.blocks)
