"""``shipbot deploy --dry-run [--json]``: what a deploy would do, printed, changing nothing.

The engine reads the hosts read-only and shapes the plan (:meth:`deploy.run.engine.Engine.dry_run`); this module
prints it for a person or, with ``--json``, as :func:`deploy.run.dry_run.as_json`. The exit code is 0 when the plan
is printed and the deploy would go, 2 when the promotion order would refuse it (the reason is printed with the
plan, in the chat's words: :func:`commands.reply_texts.promotion_rule`).
"""

from __future__ import annotations

import json

from commands.reply_texts import older_than_live, promotion_rule
from deploy.run.dry_run import DryRun, as_json
from deploy.summary import count


def refusal(dry: DryRun) -> str | None:
    return promotion_rule(dry.promotion) if dry.promotion is not None else None


def _printable(value: str) -> str:
    """A commit's subject or author for a terminal: data, so control characters (escape sequences) are shown
    escaped, never sent to the terminal."""
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in value)


def text(dry: DryRun) -> str:
    """The dry run for a terminal."""
    ship = dry.shipment
    lines = [f"DRY RUN: deploy {dry.app} {dry.ref} ({dry.sha[:12]}) to {dry.environment}; nothing is changed"]
    if ship.live_sha is None:
        lines.append("  live: nothing deployed yet")
    elif ship.live_sha == dry.sha:
        lines.append(f"  live: {ship.live_sha[:12]}, this very commit: nothing new would ship")
    else:
        lines.append(f"  live: {ship.live_sha[:12]}; {count(len(ship.commits), 'commit')} would ship")
    lines += [f"    {c.sha[:7]} {_printable(c.subject)} ({_printable(c.author)})" for c in ship.commits]
    if ship.older and ship.live_sha:
        lines.append(f"  WARNING: {older_than_live(dry.sha, ship.live_sha)}")
    if ship.compare_url:
        lines.append(f"  compare: {ship.compare_url}")
    reason = refusal(dry)
    if reason:
        lines.append(f"  REFUSED: {reason}; deploy it there first, or pass --force (recorded)")
    if dry.strategy != "all":
        lines.append(f"  strategy {dry.strategy}: " + " | ".join(", ".join(b) for b in dry.batches))
    lines += [f"  NOTE: {note}" for note in dry.notes]
    for h in dry.hosts:
        now = f"replaces {h.replaces}" if h.replaces else "no release live yet"
        if h.error:
            now = f"live state unknown: {h.error}"
        shown = h.address if h.name in ("", h.address) else f"{h.name} ({h.address})"
        lines.append(f"  {shown}: release {h.release} ({now})")
        lines += [f"    {s.name}: {s.command}" for s in h.steps]
    return "\n".join(lines)


def as_text_json(dry: DryRun) -> str:
    return json.dumps(as_json(dry, refusal(dry)))
