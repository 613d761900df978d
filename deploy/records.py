"""Plain records the engine returns and the store keeps: runs, locks, host status (pure data)."""

from __future__ import annotations

from dataclasses import dataclass, field

from deploy.fleet import drift as convergence
from deploy.fleet.drift import Live


@dataclass(frozen=True)
class RunRecord:
    """One deploy, rollback or task run as the store keeps it."""

    run_id: str
    kind: str  # deploy | rollback | task
    app: str
    environment: str
    user: str
    ref: str
    sha: str
    release: str
    state: str  # running | success | failed | cancelled | interrupted
    started_at: float
    finished_at: float | None = None
    message: str = ""
    hosts: int = 0
    forced: bool = False
    # running, but its controller missed its heartbeats: (seconds since it last answered, seconds until its lease
    # runs out and it is taken over); None while it answers (deploy.store.leases)
    stalled: tuple[float, float] | None = None

    @property
    def running(self) -> bool:
        return self.state == "running"

    @property
    def duration(self) -> float | None:
        return None if self.finished_at is None else self.finished_at - self.started_at


@dataclass(frozen=True)
class LockRecord:
    """A person's lock on an environment: only the owner (or an admin, recorded) unlocks it."""

    environment: str
    owner: str
    reason: str
    since: float
    expires_at: float | None = None

    def expired(self, now: float) -> bool:
        """The one rule for when a lock ends: it has an end and ``now`` has reached it (an expired lock is no lock)."""
        return self.expires_at is not None and self.expires_at <= now


@dataclass(frozen=True)
class ColourStatus:
    """One colour of a blue/green host: the release its folder holds, that release's SHA, its port, and whether
    its app answers there."""

    release: str | None
    sha: str | None
    port: int
    running: bool


@dataclass(frozen=True)
class ReleaseRow:
    """One release folder on a host, as ``status`` lists it."""

    release: str
    sha: str | None  # its REVISION (None: the folder has none, so it is never a rollback target)
    history: str = ""  # shipbot | capistrano: whose history records its deploy ("": none does)
    user: str = ""  # who deployed it, as that history says
    rollback_target: bool = False  # where ``rollback`` would go from the host's current release

    def as_json(self) -> dict[str, object]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class HostStatus:
    address: str
    reachable: bool
    release: str | None = None
    sha: str | None = None
    error: str = ""
    colour: str | None = None  # blue/green: the live colour (None elsewhere, or before the first deploy)
    colours: dict[str, ColourStatus] = field(default_factory=dict)  # blue/green: "blue" and "green"
    source: str = "static"  # how the host was found: static, dns_srv:NAME, command:CMD
    behind: bool = False  # reachable, and without the environment's live release (deploy.fleet.drift)
    releases: tuple[ReleaseRow, ...] = ()  # every release folder, newest first (hosts whose listing was read)
    name: str = ""  # how people see the host (its name in the config, its SRV target); ``address`` when unnamed
    flags_behind: bool = False  # reachable, and its feature flag file is not the environment's current one

    @property
    def label(self) -> str:
        return self.name or self.address


@dataclass(frozen=True)
class EnvironmentStatus:
    app: str
    environment: str
    hosts: tuple[HostStatus, ...] = field(default_factory=tuple)
    active_run: RunRecord | None = None
    lock: LockRecord | None = None
    live: Live | None = None  # the release the last successful deploy or rollback put live

    @property
    def consistent(self) -> bool:
        """Every host reachable and on the same SHA, and none behind the live release (when one is known)."""
        return convergence.consistent(
            [convergence.HostView(h.address, h.reachable, h.sha) for h in self.hosts], self.live
        )

    @property
    def behind(self) -> list[HostStatus]:
        return [h for h in self.hosts if h.behind]

    def as_json(self) -> dict[str, object]:
        return {
            "environment": self.environment,
            "consistent": self.consistent,
            "hosts": [_host_json(h) for h in self.hosts],
        }


def _host_json(h: HostStatus) -> dict[str, object]:
    out: dict[str, object] = {
        "address": h.address, "name": h.label, "release": h.release, "sha": h.sha, "reachable": h.reachable,
        "source": h.source, "behind": h.behind,
    }  # fmt: skip
    if h.releases:  # hosts whose release listing was read
        out["releases"] = [r.as_json() for r in h.releases]
    if h.colours:  # blue/green environments only
        out["colour"] = h.colour
        out["colours"] = {
            name: {"release": c.release, "sha": c.sha, "port": c.port, "running": c.running}
            for name, c in h.colours.items()
        }
    return out


@dataclass(frozen=True)
class Commit:
    sha: str
    author: str
    subject: str


@dataclass(frozen=True)
class Shipment:
    """What a deploy of ``sha`` over ``live_sha`` (what runs now; ``None`` before the first deploy) ships: the
    commits between them (newest first), the page comparing them on the repository's host, and whether ``sha``
    is older than what is live (an ancestor of it: the deploy goes back in history; the page then shows what
    goes away)."""

    live_sha: str | None
    sha: str
    commits: tuple[Commit, ...] = ()
    compare_url: str | None = None
    older: bool = False
