"""Previews per branch in Slack: the replies to ``preview``, ``teardown`` and ``previews``, and the notices that
follow (a preview live, updated, failed, refused or removed), rendered (pure) and posted (:class:`PreviewPoster`).
Everything that came from a person, a host or the repository is escaped."""

from __future__ import annotations

from slack_sdk.web.async_client import AsyncWebClient

from bot.metrics import BotMetrics
from bot.mrkdwn import code, esc, mention, truncate
from bot.reply_blocks import Block, Message
from bot.slack_calls import safe
from commands.replies import PreviewNotice, PreviewRemoved, PreviewsListed, PreviewStarted, Reply
from deploy.config.durations import format_duration
from deploy.previews.preview_runner import PreviewInfo

PREVIEW_REPLIES = (PreviewStarted, PreviewsListed, PreviewRemoved)


def _section(text: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": truncate(text, 2900)}}


def _link(info: PreviewInfo) -> str:
    return f"<{esc(info.url)}|{esc(info.url.removeprefix('http://').rstrip('/'))}>"


def _age(seconds: float) -> str:
    if seconds < 60:
        return "just now"
    whole = format_duration(seconds).removesuffix("00s").removesuffix("00m")
    return f"{whole} ago"


def _who(by: str) -> str:
    """The person who asked, mentioned (their preview is ready or failed: they should hear); a pusher's name from
    git as plain text."""
    return mention(by) if by[:1] in ("U", "W") and by.isalnum() and by.isupper() else esc(by)


def _line(p: PreviewInfo, now: float) -> str:
    left = format_duration(max(0.0, p.expires_at - now))
    made = _age(now - p.created_at)
    state = {"live": "", "broken": " *broken*: the next push rebuilds it"}.get(p.state, " _(being made)_")
    return (
        f"• {_link(p)} — {code(p.branch)} at {code(p.sha[:7] or 'none yet')}, made {made}, "
        f"last push {_age(now - p.updated_at)}, removed in {left}{state}"
    )


def render_preview(reply: Reply) -> Message:
    match reply:
        case PreviewStarted():
            what = "Updating" if reply.update else "Making"
            text = (
                f":hammer_and_wrench: {what} the preview of {code(reply.branch)} ({code(reply.sha[:7])}) of "
                f"{esc(reply.app)} at {esc(reply.url)}; I'll say here when it answers."
            )
            return Message(f"{what} the preview of {reply.branch}", [_section(text)])
        case PreviewRemoved():
            info = reply.info
            text = f":wastebasket: The preview of {code(info.branch)} ({esc(info.name)}) is gone: {esc(reply.why)}."
            return Message(f"preview of {info.branch} removed", [_section(text)])
        case PreviewsListed():
            if not reply.configured:
                return Message("no previews", [_section("No app has previews configured.")], ephemeral=True)
            if not reply.previews:
                return Message("no previews", [_section("No previews run right now.")])
            lines = [_line(p, reply.now) for p in reply.previews[:40]]
            more = [f"…and {len(reply.previews) - 40} more"] if len(reply.previews) > 40 else []
            return Message("previews", [_section("*Previews*"), _section("\n".join([*lines, *more]))])
    raise AssertionError(f"not a preview reply: {reply!r}")  # pragma: no cover


def render_preview_notice(notice: PreviewNotice) -> Message:
    branch, by, info = code(notice.branch), _who(notice.by), notice.info
    match notice.kind:
        case "live" | "updated" if info is not None:
            verb = "is live" if notice.kind == "live" else f"now runs {code(info.sha[:7])}"
            text = f":large_green_circle: The preview of {branch} {verb}: {_link(info)} (pushed by {by})"
            return Message(f"preview of {notice.branch}: {info.url}", [_section(text)])
        case "removed" if info is not None:
            text = f":wastebasket: The preview of {branch} ({esc(info.name)}) is gone: {esc(notice.message)}."
            return Message(f"preview of {notice.branch} removed", [_section(text)])
        case "refused":
            text = f":no_entry: No preview of {branch} (for {by}): {esc(notice.message)}"
            return Message(f"no preview of {notice.branch}", [_section(text)])
        case "broken":
            text = (
                f":warning: The preview of {branch} (for {by}) is *broken*: {esc(notice.message)}\n"
                f"The next push to {branch} rebuilds it from scratch; {code('teardown ' + notice.branch)} removes it."
            )
            return Message(f"preview of {notice.branch} is broken", [_section(text)])
    where = f" It still runs {code(info.sha[:7])}." if info is not None and info.sha else ""
    text = f":red_circle: The preview of {branch} (for {by}) failed: {esc(notice.message)}{where}"
    return Message(f"preview of {notice.branch} failed", [_section(text)])


class PreviewPoster:
    """Posts each :class:`PreviewNotice` in its channel (the service's ``preview_notify``)."""

    def __init__(self, client: AsyncWebClient, metrics: BotMetrics) -> None:
        self.client = client
        self.metrics = metrics

    async def __call__(self, notice: PreviewNotice) -> None:
        message = render_preview_notice(notice)
        await safe(
            self.metrics,
            "chat.postMessage",
            self.client.chat_postMessage(
                channel=notice.channel, text=message.fallback, blocks=message.blocks, unfurl_links=False
            ),
        )
