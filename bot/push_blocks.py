"""Messages about pushes for the notify channels: who pushed what and where it deploys, a freeze holding an
auto-deploy (and releasing it), a lock refusing one, a push waiting for a run, release notes. Pure rendering of
:data:`commands.ports.Announcement`; an approval request renders as for a typed deploy
(:func:`bot.reply_blocks.render`)."""

from __future__ import annotations

from bot.mrkdwn import code, esc
from bot.reply_blocks import Message, _commits, _section, render
from commands.ports import (
    Announcement,
    ApprovalAsked,
    AutoDeployHeld,
    AutoDeployRefused,
    AutoDeployWaits,
    Pushed,
    ReleaseNotes,
)


def _what(app: str, ref: str, sha: str) -> str:
    return f"{esc(app)} {code(ref)} ({code(sha[:7])})"


def render_announcement(a: Announcement) -> Message:
    match a:
        case Pushed():
            envs = ", ".join(esc(e) for e in a.environments)
            head = f":arrow_up: {esc(a.pusher)} pushed {_what(a.app, a.ref, a.sha)}: deploying to {envs}"
            blocks = [_section(head)]
            if a.commits:
                blocks.append(_section(_commits(a.commits)))
            return Message(
                f"{esc(a.pusher)} pushed {esc(a.app)} {esc(a.ref)} ({a.sha[:7]}): deploying to {envs}", blocks
            )
        case AutoDeployHeld(released=False):
            line = (
                f":snowflake: {_what(a.app, a.ref, a.sha)} pushed by {esc(a.pusher)} is held: {esc(a.reason)}. "
                f"It deploys to {esc(a.environment)} when the freeze ends (a newer push replaces it)."
            )
            return Message(f"{a.app} {a.ref} held: {a.reason}", [_section(line)])
        case AutoDeployHeld():
            line = (
                f":sunny: the freeze on {esc(a.environment)} ended: deploying {_what(a.app, a.ref, a.sha)} "
                f"pushed by {esc(a.pusher)}."
            )
            return Message(f"freeze ended: deploying {a.app} {a.ref} to {a.environment}", [_section(line)])
        case AutoDeployRefused():
            hint = f"\n{esc(a.hint)}" if a.hint else ""
            line = (
                f":no_entry: {_what(a.app, a.ref, a.sha)} pushed by {esc(a.pusher)} was not deployed to "
                f"{esc(a.environment)}: {esc(a.reason)}{hint}"
            )
            return Message(f"{a.app} {a.ref} not deployed to {a.environment}: {a.reason}", [_section(line)])
        case AutoDeployWaits():
            replaced = f" (instead of {code(a.replaced[:7])})" if a.replaced else ""
            line = (
                f":hourglass: {_what(a.app, a.ref, a.sha)} pushed by {esc(a.pusher)} deploys to {esc(a.environment)} "
                f"once the run going on there ends{replaced}."
            )
            return Message(f"{a.app} {a.ref} waits for the run in {a.environment}", [_section(line)])
        case ReleaseNotes():
            since = f"since {code(a.previous)}" if a.previous else "(first release)"
            head = (
                f":package: *{esc(a.app)} {esc(a.tag)}* ({code(a.sha[:7])}), tagged by {esc(a.pusher)}: "
                f"{len(a.commits)} commit(s) {since}"
            )
            blocks = [_section(head)]
            if a.commits:
                blocks.append(_section(_commits(a.commits, limit=30)))
            return Message(f"{a.app} {a.tag} released", blocks)
        case ApprovalAsked():
            return render(a.reply)
    raise AssertionError(f"unhandled announcement {a!r}")  # pragma: no cover
