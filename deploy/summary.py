"""The one-line messages a run ends with (pure): who failed, how many more, and where the fleet stands.

Every ``RunFinished.message`` of a deploy, a rollback or a task is written here, so "and N more hosts" and
the failure line of a host are spelled once; :func:`count` puts a noun in the plural its number needs, for every
sentence shipbot says.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from deploy.run.hostrun import HostRun


def count(n: int, noun: str, plural: str | None = None) -> str:
    """``1 host``, ``2 hosts``, ``0 commits``: a number and its noun, in the plural unless the number is one."""
    return f"{n} {noun if n == 1 else plural or noun + 's'}"


def failure(hr: HostRun) -> str:
    """``host: step failed: why``."""
    return f"{hr.host.label}: {hr.failed_step} failed: {hr.error}"


def first_failure(failed: Sequence[HostRun]) -> str:
    """The first failed host in full, and how many more failed."""
    more = f" (and {count(len(failed) - 1, 'more host')})" if len(failed) > 1 else ""
    return failure(failed[0]) + more


def failure_list(failed: Sequence[HostRun], limit: int = 5) -> str:
    """Up to ``limit`` failed hosts in full, then how many more."""
    text = "; ".join(failure(hr) for hr in failed[:limit])
    return text + (f"; and {len(failed) - limit} more" if len(failed) > limit else "")


def all_hosts(hosts: int) -> str:
    """``all 3 hosts``, or ``the only host`` for one."""
    return "the only host" if hosts == 1 else f"all {hosts} hosts"


def live_on_all(app: str, sha: str, environment: str, hosts: int) -> str:
    return f"{app} {sha[:12]} is live on {all_hosts(hosts)} of {environment}"


def deploy_success(
    app: str, sha: str, environment: str, runs: Sequence[HostRun], failed: Sequence[HostRun], max_failures: int
) -> str:
    if not failed:
        return live_on_all(app, sha, environment, len(runs))
    return (
        f"{app} {sha[:12]} is live on {len(runs) - len(failed)} of {len(runs)} hosts of {environment}; "
        f"{count(len(failed), 'host')} failed and {'was' if len(failed) == 1 else 'were'} put back on the "
        f"previous release (max_failures: {max_failures}): {failure_list(failed)}"
    )


def deploy_undone(
    environment: str,
    failed: Sequence[HostRun],
    stuck: Sequence[HostRun],
    switched_back: int,
    *,
    cancelled: bool,
    aborted: str,
    over_budget: int | None,
) -> str:
    """A deploy that did not go live: why, and whether every host is back (``over_budget``: the budget the
    failures went over, when that is why the run stopped)."""
    if cancelled:
        head = "cancelled; " + _back(switched_back)
    elif aborted:
        head = f"{aborted}; " + _back(switched_back)
    elif over_budget is not None:
        head = (
            f"{count(len(failed), 'host')} failed, more than max_failures: {over_budget} allows, so the run "
            f"stopped and every switched host was put back: {failure_list(failed)}"
        )
    else:
        head = first_failure(failed) if failed else "failed"
    tail = (
        f"; {count(len(stuck), 'host')} could not be switched back: {', '.join(h.host.label for h in stuck)}"
        if stuck
        else f"; {environment} is still on its previous release"
    )
    return head + tail


def _back(switched: int) -> str:
    """How many switched hosts went back: ``no host had switched``, ``the switched host went back``."""
    if switched == 0:
        return "no host had switched"
    if switched == 1:
        return "the switched host went back"
    return f"the {switched} switched hosts went back"


def task_result(name: str, runs: Sequence[HostRun], failed: Sequence[HostRun], cancelled: bool) -> str:
    if cancelled:
        return f"task {name} cancelled"
    if failed:
        return f"task {name} failed on {len(failed)} of {len(runs)} hosts: " + "; ".join(
            f"{hr.host.label}: {hr.error}" for hr in failed[:5]
        )
    return f"task {name} succeeded on {all_hosts(len(runs))}"
