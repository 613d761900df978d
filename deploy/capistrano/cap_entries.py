"""Capistrano's deploys and rollbacks as entries of ``history``, beside shipbot's runs (pure).

A host's listing carries its ``revisions.log`` (:mod:`deploy.capistrano.revisions_log`); :func:`from_listing` turns the
lines Capistrano wrote there into :class:`CapEntry` values the store keeps (:mod:`deploy.capistrano.cap_history`), and
:func:`timeline` puts them in time order beside the store's runs.

When each happened:

- a deploy line's release is named with Capistrano's ``%Y%m%d%H%M%S`` stamp, in UTC: that is the deploy's time
  (a release whose name is not such a stamp takes the time the line was first seen);
- a rollback line carries no time of its own: it takes the time shipbot first saw it, but never later than the
  next deploy line of the file, which it came before; so a rollback read long after it happened shows when it was
  first seen, not when it was done.

Lines shipbot wrote itself (a run with ``layout: capistrano`` appends Capistrano's line too) are left out: the
host's journal names them, by action, release and user, and the store's run already stands for them. A line is
known by its app, environment, release and action, so one read again, or read from another host, is one entry;
a second rollback to a release already rolled back to once is that same entry.
"""

from __future__ import annotations

import calendar
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from deploy.capistrano.revisions_log import RevisionsLog
from deploy.hosts import journal
from deploy.records import RunRecord

SOURCE = "capistrano"
STAMP = "%Y%m%d%H%M%S"


@dataclass(frozen=True)
class CapEntry:
    """One line of a host's revisions.log, as ``history`` shows it."""

    app: str
    environment: str
    release: str
    action: str  # deploy | rollback (to ``release``)
    user: str
    sha: str  # the deploy line's SHA (a rollback: the SHA its release was deployed with, "" when not read)
    branch: str  # deploy lines only
    at: float  # seconds since the epoch: the release's stamp, or when first seen (see the module docstring)
    host: str  # the host it was first read from
    line: int  # its line number there

    def as_json(self) -> dict[str, object]:
        """``history --json``'s entry: the keys of a run's entry that apply, ``run_id`` null, ``source``."""
        return {
            "source": SOURCE, "run_id": None, "kind": self.action, "app": self.app, "environment": self.environment,
            "user": self.user, "ref": self.branch, "sha": self.sha, "release": self.release, "state": "success",
            "started_at": self.at, "finished_at": self.at, "message": self.describe(), "host": self.host,
            "line": self.line,
        }  # fmt: skip

    def describe(self) -> str:
        if self.action == "rollback":
            return f"{self.user or 'someone'} rolled back to release {self.release} with Capistrano"
        return f"deployed as release {self.release} by {self.user or 'someone'} with Capistrano"


def release_time(release: str) -> float | None:
    """The UTC time a Capistrano release name (``%Y%m%d%H%M%S``) stands for; None when it is not such a name."""
    if len(release) != 14 or not release.isdigit():
        return None
    try:
        return float(calendar.timegm(time.strptime(release, STAMP)))
    except ValueError:
        return None


def _user(text: str) -> str:
    return " ".join(text.split())


def from_listing(
    app: str,
    environment: str,
    host: str,
    log: RevisionsLog,
    own: Iterable[journal.Entry],
    seen_at: float,
) -> list[CapEntry]:
    """The entries of ``log`` (read from ``host`` at ``seen_at``) that Capistrano wrote: every line but those the
    host's journal (``own``) says shipbot wrote, one per line, in file order."""
    mine = Counter((e.action, e.release, _user(e.user)) for e in own if e.outcome == "success")
    shas = {e.release: e.sha for e in log.entries() if e.action == "deploy"}
    kept = []
    for line in log.lines:
        key = (line.action, line.release, _user(line.user))
        if mine[key] > 0:
            mine[key] -= 1
            continue
        kept.append(line)
    out: list[CapEntry] = []
    later = seen_at  # the time of the next deploy line, walking back from the end
    for line in reversed(kept):
        if line.action == "deploy":
            stamp = release_time(line.release)
            at = later = min(seen_at, stamp if stamp is not None else seen_at)
        else:
            at = min(seen_at, later)
        sha = shas.get(line.release, line.sha)
        entry = CapEntry(
            app, environment, line.release, line.action, line.user, sha, line.branch, at, host, line.number
        )
        out.append(entry)
    return out[::-1]


def timeline(runs: Sequence[RunRecord], entries: Sequence[CapEntry], limit: int) -> list[RunRecord | CapEntry]:
    """The newest ``limit`` of shipbot's runs and Capistrano's entries together, newest first (a tie: the run)."""
    both: list[tuple[float, int, RunRecord | CapEntry]] = [(r.started_at, 1, r) for r in runs]
    both += [(e.at, 0, e) for e in entries]
    both.sort(key=lambda t: (t[0], t[1]), reverse=True)
    return [item for _, _, item in both[: max(limit, 0)]]
