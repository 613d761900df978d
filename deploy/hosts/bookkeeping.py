"""The last exec of a run on each host: its journal line, the cleanup of a release that did not go live,
retention (:func:`deploy.hosts.guarded.finish`), and last what the step set retires (a blue/green host's old colour,
stopped or its stop scheduled on the host: :meth:`deploy.run.colours.ColourSwitch.retiring`), in one session.

Retention is decided on the controller by the pure rules (:mod:`deploy.hosts.retention`, :mod:`deploy.hosts.journal`)
from the release listing the host sent in the run's first exec, plus what this run added (its release, its journal
line): nothing is read again at the end. A host without that listing (a rollback, a host whose first exec failed) gets
its journal line alone. The host's removal never deletes the release ``current`` resolves to.
"""

from __future__ import annotations

from collections.abc import Callable

from deploy.capistrano import revisions_log
from deploy.hosts import guarded, journal
from deploy.hosts.listing import ReleaseListing
from deploy.hosts.retention import releases_to_delete
from deploy.run.fanout import every
from deploy.run.hostrun import HostRun
from deploy.run.steps import JournalLine, RunSteps


def doomed_after(listing: ReleaseListing, added: str | None, entry: journal.Entry | None, keep: int) -> list[str]:
    """The releases retention removes once this run's release ``added`` and journal ``entry`` are in (pure)."""
    releases = set(listing.releases) | ({added} if added else set())
    entries = [*listing.entries, *([entry] if entry else [])]
    went_live = entry is not None and entry.outcome == "success" and added is not None
    current = added if went_live else listing.current  # where ``current`` points once this run has ended
    target = revisions_log.rollback_target(listing.capistrano, entries, current, releases, listing.revisions)
    protected = [current, target.release if target else None, *listing.pinned]
    return releases_to_delete(releases, keep, protected)


async def finish_hosts(
    steps: RunSteps,
    runs: list[HostRun],
    line: JournalLine,
    outcome_for: Callable[[HostRun], str | None],
    *,
    keep: int | None = None,
    discard: Callable[[HostRun], bool] = lambda _hr: False,
    keep_failed: bool = False,
    then: Callable[[HostRun], str | None] = lambda _hr: None,
) -> None:
    """Per connected host, one exec: the journal line ``outcome_for`` gives (None: no line), the run's release
    removed (or marked failed with ``keep_failed``) where ``discard`` says so, retention down to ``keep``
    releases on hosts that went live (``keep`` None: no retention), then the host's ``then`` command (None: none),
    which has a command timeout of its own on top of the bookkeeping's."""

    async def one(hr: HostRun) -> None:
        if hr.conn is None:
            return
        outcome = outcome_for(hr)
        entry = None
        if outcome:
            entry = journal.entry(
                action=line.action, run=steps.run_id, user=line.user, sha=line.sha, release=line.release,
                previous=hr.previous, outcome=outcome,
            )  # fmt: skip
        doomed: list[str] = []
        mark = None
        if discard(hr):
            if keep_failed:
                mark = line.release
            else:
                doomed.append(line.release)
        elif keep is not None and hr.listing is not None and outcome == "success":
            doomed = doomed_after(hr.listing, line.release, entry, keep)
        extra = line.capistrano_commands(hr.host.deploy_to, hr.previous) if outcome == "success" else []
        if mark and line.capistrano:
            extra.append(revisions_log.oldest(hr.host.deploy_to, mark))
        last = then(hr)
        if entry is None and not doomed and mark is None and last is None:
            return
        command = guarded.finish(hr.host.deploy_to, entry.to_line() if entry else None, doomed, mark)
        await steps.quiet(hr, *guarded.with_last([command, *extra], last, steps.timeouts.command))

    await every(one(hr) for hr in runs)
