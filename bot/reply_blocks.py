"""Replies and notices from the command language, rendered as Slack messages (pure).

Each function returns a :class:`Message`: fallback text, blocks, and whether it should be ephemeral (only the
asker sees refusals and help). Everything that came from a person, a host or the repository is escaped.
Blocks are written to read well on a phone: short sections, no wide tables.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.flag_blocks import render_flag
from bot.mrkdwn import code, esc, mention, people_in, truncate, user
from bot.shipping_blocks import dry_run_blocks, shipment_lines
from commands.flag_replies import FlagChanged, FlagHistoryShown, FlagShown, FlagsListed
from commands.ports import ApprovalDecided, ApprovalExpired, Notice, QueueMoved, RunAnnounced, RunDropped, RunEnded
from commands.replies import (
    AlreadyDecided,
    AlreadyStarted,
    Approved,
    AskedHolder,
    AwaitingApproval,
    Cancelled,
    DryRunReply,
    HelpReply,
    HistoryReply,
    Locked,
    NotLocked,
    Queued,
    Refusal,
    Rejected,
    Reply,
    Resumed,
    RunAccepted,
    StatusReply,
    Unlocked,
    WhereReply,
)
from commands.runs import RunRequest
from deploy.capistrano.cap_entries import CapEntry
from deploy.ids import utc_minute
from deploy.records import Commit, LockRecord, RunRecord
from deploy.summary import count

Block = dict[str, Any]


@dataclass(frozen=True)
class Message:
    text: str  # the plain fallback (notifications); escaped when sent, see ``fallback``
    blocks: list[Block] = field(default_factory=list)
    ephemeral: bool = False

    @property
    def fallback(self) -> str:
        """The top-level ``text`` as sent: Slack parses it as mrkdwn, so it is escaped."""
        return esc(truncate(self.text, 3000))


def _section(text: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": truncate(text, 2900)}}


def _context(text: str) -> Block:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": truncate(text, 2900)}]}


def _principal(p: str) -> str:
    if p == "*":
        return "anyone"
    return esc(p) if p.startswith("@") else mention(p)  # approvers asked are notified


def _button(action_id: str, label: str, value: str, style: str | None = None) -> Block:
    b: Block = {"type": "button", "action_id": action_id, "value": value, "text": {"type": "plain_text", "text": label}}
    if style:
        b["style"] = style
    return b


def _commits(commits: tuple[Commit, ...] | list[Commit], limit: int = 10) -> str:
    lines = [f"{code(c.sha[:7])} {esc(truncate(c.subject, 80))} — {esc(c.author)}" for c in commits[:limit]]
    if len(commits) > limit:
        lines.append(f"…and {len(commits) - limit} more")
    return "\n".join(lines)


def _lock_line(lock: LockRecord) -> str:
    until = f", until {utc_minute(lock.expires_at)}" if lock.expires_at else ""
    return (
        f":lock: locked by {user(lock.owner)} since {utc_minute(lock.since)}{until}: "
        f"{people_in(esc(lock.reason or 'no reason'))}"
    )


def _run_what(run: RunRequest) -> str:
    """What a run does, as a phrase: ``shop main (3f2a9c1) → staging``, ``a rollback of shop staging``."""
    app, env = esc(run.app), esc(run.environment)
    if run.kind == "rollback":
        to = f" to {code(run.ref)}" if run.ref else ""
        return f"a rollback of {app} {env}{to}"
    if run.kind == "task":
        return f"task {esc(run.task or '')} on {app} {env}"
    if run.kind == "converge":
        return f"a converge of {app} {env} to its live release"
    if run.kind == "flag":  # ref: "flag NAME to 10% in ENV, from 0%"
        return f"{esc(run.ref)} ({app})"
    return f"{app} {esc(run.what)} → {env}"


def _wants(run: RunRequest) -> str:
    """What the requester asks an approver for, in their words: deploy X, roll back ENV (to X), run task T."""
    if run.kind == "rollback":
        to = f" to {code(run.ref)}" if run.ref else ""
        return f"roll back {esc(run.app)} {esc(run.environment)}{to}"
    if run.kind == "task":
        return f"run task {esc(run.task or '')} in {esc(run.app)} {esc(run.environment)}"
    if run.kind == "flag":
        return f"set {_run_what(run)}"
    return f"deploy {_run_what(run)}"


def _forced(run: RunRequest) -> str:
    """A forced run, deploy or rollback, is marked the same loud way wherever it is shown."""
    return " :warning: *forced*" if run.forced else ""


def _note(run: RunRequest) -> list[dict[str, Any]]:
    """How an ambiguous word of the request was read, shown with every reply about it."""
    return [_context(f":information_source: {esc(run.note)}")] if run.note else []


def render(reply: Reply) -> Message:
    match reply:
        case FlagChanged() | FlagsListed() | FlagShown() | FlagHistoryShown():
            text, flag_blocks = render_flag(reply)
            return Message(text, flag_blocks)
        case Refusal():
            hint = f"\n{people_in(esc(reply.hint))}" if reply.hint else ""
            reason = people_in(esc(reply.reason))
            return Message(people_in(reply.reason), [_section(f":no_entry: {reason}{hint}")], ephemeral=True)
        case HelpReply():
            if not reply.commands:
                return Message(
                    "You may not run any command here.", [_section("You may not run any command here.")], True
                )
            lines = [f"{code(c.syntax)} — {esc(c.summary)}" for c in reply.commands]
            head = f"*{esc(reply.topic)}*" if reply.topic else "*What you can do here*"
            if reply.topic and not reply.allowed_here:
                head += " (not allowed for you in this channel)"
            return Message("shipbot help", [_section(head), _section("\n".join(lines))], ephemeral=True)
        case StatusReply():
            blocks: list[Block] = []
            for view in reply.environments[:12]:
                title = f"*{esc(view.app)} {esc(view.environment)}*"
                if view.error:
                    blocks.append(_section(f"{title}: status unavailable: {esc(view.error)}"))
                    continue
                st = view.status
                lines = []
                if st is not None:
                    moving = bool(view.running) or st.active_run is not None  # its hosts are not behind: moving
                    verdict = ":white_check_mark: consistent" if st.consistent else ":warning: drifted or unreachable"
                    if moving:
                        verdict = ":large_yellow_circle: a run is in progress"
                    elif st.behind:
                        verdict = f":warning: {count(len(st.behind), 'host')} behind the live release"
                    title += f" — {verdict}"
                    for h in st.hosts[:20]:
                        source = f" _{esc(h.source)}_"
                        if not h.reachable:
                            lines.append(f"• {esc(h.label)}: unreachable ({esc(truncate(h.error, 120))}){source}")
                        else:
                            behind = " *behind*" if h.behind and not moving else ""
                            behind += " *flags behind*" if h.flags_behind else ""
                            lines.append(
                                f"• {esc(h.label)}: {esc(h.release or 'no release')} {code((h.sha or '-')[:7])}"
                                f"{behind}{source}"
                            )
                    if st.behind and not moving:
                        lines.append(f"{code('converge ' + view.environment)} puts the live release on them")
                    if len(st.hosts) > 20:
                        lines.append(f"…and {count(len(st.hosts) - 20, 'more host')}")
                if view.lock:
                    lines.append(_lock_line(view.lock))
                for r in view.running:
                    lines.append(f":large_yellow_circle: running {code(r.run_id)}: {esc(r.what)} by {user(r.user)}")
                for i, r in enumerate(view.queued, 1):
                    lines.append(f":hourglass: queued #{i} {code(r.run_id)}: {esc(r.what)} by {user(r.user)}")
                for r in view.awaiting_approval:
                    lines.append(f":raised_hand: awaiting approval {code(r.run_id)}: {esc(r.what)} by {user(r.user)}")
                blocks.append(_section(title + ("\n" + "\n".join(lines) if lines else "")))
            return Message("status", blocks or [_section("No environments to show.")])
        case HistoryReply():
            blocks = []
            for entry in reply.entries:
                head = f"*{esc(entry.app)} {esc(entry.environment or 'all environments')}*"
                lines = [_history_line(r) for r in entry.timeline()] or ["no runs yet"]
                blocks.append(_section(head + "\n" + "\n".join(lines)))
            return Message("history", blocks[:40])
        case WhereReply():
            lines = [
                f"{':white_check_mark:' if e.allowed else ':no_entry_sign:'} {esc(e.app)} *{esc(e.environment)}*"
                + ("" if e.allowed else f" — {esc(e.reason)}")
                for e in reply.entries
            ]
            return Message("where you can deploy", [_section("\n".join(lines) or "No environments configured.")], True)
        case Locked():
            return Message(
                f"{reply.lock.environment} locked",
                [_section(f"{esc(reply.lock.environment)}: {_lock_line(reply.lock)}")],
            )
        case Unlocked():
            forced = f" (forced: was {user(reply.previous.owner)}'s lock, recorded)" if reply.forced else ""
            return Message("unlocked", [_section(f":unlock: {esc(reply.previous.environment)} unlocked{forced}")])
        case NotLocked():
            return Message("not locked", [_section(f"{esc(reply.environment)} is not locked.")], True)
        case RunAccepted():
            # the run's own report follows at once; only a forced run is announced to everyone
            return Message(
                f"starting {reply.run.run_id}",
                [
                    _context(f"Starting {code(reply.run.run_id)}: {_run_what(reply.run)}{_forced(reply.run)}"),
                    *_note(reply.run),
                ],
                ephemeral=not reply.run.forced,
            )
        case Queued():
            ahead = f" behind {esc(reply.ahead.what)} by {user(reply.ahead.user)}" if reply.ahead else ""
            return Message(
                f"queued at position {reply.position}",
                [
                    _section(
                        f":hourglass: {_run_what(reply.run)}{_forced(reply.run)} is queued, position "
                        f"*{reply.position}*{ahead}. It starts by itself when its turn comes."
                    ),
                    *_note(reply.run),
                    {"type": "actions", "elements": [_button("run_cancel", "Cancel", reply.run.run_id, "danger")]},
                ],
            )
        case AwaitingApproval():
            approvers = ", ".join(_principal(p) for p in reply.approvers) or "an approver"
            blocks = [
                _section(
                    f":raised_hand: {user(reply.run.user)} wants to {_wants(reply.run)}{_forced(reply.run)}.\n"
                    f"Needs approval by {approvers} (not the requester), before {utc_minute(reply.expires_at)}.\n"
                    f"Run {code(reply.run.run_id)}: press Approve or Reject, or type "
                    f"{code('approve ' + reply.run.run_id)} or {code('reject ' + reply.run.run_id + ' REASON')}."
                ),
                *_note(reply.run),
            ]
            if reply.commits:
                blocks.append(_context("What will ship:\n" + _commits(reply.commits)))
            if shipped := shipment_lines(reply.shipment):
                blocks.append(_section("\n".join(shipped)))
            blocks.append(
                {
                    "type": "actions",
                    "block_id": f"approval-{reply.run.run_id}",
                    "elements": [
                        _button("run_approve", "Approve", reply.run.run_id, "primary"),
                        _button("run_reject", "Reject", reply.run.run_id, "danger"),
                    ],
                }
            )
            return Message(f"approval needed for {reply.run.run_id}", blocks)
        case Cancelled():
            if reply.state == "running":  # the run's own message says how it ended, for everyone
                line = (
                    f":octagonal_sign: Cancelling {code(reply.run.run_id)}: its message says when every host is back."
                )
                return Message(f"cancelling {reply.run.run_id}", [_context(line)], ephemeral=True)
            line = (
                f":octagonal_sign: {code(reply.run.run_id)} ({_run_what(reply.run)}) cancelled while {esc(reply.state)}"
            )
            return Message(f"{reply.run.run_id} cancelled", [_section(line)])
        case Approved():
            then = render(reply.then)
            line = f":white_check_mark: {code(reply.run.run_id)} approved by {user(reply.by)}"
            return Message(f"approved {reply.run.run_id}", [_section(line), *then.blocks])
        case Resumed():
            verb = "continued" if reply.go else "aborted (switched hosts go back)"
            return Message(
                f"{reply.run.run_id} {verb}", [_context(f"{code(reply.run.run_id)} {verb} by {user(reply.by)}")]
            )
        case AskedHolder():
            what = {"cancel": "cancel it and put its hosts back", "continue": "continue", "abort": "abort it"}
            asked = what.get(reply.action, reply.action)
            line = f"asked the shipbot running {code(reply.run.run_id)} to {asked}"
            fallback = f"asked the shipbot running {reply.run.run_id} to {asked}"
            return Message(fallback, [_section(f":arrow_right: {line} (for {user(reply.by)})")])
        case Rejected():
            why = f": {esc(reply.reason)}" if reply.reason else ""
            line = f":x: {code(reply.run.run_id)} rejected by {user(reply.by)}{why}"
            if reply.run.kind == "flag":  # nothing changed: the requester is told so
                line += f"\n{mention(reply.run.user)}, {esc(reply.run.ref)} was not changed."
            return Message("rejected", [_section(line)])
        case DryRunReply():
            kind = "commands of the plan" if reply.commands else "plan"
            text = f"{kind}: {reply.app} {reply.dry.ref} to {reply.dry.environment}"
            return Message(text, dry_run_blocks(reply), ephemeral=True)  # for the asker: the channel sees runs
        case AlreadyDecided():
            line = f"{code(reply.run.run_id)} was already {esc(reply.verdict)} by {user(reply.by)}"
            fallback = f"{reply.run.run_id} was already {reply.verdict} by {user(reply.by)}"
            return Message(fallback, [_section(f":information_source: {line}")], ephemeral=True)
        case AlreadyStarted():
            said = "This request had already started run {} ({}); it is not started again."
            line = said.format(code(reply.run_id), esc(reply.state))
            return Message(said.format(reply.run_id, reply.state), [_section(f":information_source: {line}")])
    raise AssertionError(f"unhandled reply {reply!r}")  # pragma: no cover


def render_notice(notice: Notice) -> Message | None:
    """A notice that needs its own message (run reports cover the rest)."""
    match notice:
        case RunEnded():
            if notice.finished is None and notice.error:
                return Message(
                    people_in(notice.error),
                    [_section(f":red_circle: {_run_what(notice.run)} could not run: {people_in(esc(notice.error))}")],
                )
            if notice.nothing_to_do:
                return Message(
                    notice.nothing_to_do,
                    [_section(f":information_source: {_run_what(notice.run)}: {esc(notice.nothing_to_do)}")],
                )
            if notice.lock is not None:
                return Message(
                    "locked after rollback", [_section(f"{esc(notice.run.environment)}: {_lock_line(notice.lock)}")]
                )
            return None
        case RunAnnounced():
            hosts = ", ".join(notice.behind) or "hosts"
            text = (
                f":arrows_counterclockwise: shipbot converges {esc(notice.run.app)} {esc(notice.run.environment)}: "
                f"{esc(hosts)} behind the live release; run {code(notice.run.run_id)} is reported in "
                f"<#{notice.run.channel}>"
            )
            return Message(f"shipbot converges {notice.run.environment}", [_section(text)])
        case QueueMoved():
            return Message(
                f"{notice.run.run_id} is now #{notice.position}",
                [
                    _context(
                        f":hourglass: {code(notice.run.run_id)} ({_run_what(notice.run)}) "
                        f"is now #{notice.position} in the queue"
                    )
                ],
            )
        case RunDropped():
            hint = f" {esc(notice.hint)}" if notice.hint else ""
            return Message(
                notice.reason,
                [
                    _section(
                        f":warning: {mention(notice.run.user)}, {_run_what(notice.run)} did not start: "
                        f"{people_in(esc(notice.reason))}.{hint}"
                    )
                ],
            )
        case ApprovalExpired():
            return Message(
                "approval expired",
                [
                    _section(
                        f":hourglass_flowing_sand: {mention(notice.run.user)}, the approval for "
                        f"{code(notice.run.run_id)} expired; ask again."
                    )
                ],
            )
        case ApprovalDecided():
            return None
    return None  # pragma: no cover


def _history_line(r: RunRecord | CapEntry) -> str:
    """One line of ``history``: a run of shipbot's, or a deploy or rollback Capistrano wrote in revisions.log."""
    if isinstance(r, CapEntry):
        what = f"{esc(r.action)} {esc(r.branch)} {code(r.sha[:7] or '-')}" if r.action == "deploy" else "rollback to"
        return f"{utc_minute(r.at)} _capistrano_ {what} release {code(r.release)} by {esc(r.user or 'someone')}"
    return (
        f"{utc_minute(r.started_at)} {code(r.run_id)} {esc(r.kind)} {esc(r.ref)} {code(r.sha[:7] or '-')} "
        f"*{esc(r.state)}* by {user(r.user)}" + (f" on {count(r.hosts, 'host')}" if r.hosts else "")
    )
