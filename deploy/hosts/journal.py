"""The per-host journal (``<deploy_to>/.shipbot/journal.jsonl``) and the rollback target choice (pure).

Each deploy or rollback appends one JSON line on every host it touched::

    {"time": "2026-11-23T09:00:00Z", "action": "deploy", "run": "r1a2b3", "user": "U0ALICE",
     "sha": "<40 hex>", "release": "20261123090000", "previous": "20261122170000", "outcome": "success"}

Rollback goes to the previous *successful* release recorded here, not the previous folder by time: a release
that failed, was reverted, or was rolled back from is never chosen again. A host that joined later gets the
environment's rollback target prepared (never live there) by ``converge``, journalled as a deploy with outcome
``prepared``: a rollback may go to it like to a successful one.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from deploy.ids import utc_iso

_GOOD = ("success", "prepared")  # outcomes a rollback may go to


@dataclass(frozen=True)
class Entry:
    time: str
    action: str  # deploy | rollback
    run: str
    user: str
    sha: str
    release: str
    previous: str | None
    outcome: str  # success | failed | reverted | cancelled | prepared (converge: ready, never live here)

    def to_line(self) -> str:
        """One JSON line, keys sorted; the free-text field (``user``: a person, or a commit author's name) is
        written with every character but letters, digits, space, ``.``, ``_`` and ``@`` as a ``\\uXXXX``
        escape, so no marker, quote, dash or newline of anyone's choosing is ever on a host's disk as such.
        Any JSON reader reads it back unchanged; lines written before (unescaped) read as they always did."""
        fields = sorted(self.__dict__.items())
        return "{" + ",".join(f"{json.dumps(k)}:{_text(v) if k == 'user' else json.dumps(v)}" for k, v in fields) + "}"


_ESCAPED_ASCII = {c: f"\\u{c:04x}" for c in range(128) if not re.fullmatch(r"[A-Za-z0-9 ._@]", chr(c))}
_NOT_ASCII = re.compile(r"[^\x00-\x7f]+")


def _text(value: str) -> str:
    """``value`` as a JSON string with every character but letters, digits, space, ``.``, ``_`` and ``@`` escaped
    (UTF-16 ``\\uXXXX``, as JSON says); linear in C, a megabyte name included."""
    ascii_done = value.translate(_ESCAPED_ASCII)
    return '"' + _NOT_ASCII.sub(lambda m: json.dumps(m.group())[1:-1], ascii_done) + '"'


def entry(*, action: str, run: str, user: str, sha: str, release: str, previous: str | None, outcome: str) -> Entry:
    now = utc_iso()
    return Entry(now, action, run, user, sha, release, previous, outcome)


def parse(text: str) -> list[Entry]:
    """Entries in file order; lines that are not valid entries are skipped (a torn line, a hand edit). A torn line
    that the next append continued on the same line still yields that next entry."""
    out = []
    for line in text.splitlines():
        data = _load(line)
        if not isinstance(data, dict):
            continue
        try:
            out.append(
                Entry(
                    str(data["time"]),
                    str(data["action"]),
                    str(data["run"]),
                    str(data["user"]),
                    str(data["sha"]),
                    str(data["release"]),
                    _optional(data.get("previous")),
                    str(data["outcome"]),
                )
            )
        except (KeyError, TypeError):
            continue
    return out


def _optional(value: Any) -> str | None:
    return None if value is None else str(value)


def _load(line: str) -> Any:
    try:
        return json.loads(line)
    except ValueError:
        pass
    start = line.rfind("{", 1)  # entries hold no nested object: the last "{" starts the last entry on the line
    try:
        return json.loads(line[start:]) if start > 0 else None
    except ValueError:
        return None


def _holds(revisions: Mapping[str, str] | None, e: Entry) -> bool:
    """The release's folder still holds the entry's SHA (always true when the REVISIONs are not known)."""
    return revisions is None or revisions.get(e.release) == e.sha


def rollback_target(
    entries: list[Entry], current: str | None, existing: set[str], revisions: Mapping[str, str] | None = None
) -> Entry | None:
    """The newest successful deploy whose release still exists (holding its SHA, when ``revisions`` are given), is
    not ``current``, and was never rolled back from."""
    bad = {e.previous for e in entries if e.action == "rollback" and e.outcome == "success" and e.previous}
    for e in reversed(entries):
        if e.action != "deploy" or e.outcome not in _GOOD:
            continue
        if e.release == current or e.release in bad or e.release not in existing or not _holds(revisions, e):
            continue
        return e
    return None


def find(
    entries: list[Entry], wanted: str, existing: set[str], revisions: Mapping[str, str] | None = None
) -> Entry | None:
    """A release by id, or by full or abbreviated SHA, among releases that still exist (newest first)."""
    for e in reversed(entries):
        if e.release not in existing or e.outcome not in _GOOD or not _holds(revisions, e):
            continue
        if e.release == wanted or (len(wanted) >= 7 and e.sha.startswith(wanted)):
            return e
    return None
