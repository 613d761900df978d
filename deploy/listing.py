"""A host's release listing: what retention and rollback read from a host, however long its past (pure).

:func:`command` builds one ``sh`` command that prints, between a start and an end marker (so a login shell's own
lines before it, or an output cut short, are told apart)::

    shipbot-listing
    current <TAB> <release current points to, or ->
    release <TAB> <folder> <TAB> <its REVISION, or ->     one line per folder under releases/
    pinned <TAB> <release>                                   a blue/green colour link's release
    shipbot-journal
    <journal lines>
    shipbot-listing-end

What crosses the wire stays small however long the host's history: the host pre-filters the journal to the lines
that name a release folder that still exists (as ``"release"`` or ``"previous"``, whatever spacing a hand edit
left) plus the last :data:`RECENT` lines, in file order; no process is started per folder. The pre-filter only
narrows: :func:`parse` on the controller decides, skipping lines that are not valid entries (torn, hand-edited
beyond repair). Read with :meth:`deploy.ports.HostConnection.read`, never through an output tail.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field

from deploy import journal, remote

q = shlex.quote

START, JOURNAL, END = "shipbot-listing", "shipbot-journal", "shipbot-listing-end"
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


def command(deploy_to: str, recent: int = RECENT) -> str:
    """The listing of the host whose layout is under ``deploy_to`` (every value quoted)."""
    d = q(deploy_to)
    log = q(remote.journal_path(deploy_to))
    links = " ".join(f'"$d"/{c}' for c in ("blue", "green"))
    return (
        f"d={d}; names=; echo {START}; "
        f'if t=$(readlink "$d"/current 2>/dev/null); then t=${{t%/}}; printf \'current\\t%s\\n\' "${{t##*/}}"; '
        f"else printf 'current\\t%s\\n' {NONE}; fi; "
        f'for r in "$d"/releases/*; do [ -d "$r" ] || continue; n=${{r##*/}}; s={NONE}; '
        f'[ -f "$r/REVISION" ] && {{ read -r s < "$r/REVISION" || true; }}; '
        f'printf \'release\\t%s\\t%s\\n\' "$n" "${{s:-{NONE}}}"; names="$names$n\n"; done; '
        f'for l in {links}; do t=$(readlink "$l" 2>/dev/null) && printf \'pinned\\t%s\\n\' "${{t##*/}}"; done; '
        f"echo {JOURNAL}; "
        f"if [ -f {log} ]; then SHIPBOT_RELEASES=$names awk -v recent={int(recent)} {q(_AWK)} {log} {log}; fi; "
        f"echo {END}"
    )


@dataclass(frozen=True)
class ReleaseListing:
    current: str | None  # the release ``current`` points to, as read from the link
    releases: frozenset[str]  # every folder under releases/
    pinned: frozenset[str] = frozenset()  # releases a blue/green colour link points to
    entries: tuple[journal.Entry, ...] = ()  # valid journal lines (pre-filtered on the host), in file order
    revisions: Mapping[str, str] = field(default_factory=dict)  # release -> its REVISION (folders that have one)

    def rollback_target(self, current: str | None) -> journal.Entry | None:
        """The release a rollback from ``current`` goes to: a successful deploy whose folder still holds its SHA."""
        return journal.rollback_target(list(self.entries), current, set(self.releases), self.revisions)

    def find(self, wanted: str) -> journal.Entry | None:
        """A release by id or SHA (``rollback --to``) whose folder still holds that SHA."""
        return journal.find(list(self.entries), wanted, set(self.releases), self.revisions)


def parse(output: str) -> ReleaseListing | None:
    """:func:`command`'s output read back; None when it is not whole (no start or no end marker)."""
    lines = output.splitlines()
    starts = [i for i, line in enumerate(lines) if line == START]
    if not starts or END not in lines[starts[-1] :]:
        return None
    body = lines[starts[-1] + 1 : len(lines) - lines[::-1].index(END) - 1]
    head, journal_lines = body, []
    if JOURNAL in body:
        at = body.index(JOURNAL)
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
    return ReleaseListing(current, frozenset(releases), frozenset(pinned), entries, revisions)
