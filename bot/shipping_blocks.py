"""What a deploy ships, and what a dry run would do, as Slack mrkdwn (pure).

:func:`shipment_lines` is shared by the approval request and the run message: a warning when the commit is older
than what is live, and the page comparing the two on the repository's host (only URLs :mod:`deploy.compare`
built from the config's ``repo`` and commit ids, so nothing in them can break out of the link).
:func:`dry_run_blocks` renders ``deploy ... --dry-run`` / ``plan``: the commit, what would ship, the refusal it
would meet, and per host the release it would create, the one it replaces, and each step's command.
"""

from __future__ import annotations

from typing import Any

from bot.mrkdwn import code, esc, truncate
from commands.replies import DryRunReply
from commands.reply_texts import older_than_live
from deploy.records import Shipment

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


def dry_run_blocks(reply: DryRunReply) -> list[Block]:
    dry = reply.dry
    ship = dry.shipment
    head = (
        f":mag: *Dry run* (nothing changes): deploy {esc(reply.app)} {code(dry.ref)} ({code(dry.sha[:7])}) "
        f"→ {esc(dry.environment)}"
    )
    live = f"live now: {code(ship.live_sha[:7])}" if ship.live_sha else "nothing deployed yet"
    blocks = [_section(f"{head}\n{live} · {len(ship.commits)} commit(s) would ship")]
    if ship.commits:
        lines = [f"{code(c.sha[:7])} {esc(truncate(c.subject, 80))} — {esc(c.author)}" for c in ship.commits[:10]]
        more = f"\n…and {len(ship.commits) - 10} more" if len(ship.commits) > 10 else ""
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": "\n".join(lines) + more}]})
    extra = shipment_lines(ship)
    if reply.forced:
        extra.append(":warning: *forced* (`deploy!`): past the promotion order, recorded when it runs")
    if reply.refused is not None:
        hint = f"\n{esc(reply.refused.hint)}" if reply.refused.hint else ""
        extra.append(f":no_entry: this deploy would be refused: {esc(reply.refused.reason)}{hint}")
    if extra:
        blocks.append(_section("\n".join(extra)))
    for h in dry.hosts[:MAX_HOSTS_SHOWN]:
        now = f"replaces {code(h.replaces)}" if h.replaces else "no release live yet"
        if h.error:
            now = f"live state unknown: {esc(truncate(h.error, 200))}"
        steps = "\n".join(f"• {esc(s.name)}: {code(truncate(s.command, 300))}" for s in h.steps)
        blocks.append(_section(f"*{esc(h.address)}*: release {code(h.release)}, {now}\n{steps}"))
    if len(dry.hosts) > MAX_HOSTS_SHOWN:
        blocks.append(_section(f"…and {len(dry.hosts) - MAX_HOSTS_SHOWN} more hosts with the same steps"))
    return blocks[:49]
