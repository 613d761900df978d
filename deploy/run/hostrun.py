"""What a run knows about one host while it runs (mutable, owned by the runner and its step sets)."""

from __future__ import annotations

from dataclasses import dataclass

from deploy.events import HostState
from deploy.hosts.bluegreen import ColourProbe
from deploy.hosts.connector import HostConnection
from deploy.hosts.listing import ReleaseListing
from deploy.run.plan import Host


@dataclass
class HostRun:
    host: Host
    conn: HostConnection | None = None
    state: HostState = HostState.PENDING
    previous: str | None = None  # release ``current`` pointed to before the run
    previous_sha: str | None = None
    created: bool = False  # this run created its release dir here
    switched: bool = False
    maybe_switched: bool = False  # the switch command was sent and its answer never came: treat as switched
    target: str | None = None  # the release this run switches the host to
    listing: ReleaseListing | None = None  # the release listing read in the run's first exec on the host
    colours: ColourProbe | None = None  # a blue/green host's colours, read in the run's first exec (or its probe)
    failed_step: str | None = None
    error: str = ""
    output: str = ""
    lost: bool = False  # the last failed step failed because the SSH connection dropped

    @property
    def failed(self) -> bool:
        return self.failed_step is not None


def failures(runs: list[HostRun]) -> list[HostRun]:
    return [hr for hr in runs if hr.failed]
