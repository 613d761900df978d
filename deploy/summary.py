"""The one-line messages a run ends with (pure): who failed, how many more, and where the fleet stands.

Every ``RunFinished.message`` of a deploy, a rollback or a task is written here, so "and N more host(s)" and
the failure line of a host are spelled once.
"""

from __future__ import annotations

from collections.abc import Sequence

from deploy.hostrun import HostRun


def failure(hr: HostRun) -> str:
    """``host: step failed: why``."""
    return f"{hr.host.name}: {hr.failed_step} failed: {hr.error}"


def first_failure(failed: Sequence[HostRun]) -> str:
    """The first failed host in full, and how many more failed."""
    more = f" (and {len(failed) - 1} more host(s))" if len(failed) > 1 else ""
    return failure(failed[0]) + more


def failure_list(failed: Sequence[HostRun], limit: int = 5) -> str:
    """Up to ``limit`` failed hosts in full, then how many more."""
    text = "; ".join(failure(hr) for hr in failed[:limit])
    return text + (f"; and {len(failed) - limit} more" if len(failed) > limit else "")


def live_on_all(app: str, sha: str, environment: str, hosts: int) -> str:
    return f"{app} {sha[:12]} is live on all {hosts} hosts of {environment}"


def deploy_success(
    app: str, sha: str, environment: str, runs: Sequence[HostRun], failed: Sequence[HostRun], max_failures: int
) -> str:
    if not failed:
        return live_on_all(app, sha, environment, len(runs))
    return (
        f"{app} {sha[:12]} is live on {len(runs) - len(failed)} of {len(runs)} hosts of {environment}; "
        f"{len(failed)} host(s) failed and were put back on the previous release "
        f"(max_failures: {max_failures}): {failure_list(failed)}"
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
        head = f"cancelled; {switched_back} switched host(s) reverted"
    elif aborted:
        head = f"{aborted}; {switched_back} switched host(s) switched back"
    elif over_budget is not None:
        head = (
            f"{len(failed)} host(s) failed, more than max_failures: {over_budget} allows, so the run "
            f"stopped and every switched host was put back: {failure_list(failed)}"
        )
    else:
        head = first_failure(failed) if failed else "failed"
    tail = (
        f"; {len(stuck)} host(s) could not be switched back: {', '.join(h.host.name for h in stuck)}"
        if stuck
        else f"; {environment} is still on its previous release"
    )
    return head + tail


def task_result(name: str, runs: Sequence[HostRun], failed: Sequence[HostRun], cancelled: bool) -> str:
    if cancelled:
        return f"task {name} cancelled"
    if failed:
        return f"task {name} failed on {len(failed)} of {len(runs)} hosts: " + "; ".join(
            f"{hr.host.name}: {hr.error}" for hr in failed[:5]
        )
    return f"task {name} succeeded on all {len(runs)} hosts"
