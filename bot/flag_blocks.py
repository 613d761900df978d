"""Feature flags in Slack: the replies to ``flags`` and ``flag``, and the one-line report of a change posted in the
environment's notify channels: at once for a change from chat (:class:`FlagPoster`, the service's ``flag_notify``),
through the store's outbox for one made on the command line (:meth:`FlagPoster.post_event`, the bot's sender's
``slack``: one replica posts each row).

Targeting keys are shown as code, whatever they look like: a key ``U123`` never becomes a mention or a name.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.metrics import BotMetrics
from bot.mrkdwn import code, esc, user
from bot.slack_calls import safe
from commands.flag_replies import FlagChanged, FlagHistoryShown, FlagNotice, FlagReply, FlagShown, FlagsListed
from deploy.flags.flag_defs import FlagDef
from deploy.flags.flag_store import FlagChange, definition_of
from deploy.ids import utc_minute
from deploy.summary import count

Block = dict[str, Any]
# what Slack answers for a channel the bot can never post in: the row gives up at once (listed by notifications)
FINAL_ERRORS = frozenset({"channel_not_found", "not_in_channel", "is_archived", "invalid_auth", "account_inactive"})


def _section(text: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text[:2900]}}


def state(flag: FlagDef | None) -> str:
    """``on``, ``off``, ``10%``, ``off, on for `U1`, `U2```."""
    if flag is None:
        return "new"
    if flag.on:
        return "*on*"
    head = "off" if flag.tenths == 0 else f"*{esc(flag.describe().split(',')[0])}*"
    if flag.allow:
        return f"{head}, on for {', '.join(code(k) for k in flag.allow[:20])}" + (
            f" and {len(flag.allow) - 20} more" if len(flag.allow) > 20 else ""
        )
    return head


def change_line(change: FlagChange) -> str:
    """One line: who, what, from what."""
    forced = " :warning: *forced*" if change.forced else ""
    why = f" — {esc(change.reason)}" if change.reason else ""
    return (
        f"{user(change.actor)} set {code(change.flag)} in *{esc(change.environment)}* to {state(change.after)} "
        f"(was {state(change.before)}){forced}{why}"
    )


def _hosts_line(changed: FlagChanged) -> str:
    written = changed.written
    total = len(written.hosts)
    done = total - len(written.behind)
    line = f"file v{written.version} on {done}/{total} hosts"
    if written.behind:
        line += " — behind: " + ", ".join(f"{esc(h.host)} ({esc(h.error[:120])})" for h in written.behind[:10])
        line += "; the next change, deploy or converge catches them up"
    if written.drifted:
        line += " — :warning: edited by hand, replaced: " + ", ".join(esc(h.host) for h in written.drifted[:10])
    return line


def render_flag(reply: FlagReply) -> tuple[str, list[Block]]:
    """The fallback text and blocks of a flag reply."""
    match reply:
        case FlagChanged():
            lines = [change_line(reply.change), _hosts_line(reply)]
            lines += [f":warning: {esc(o)}" for o in reply.overrides]
            return f"flag {reply.change.flag}", [_section("\n".join(lines))]
        case FlagsListed():
            blocks = []
            for listing in reply.listings:
                total = len(listing.files)
                head = f"*{esc(listing.app)} {esc(listing.environment)}* — flags v{listing.version}, file current on "
                head += f"{listing.current}/{total} hosts"
                stale = [f.host for f in listing.files if f.sha256 != listing.sha256]
                if stale and listing.rows:
                    head += " (behind: " + ", ".join(esc(h) for h in stale[:10]) + ")"
                rows = [
                    f"• {code(r.flag)}: {state(r.definition)} — {user(r.changed_by)}, {utc_minute(r.changed_at)}"
                    for r in listing.rows[:40]
                ] or ["no flags yet"]
                blocks.append(_section(head + "\n" + "\n".join(rows)))
            for app, environment, error in reply.errors:
                blocks.append(_section(f"*{esc(app)} {esc(environment)}*: {esc(error[:300])}"))
            return "flags", blocks or [_section("No environments.")]
        case FlagShown():
            rows = [
                f"• *{esc(r.environment)}*: {state(r.definition)} — {user(r.changed_by)}, {utc_minute(r.changed_at)}"
                for r in reply.rows
            ]
            return f"flag {reply.name}", [_section(f"{code(reply.name)} in {esc(reply.app)}\n" + "\n".join(rows))]
        case FlagHistoryShown():
            where = f" in {esc(reply.environment)}" if reply.environment else ""
            lines = [f"{utc_minute(c.at)} {change_line(c)} _{esc(c.source)}_" for c in reply.changes[:30]]
            head = f"{code(reply.name)}{where}: {count(len(reply.changes), 'change')}"
            return f"history of {reply.name}", [_section(head + "\n" + "\n".join(lines))]


def event_change(doc: Mapping[str, Any]) -> FlagChange:
    """The change a ``flag.changed`` event reports (:func:`deploy.flags.flag_store.flag_event`, back)."""
    before = doc.get("before")
    return FlagChange(
        str(doc["app"]), str(doc["environment"]), str(doc["flag"]), int(doc.get("flag_version", 0)),
        str(doc.get("user", "")), 0.0, str(doc.get("source", "")), str(doc.get("action", "")),
        definition_of(before) if isinstance(before, dict) else None, definition_of(doc["after"]),
        str(doc.get("reason", "")), bool(doc.get("forced", False)),
    )  # fmt: skip


class FlagPoster:
    """Posts each change in the environment's notify channels, one line, in the thread of nothing else."""

    def __init__(self, client: AsyncWebClient, metrics: BotMetrics) -> None:
        self.client = client
        self.metrics = metrics

    async def __call__(self, notice: FlagNotice) -> None:
        text = change_line(notice.changed.change)
        for channel in notice.channels:
            await safe(
                self.metrics,
                "chat.postMessage",
                self.client.chat_postMessage(channel=channel, text=text, blocks=[_section(text)], unfurl_links=False),
            )

    async def post_event(self, target: Mapping[str, Any], doc: Mapping[str, Any]) -> tuple[bool, str] | None:
        """One outbox row for a Slack channel: ``None`` when posted, else (given up for good?, the error)."""
        if doc.get("type") != "flag.changed":
            return True, f"no Slack line for {doc.get('type')}"
        text = change_line(event_change(doc))
        try:
            await self.client.chat_postMessage(
                channel=str(target["channel"]), text=text, blocks=[_section(text)], unfurl_links=False
            )
        except SlackApiError as exc:
            error = str(exc.response.get("error", "unknown")) if exc.response is not None else "unknown"
            self.metrics.slack_call_failed("chat.postMessage", error)
            return error in FINAL_ERRORS, f"slack: {error}"
        except (aiohttp.ClientError, TimeoutError) as exc:
            self.metrics.slack_call_failed("chat.postMessage", type(exc).__name__)
            return False, f"slack: {type(exc).__name__}"
        return None
