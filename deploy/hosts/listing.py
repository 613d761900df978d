"""A host's release listing: what retention and rollback read from a host, however long its past (pure).

:func:`command` builds one ``sh`` command that prints, between a start and an end marker (so a login shell's own
lines before it, or an output cut short, are told apart)::

    shipbot-listing-<nonce>
    current <TAB> <release current points to, or ->
    release <TAB> <folder> <TAB> <its REVISION, or ->     one line per folder under releases/
    pinned <TAB> <release>                                   a blue/green colour link's release
    shipbot-journal-<nonce>
    <journal lines>
    shipbot-listing-end-<nonce>
    <Capistrano's revisions.log, its own section: :func:`deploy.capistrano.revisions_log.command`>

The markers carry the run's :class:`deploy.hosts.framing.Frame` nonce, so no journal line (a user's or a commit author's
name in it), folder name or REVISION can end or split the listing; :func:`parse` needs the same frame. The
revisions.log section after it prefixes every log line with its line number, so no log line can pass for its
markers either.

What crosses the wire stays small however long the host's history: the host pre-filters the journal to the lines
that name a release folder that still exists (as ``"release"`` or ``"previous"``, whatever spacing a hand edit
left) plus the last :data:`RECENT` lines, in file order; no process is started per folder. The pre-filter only
narrows: :func:`parse` on the controller decides, skipping lines that are not valid entries (torn, hand-edited
beyond repair). Read with :meth:`deploy.hosts.connector.HostConnection.read`, never through an output tail.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field

from deploy.capistrano import revisions_log
from deploy.hosts import framing, journal, remote

q = shlex.quote

NONE = "-"
RECENT = 500  # journal lines always read, besides those of releases that still exist

# The journal pre-filter: the first pass counts lines, the second prints the last ``recent`` ones and every line
# whose "release" or "previous" value (split at the double quotes, so a hand edit's spacing does not matter) is an
# existing release; names arrive newline-separated in SHIPBOT_RELEASES, never inside the program text.
_AWK = r"""
BEGIN {
    n = split(ENVIRON["SHIPBOT_RELEASES"], names, "\n")
    for (i = 1; i <= n; i++) if (names[i] != "") existing[names[i]] = 1
}
FNR == NR { total = FNR; next }
{
    keep = FNR > total - recent
    if (!keep) {
        n = split($0, part, "\"")
        for (i = 2; i + 2 <= n && !keep; i++)
            keep = (part[i] == "release" || part[i] == "previous") && part[i + 1] ~ /^[ \t]*:[ \t]*$/ \
                && (part[i + 2] in existing)
    }
    if (keep) print
}
"""


def markers(frame: framing.Frame) -> tuple[str, str, str]:
    """The listing's start, journal and end marker lines."""
    return frame.marker("listing"), frame.marker("journal"), frame.marker("listing-end")


def command(deploy_to: str, frame: framing.Frame, recent: int = RECENT) -> str:
    """The listing of the host whose layout is under ``deploy_to`` (every value quoted), framed by ``frame``."""
    start, journal_marker, end = markers(frame)
    d = q(deploy_to)
    log = q(remote.journal_path(deploy_to))
    links = " ".join(f'"$d"/{c}' for c in ("blue", "green"))
    return (
        f"d={d}; names=; echo {start}; "
        f'if t=$(readlink "$d"/current 2>/dev/null); then t=${{t%/}}; printf \'current\\t%s\\n\' "${{t##*/}}"; '
        f"else printf 'current\\t%s\\n' {NONE}; fi; "
        f'for r in "$d"/releases/*; do [ -d "$r" ] || continue; n=${{r##*/}}; s={NONE}; '
        f'[ -f "$r/REVISION" ] && {{ read -r s < "$r/REVISION" || true; }}; '
        f'printf \'release\\t%s\\t%s\\n\' "$n" "${{s:-{NONE}}}"; names="$names$n\n"; done; '
        f'for l in {links}; do t=$(readlink "$l" 2>/dev/null) && printf \'pinned\\t%s\\n\' "${{t##*/}}"; done; '
        f"echo {journal_marker}; "
        f"if [ -f {log} ]; then SHIPBOT_RELEASES=$names awk -v recent={int(recent)} {q(_AWK)} {log} {log}; fi; "
        f"echo {end}; {revisions_log.command(deploy_to)}"
    )


@dataclass(frozen=True)
class ReleaseListing:
    current: str | None  # the release ``current`` points to, as read from the link
    releases: frozenset[str]  # every folder under releases/
    pinned: frozenset[str] = frozenset()  # releases a blue/green colour link points to
    entries: tuple[journal.Entry, ...] = ()  # valid journal lines (pre-filtered on the host), in file order
    revisions: Mapping[str, str] = field(default_factory=dict)  # release -> its REVISION (folders that have one)
    capistrano: revisions_log.RevisionsLog | None = None  # the host's revisions.log (None: not read)

    def rollback_target(self, current: str | None) -> journal.Entry | None:
        """The release a rollback from ``current`` goes to: a successful deploy whose folder still holds its SHA,
        from the journal first, then from Capistrano's revisions.log."""
        return revisions_log.rollback_target(
            self.capistrano, list(self.entries), current, set(self.releases), self.revisions
        )

    def find(self, wanted: str) -> journal.Entry | None:
        """A release by id or SHA (``rollback --to``) whose folder still holds that SHA."""
        return revisions_log.find(self.capistrano, list(self.entries), wanted, set(self.releases), self.revisions)

    def history(self) -> dict[str, tuple[str, str]]:
        """Release -> (whose history records its deploy: shipbot or capistrano, who deployed it)."""
        cap = self.capistrano.entries() if self.capistrano else []
        deploys = [*cap, *self.entries]  # the journal's word last, so it wins
        return {e.release: ("capistrano" if e in cap else "shipbot", e.user) for e in deploys if e.action == "deploy"}


def parse(output: str, frame: framing.Frame) -> ReleaseListing | None:
    """:func:`command`'s output (built with ``frame``) read back; None when it is not whole (no start or no end
    marker, or no journal marker between them)."""
    start, journal_marker, end = markers(frame)
    body = framing.lines_between(output.split("\n"), start, end)
    if body is None or journal_marker not in body:
        return None
    at = body.index(journal_marker)
    head, journal_lines = body[:at], body[at + 1 :]
    current: str | None = None
    releases: set[str] = set()
    pinned: set[str] = set()
    revisions: dict[str, str] = {}
    for line in head:
        kind, _, rest = line.partition("\t")
        if kind == "current":
            current = None if rest in (NONE, "") else rest
        elif kind == "release":
            name, _, sha = rest.partition("\t")
            if name:
                releases.add(name)
                if sha and sha != NONE:
                    revisions[name] = sha
        elif kind == "pinned" and rest:
            pinned.add(rest)
    entries = tuple(journal.parse("\n".join(journal_lines)))
    cap = revisions_log.parse_output(output)
    return ReleaseListing(current, frozenset(releases), frozenset(pinned), entries, revisions, cap)
