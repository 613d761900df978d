"""What a deploy ships, and what a dry run would do, as Slack mrkdwn (pure).

:func:`shipment_lines` is shared by the approval request and the run message: a warning when the commit is older
than what is live, and the page comparing the two on the repository's host (only URLs :mod:`deploy.delivery.compare`
built from the config's ``repo`` and commit ids, so nothing in them can break out of the link).
:func:`dry_run_blocks` renders ``deploy ... --dry-run`` / ``plan`` for the asker alone: a summary (what would ship,
or that it is live already; the hosts by name; the steps; the release it replaces; warnings and the refusal it
would meet) with a "Show commands" button, which answers with every host's full commands (the CLI prints them
all at once).
"""

from __future__ import annotations

from typing import Any

from bot.mrkdwn import code, esc, truncate
from commands.replies import DryRunReply
from commands.reply_texts import older_than_live
from deploy.records import Shipment
from deploy.run.dry_run import DryRun, HostDryRun
from deploy.summary import count

Block = dict[str, Any]
MAX_HOSTS_SHOWN = 10


def shipment_lines(shipment: Shipment | None) -> list[str]:
    if shipment is None or not shipment.live_sha:
        return []
    lines = []
    if shipment.older:
        lines.append(f":warning: {esc(older_than_live(shipment.sha, shipment.live_sha))}")
    if shipment.compare_url:
        base, head = (shipment.sha, shipment.live_sha) if shipment.older else (shipment.live_sha, shipment.sha)
        label = "what goes away" if shipment.older else "compare"
        lines.append(f"<{shipment.compare_url}|{label} {base[:7]}...{head[:7]}>")
    return lines


def _section(text: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": truncate(text, 2900)}}


def plan_command(reply: DryRunReply) -> str:
    """The command that shows this plan again, pinned to its commit (the "Show commands" button's value)."""
    dry = reply.dry
    return f"plan {reply.app} {dry.sha} to {dry.environment}"


def _shown(h: HostDryRun) -> str:
    return h.name or h.address


def _replaces(dry: DryRun) -> str:
    """What the deploy replaces: one release everywhere, or per host."""
    now = {h.replaces for h in dry.hosts}
    if any(h.error for h in dry.hosts):
        unknown = ", ".join(esc(_shown(h)) for h in dry.hosts if h.error)
        return f"live state unknown on {unknown}"
    if now == {None}:
        return "no release is live yet"
    if len(now) == 1:
        return f"replaces release {code(str(next(iter(now))))} on every host"
    return "replaces " + ", ".join(f"{esc(_shown(h))} {code(h.replaces or 'nothing')}" for h in dry.hosts)


def _steps(dry: DryRun) -> str:
    names: dict[str, None] = {}
    for h in dry.hosts:
        names.update(dict.fromkeys(s.name for s in h.steps))
    return " → ".join(esc(n) for n in names) or "none"


def _what_ships(reply: DryRunReply) -> list[Block]:
    dry, ship = reply.dry, reply.dry.shipment
    if ship.live_sha is None:
        return [_section("Nothing is deployed yet: this would be the first release.")]
    if ship.live_sha == dry.sha:
        return [_section(f"{code(dry.sha[:7])} is already live: nothing new would ship.")]
    if not ship.commits:
        return [_section(f"No commit between what is live ({code(ship.live_sha[:7])}) and {code(dry.sha[:7])}.")]
    lines = [f"{code(c.sha[:7])} {esc(truncate(c.subject, 80))} — {esc(c.author)}" for c in ship.commits[:5]]
    if len(ship.commits) > 5:
        lines.append(f"…and {count(len(ship.commits) - 5, 'more commit')}")
    head = f"{count(len(ship.commits), 'commit')} would ship over {code(ship.live_sha[:7])}:"
    return [_section(head), {"type": "context", "elements": [{"type": "mrkdwn", "text": "\n".join(lines)}]}]


def _warnings(reply: DryRunReply) -> list[str]:
    dry = reply.dry
    extra = shipment_lines(dry.shipment)
    extra += [f":warning: {esc(note)}" for note in dry.notes]
    if reply.forced:
        extra.append(":warning: *forced* (`deploy!`): past the promotion order, recorded when it runs")
    if reply.refused is not None:
        hint = f"\n{esc(reply.refused.hint)}" if reply.refused.hint else ""
        extra.append(f":no_entry: this deploy would be refused: {esc(reply.refused.reason)}{hint}")
    return extra


def dry_run_blocks(reply: DryRunReply) -> list[Block]:
    """The plan in a few lines: what ships, on which hosts, which steps, what it replaces, warnings; and a button
    for every host's full commands."""
    if reply.commands:
        return _commands_blocks(reply)
    dry = reply.dry
    head = (
        f":mag: *Plan* (nothing changes): deploy {esc(reply.app)} {code(dry.ref)} ({code(dry.sha[:7])}) "
        f"→ {esc(dry.environment)}"
    )
    hosts = ", ".join(esc(_shown(h)) for h in dry.hosts[:MAX_HOSTS_SHOWN])
    if len(dry.hosts) > MAX_HOSTS_SHOWN:
        hosts += f" and {count(len(dry.hosts) - MAX_HOSTS_SHOWN, 'more')}"
    strategy = (
        f"{dry.strategy}, {count(len(dry.batches), 'batch', 'batches')}" if dry.strategy != "all" else "all at once"
    )
    blocks = [
        _section(head),
        *_what_ships(reply),
        _section(
            f"*On {count(len(dry.hosts), 'host')}* ({strategy}): {hosts}\n"
            f"*Steps:* {_steps(dry)}\n"
            f"*Release* {code(dry.hosts[0].release if dry.hosts else '-')}: {_replaces(dry)}"
        ),
    ]
    if extra := _warnings(reply):
        blocks.append(_section("\n".join(extra)))
    blocks.append(
        {
            "type": "actions",
            "elements": [
                {
                    "type": "button",
                    "action_id": "plan_commands",
                    "value": plan_command(reply)[:2000],
                    "text": {"type": "plain_text", "text": "Show commands"},
                }
            ],
        }
    )
    return blocks


def _commands_blocks(reply: DryRunReply) -> list[Block]:
    """Every host's steps with their full commands (the CLI's ``--dry-run`` shows the same)."""
    dry = reply.dry
    head = f":mag: *Commands* of the plan: deploy {esc(reply.app)} {code(dry.sha[:7])} → {esc(dry.environment)}"
    blocks = [_section(head)]
    for h in dry.hosts[:MAX_HOSTS_SHOWN]:
        steps = "\n".join(f"• {esc(s.name)}: {code(truncate(s.command, 300))}" for s in h.steps)
        blocks.append(_section(f"*{esc(_shown(h))}*: release {code(h.release)}\n{steps}"))
    if len(dry.hosts) > MAX_HOSTS_SHOWN:
        more = count(len(dry.hosts) - MAX_HOSTS_SHOWN, "more host")
        blocks.append(_section(f"…and {more} with the same steps"))
    return blocks[:49]
