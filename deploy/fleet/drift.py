"""Which hosts are behind the environment's live release, whether it is consistent, and which release a rollback
would go to (pure).

The live release is the one the environment's last successful deploy or rollback put live (the store's runs). A
reachable host with no release, or on another SHA, is *behind*; a host that could not be reached is not known to
be behind (it is reported unreachable). Without a known live release an environment is consistent when every host
is reachable and on one SHA; with one, when besides that no host is behind.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol


class RunRecord(Protocol):
    """What these rules read of a run (:class:`deploy.records.RunRecord` has it)."""

    @property
    def kind(self) -> str: ...
    @property
    def state(self) -> str: ...
    @property
    def release(self) -> str: ...
    @property
    def sha(self) -> str: ...
    @property
    def started_at(self) -> float: ...


@dataclass(frozen=True)
class Live:
    release: str
    sha: str


@dataclass(frozen=True)
class HostView:
    """What status read from one host (the part these rules need)."""

    name: str
    reachable: bool
    sha: str | None


def live_release(last_success: RunRecord | None) -> Live | None:
    """The release the last successful deploy or rollback put live (None before any, or when it recorded none)."""
    if last_success is None or not last_success.release or not last_success.sha:
        return None
    return Live(last_success.release, last_success.sha)


def is_behind(host: HostView, live: Live | None) -> bool:
    return live is not None and host.reachable and host.sha != live.sha


def behind(hosts: Iterable[HostView], live: Live | None) -> list[str]:
    """The names of the hosts that are behind ``live``, in order."""
    return [h.name for h in hosts if is_behind(h, live)]


def consistent(hosts: Sequence[HostView], live: Live | None) -> bool:
    shas = {h.sha for h in hosts}
    same = all(h.reachable for h in hosts) and len(shas) == 1 and None not in shas
    return same and not behind(hosts, live)


def previous_release(runs: Iterable[RunRecord]) -> Live | None:
    """The release a rollback would go to, from the environment's successful runs (any order): the newest
    successful deploy that is not live and was never rolled back from, as each host's journal decides it
    (:func:`deploy.hosts.journal.rollback_target`)."""
    done = sorted(
        (r for r in runs if r.state == "success" and r.kind in ("deploy", "rollback") and r.release and r.sha),
        key=lambda r: r.started_at,
    )
    live: RunRecord | None = None
    bad: set[str] = set()
    deploys: list[RunRecord] = []
    for r in done:
        if r.kind == "rollback" and live is not None:
            bad.add(live.release)
        else:
            deploys.append(r)
        live = r
    if live is None:
        return None
    for r in reversed(deploys):
        if r.release != live.release and r.release not in bad:
            return Live(r.release, r.sha)
    return None
