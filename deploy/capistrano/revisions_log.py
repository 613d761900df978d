"""Capistrano's ``<deploy_to>/revisions.log``: its two line formats, the host command that reads it, and the
history it gives a host that Capistrano deployed (pure).

Capistrano 3.17 (``lib/capistrano/i18n.rb``, written by ``deploy:log_revision``) appends one line per deploy and
one per rollback::

    Branch main (at 1a2b3c...40 hex) deployed as release 20260101120000 by alice
    alice rolled back to release 20260101110000

A rollback line names the release gone back to; the release rolled back from is the one live before it. Lines
of any other format are skipped and reported by number (:attr:`RevisionsLog.bad`), never guessed at.

:func:`command` prints its own section of a host's output (between :data:`START` and :data:`END`, each log line
prefixed with its line number and a tab, so no log line can pass for a marker): whether the file exists, then
the last :data:`RECENT` lines and every older line that names a release folder that still exists.

Release folders are put in the order of deploys by modification time (:func:`order_command`), because
Capistrano's ``deploy:rollback`` picks the release to go back to with ``ls -xt``.
"""

from __future__ import annotations

import posixpath
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass

from deploy.hosts import journal

q = shlex.quote

REVISION_LOG_MESSAGE = "Branch {branch} (at {sha}) deployed as release {release} by {user}"
ROLLBACK_LOG_MESSAGE = "{user} rolled back to release {release}"
START, END = "shipbot-revisions", "shipbot-revisions-end"
PRESENT, ABSENT = "present", "absent"
RECENT = 500  # lines always read, besides those naming a release that still exists
OLDEST = "197001010000.00"  # touch -t stamp of a release rolled back from: last in ``ls -xt`` order
SOURCE = "capistrano"  # the ``run`` of history entries that come from revisions.log

_DEPLOY = re.compile(
    r"Branch (?P<branch>.*) \(at (?P<sha>[^ ()]*)\) deployed as release (?P<release>[^ /]+) by ?(?P<user>.*)"
)
_ROLLBACK = re.compile(r"(?P<user>.*?) ?rolled back to release (?P<release>[^ /]+)")


def path(deploy_to: str) -> str:
    return posixpath.join(deploy_to, "revisions.log")


def deploy_line(branch: str, sha: str, release: str, user: str) -> str:
    """The line Capistrano writes for a deploy (``revision_log_message``)."""
    return REVISION_LOG_MESSAGE.format(branch=_one_line(branch), sha=sha, release=release, user=_one_line(user))


def rollback_line(user: str, release: str) -> str:
    """The line Capistrano writes for a rollback (``rollback_log_message``)."""
    return ROLLBACK_LOG_MESSAGE.format(user=_one_line(user), release=release)


def _one_line(text: str) -> str:
    return " ".join(text.split())


@dataclass(frozen=True)
class Line:
    number: int  # 1-based line number in the file
    action: str  # deploy | rollback
    release: str
    user: str
    sha: str = ""  # deploy lines only
    branch: str = ""  # deploy lines only


def parse_line(number: int, text: str) -> Line | None:
    """One line of the log, or None when it is in neither of Capistrano's formats."""
    text = text.rstrip("\r")
    m = _DEPLOY.fullmatch(text)
    if m:
        return Line(number, "deploy", m["release"], m["user"], m["sha"], m["branch"])
    m = _ROLLBACK.fullmatch(text)
    if m:
        return Line(number, "rollback", m["release"], m["user"])
    return None


@dataclass(frozen=True)
class RevisionsLog:
    present: bool  # the host has a revisions.log
    lines: tuple[Line, ...] = ()  # the lines read that are in Capistrano's formats, in file order
    bad: tuple[int, ...] = ()  # numbers of the lines read that are not

    def entries(self) -> list[journal.Entry]:
        """The log as history entries in file order: deploys are successful, a rollback's ``previous`` is the
        release live before it (so :func:`deploy.hosts.journal.rollback_target` never goes back to it)."""
        out: list[journal.Entry] = []
        live: str | None = None
        shas: dict[str, str] = {}
        for line in self.lines:
            if line.action == "deploy":
                shas[line.release] = line.sha
            sha = shas.get(line.release, "")
            out.append(journal.Entry("", line.action, SOURCE, line.user, sha, line.release, live, "success"))
            live = line.release
        return out

    def warnings(self, host: str) -> list[str]:
        """One message per line that was ignored, naming the host and the line."""
        return [f"{host}: line {n} of revisions.log is not a line Capistrano writes; it was ignored" for n in self.bad]


def rollback_target(
    log: RevisionsLog | None,
    entries: list[journal.Entry],
    current: str | None,
    existing: set[str],
    revisions: Mapping[str, str],
) -> journal.Entry | None:
    """The previous good release: from shipbot's journal first, else from the order of revisions.log (a
    release never rolled back from, by shipbot or Capistrano, whose folder's REVISION is the logged SHA)."""
    found = journal.rollback_target(entries, current, existing, revisions)
    if found is not None or log is None:
        return found
    rolled_back = [e for e in entries if e.action == "rollback"]
    return journal.rollback_target([*log.entries(), *rolled_back], current, existing, revisions)


def find(
    log: RevisionsLog | None,
    entries: list[journal.Entry],
    wanted: str,
    existing: set[str],
    revisions: Mapping[str, str],
) -> journal.Entry | None:
    """A release by id or SHA (``rollback --to``): from the journal first, else a Capistrano release whose folder
    holds the logged SHA."""
    found = journal.find(entries, wanted, existing, revisions)
    if found is not None or log is None:
        return found
    return journal.find([e for e in log.entries() if e.action == "deploy"], wanted, existing, revisions)


# The filter run on the host: the first pass counts lines, the second prints the last ``recent`` ones and every
# line with a word that is an existing release, each as "<number>\t<line>"; release names arrive newline-separated
# in SHIPBOT_RELEASES, never inside the program text.
_AWK = r"""
BEGIN {
    n = split(ENVIRON["SHIPBOT_RELEASES"], names, "\n")
    for (i = 1; i <= n; i++) if (names[i] != "") existing[names[i]] = 1
}
FNR == NR { total = FNR; next }
{
    keep = FNR > total - recent
    for (i = 1; i <= NF && !keep; i++) keep = ($i in existing)
    if (keep) print FNR "\t" $0
}
"""


def command(deploy_to: str, recent: int = RECENT) -> str:
    """Print the host's revisions.log section (every value quoted)."""
    log = q(path(deploy_to))
    rels = q(posixpath.join(deploy_to, "releases"))
    return (
        f"echo {START}; if [ -f {log} ]; then echo {PRESENT}; names=; "
        f'for r in {rels}/*; do [ -d "$r" ] && names="$names${{r##*/}}\n"; done; '
        f"SHIPBOT_RELEASES=$names awk -v recent={int(recent)} {q(_AWK)} {log} {log}; "
        f"else echo {ABSENT}; fi; echo {END}"
    )


def parse_output(output: str) -> RevisionsLog | None:
    """:func:`command`'s section read back from a host's output; None when it is not there whole."""
    lines = output.splitlines()
    if START not in lines:
        return None
    at = len(lines) - 1 - lines[::-1].index(START)
    body = lines[at + 1 :]
    if END not in body or body[0] not in (PRESENT, ABSENT):
        return None
    if body[0] == ABSENT:
        return RevisionsLog(False)
    body = body[1 : body.index(END)]
    good: list[Line] = []
    bad: list[int] = []
    for row in body:
        number, tab, text = row.partition("\t")
        if not tab or not number.isdigit():
            continue
        line = parse_line(int(number), text)
        if line is None:
            bad.append(int(number))
        else:
            good.append(line)
    return RevisionsLog(True, tuple(good), tuple(bad))


def append(deploy_to: str, line: str) -> str:
    """Append one line to revisions.log, as Capistrano's ``deploy:log_revision`` does."""
    return f"printf '%s\\n' {q(line)} >> {q(path(deploy_to))}"


def oldest(deploy_to: str, release: str) -> str:
    """Make a release that never went live (kept, marked failed) the oldest, so ``ls -xt`` never picks it."""
    return f"touch -t {OLDEST} {q(posixpath.join(deploy_to, 'releases', release))} 2>/dev/null || true"


def order_command(deploy_to: str, live: str, rolled_back: str | None = None) -> str:
    """Keep release folders in the order of deploys by modification time: ``live`` newest, and a release rolled
    back from (``rolled_back``) oldest, so Capistrano's ``ls -xt`` picks what shipbot would."""
    parts = [f"touch {q(posixpath.join(deploy_to, 'releases', live))}"]
    if rolled_back and rolled_back != live:
        parts.append(f"touch -t {OLDEST} {q(posixpath.join(deploy_to, 'releases', rolled_back))}")
    return " && ".join(parts) + " 2>/dev/null || true"


SHOWN_WARNINGS = 3  # ignored lines named in a run's report; the rest are counted


def decide(layout: str, logs: Mapping[str, RevisionsLog | None]) -> tuple[bool, tuple[str, ...]]:
    """Whether a run writes Capistrano's log and folder order on its hosts (``logs``: host -> its revisions.log),
    and what its report says about it: that ``auto`` acts as ``capistrano``, and the lines it ignored."""
    found = [host for host, log in logs.items() if log is not None and log.present]
    capistrano = layout == "capistrano" or (layout == "auto" and bool(found))
    notes: list[str] = []
    if layout == "auto" and found:
        notes.append(
            f"layout auto acts as capistrano: {', '.join(sorted(found))} "
            f"{'has' if len(found) == 1 else 'have'} Capistrano's revisions.log, which this run appends to"
        )
    warnings = [w for host, log in sorted(logs.items()) if log is not None for w in log.warnings(host)]
    notes += warnings[:SHOWN_WARNINGS]
    if len(warnings) > SHOWN_WARNINGS:
        notes.append(f"{len(warnings) - SHOWN_WARNINGS} more lines of revisions.log were ignored")
    return capistrano, tuple(notes)
