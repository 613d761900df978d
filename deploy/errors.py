"""The engine's error tree.

::

    ShipbotError                      base of everything the engine raises on purpose
    ├── ConfigError                   the config file is malformed (names file, key path, expectation)
    ├── UsageError                    unknown environment, bad host filter, bad ref name
    │   ├── PromotionRefused          the commit has not passed the environment's promote_from first
    │   └── RefNotFound               the ref is well-formed but the repository has no such ref
    ├── EnvironmentBusy               another run holds the environment (names who deploys what)
    ├── EnvironmentLocked             someone locked the environment (names who, why and since)
    ├── RepositoryError               the controller could not fetch or read the repository
    ├── HostError                     a step failed on a host (names host and step, carries exit status and output)
    │   └── HostUnreachable           connecting or authenticating failed (includes host key mismatch)
    ├── NothingToRollBack             the journal holds no earlier good release
    └── StoreError                    the store's database refused a statement (a bug or a broken schema)
        ├── StoreUnavailable          the database did not answer in time (down, restarting, a lock held too long)
        └── StoreConflict             a unique key or constraint refused a write (a claim someone else made first)

Lower-level errors (asyncssh, subprocess) are mapped to these at one boundary with ``raise ... from``; the database's
(SQLAlchemy, psycopg, sqlite3) in :mod:`deploy.store.database`'s facade, the one place statements run.
Every message says what happened, where, and what to do.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from deploy.delivery.promotion import PromotionBlock


class ShipbotError(Exception):
    """Base class: ``str(err)`` is a complete, user-facing sentence."""

    exit_code: int = 2


class ConfigError(ShipbotError):
    """The config file is malformed. ``str()`` names the file, the key path and what was expected."""

    def __init__(self, file: str, problems: list[str]) -> None:
        self.file = file
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"{file}: invalid config\n{lines}")


class UsageError(ShipbotError):
    """The request does not fit the config: unknown environment, bad filter, malformed ref."""


class PromotionRefused(UsageError):
    """The environment takes only commits deployed successfully to another one first (``promote_from``), and this
    one was not; ``block`` says which rule and where the commit has been (the chat side and the CLI word it)."""

    def __init__(self, block: PromotionBlock) -> None:
        self.block = block
        seen = ", ".join(block.seen_on) or "nowhere"
        super().__init__(
            f"{block.environment} takes only commits deployed successfully to {block.source} first "
            f"(environments.{block.environment}.promote_from); {block.sha[:7]} is on: {seen}"
        )


class RefNotFound(UsageError):
    """The ref is well-formed but does not exist in the repository."""


class EnvironmentBusy(ShipbotError):
    """Another run is in flight in this environment."""

    exit_code = 3

    def __init__(
        self, environment: str, run_id: str, user: str, what: str, stalled: tuple[float, float] | None = None
    ) -> None:
        self.environment = environment
        self.run_id = run_id
        self.user = user
        self.what = what
        self.stalled = stalled  # (seconds since its controller last answered, seconds until it is taken over)
        if stalled is None:
            super().__init__(
                f"{environment} is busy: {user} is deploying {what} (run {run_id}). Try again when it ends."
            )
            return
        super().__init__(f"{stalled_run(environment, run_id, user, what, stalled)}. Try again then.")


def stalled_run(environment: str, run_id: str, user: str, what: str, stalled: tuple[float, float]) -> str:
    """Words for an environment held by a run whose controller missed its heartbeats: (silent for, taken over in)
    seconds. The one wording, for the command line and for chat."""
    silent, left = stalled
    at = datetime.fromtimestamp(time.time() + left, UTC).strftime("%H:%M:%S UTC")
    return (
        f"{environment} is held by run {run_id} ({user}: {what}), whose controller stopped answering {silent:.0f}s "
        f"ago; the run is taken over and repaired at {at} (in {left:.0f}s) unless it answers first"
    )


class EnvironmentLocked(ShipbotError):
    """The environment is locked by someone else."""

    exit_code = 3

    def __init__(self, environment: str, owner: str, reason: str, since: str) -> None:
        self.environment = environment
        self.owner = owner
        self.reason = reason
        self.since = since
        super().__init__(
            f"{environment} is locked by {owner} since {since}: {reason or 'no reason given'}. Ask them to unlock it."
        )


class DiscoveryError(ShipbotError):
    """A source under ``discover:`` could not give hosts (or they found none): the run does not start."""


class NothingToConverge(ShipbotError):
    """Every reachable host already runs the live release (not a failure)."""

    exit_code = 0


class RepositoryError(ShipbotError):
    """The controller could not fetch or read the repository."""

    exit_code = 1


class HostError(ShipbotError):
    """A step failed on a host."""

    exit_code = 1

    def __init__(self, host: str, step: str, message: str, exit_status: int | None = None, output: str = "") -> None:
        self.host = host
        self.step = step
        self.exit_status = exit_status
        self.output = output
        super().__init__(f"{host}: {step} failed: {message}")


class HostUnreachable(HostError):
    """Connecting or authenticating to a host failed, including a host key that is unknown or changed."""


class NothingToRollBack(ShipbotError):
    """No earlier good release is recorded for this environment."""

    exit_code = 1


class LeaseLost(ShipbotError):
    """This process lost the run's lease (it was stopped or cut off past it): another shipbot repairs the run."""

    exit_code = 1

    def __init__(self, run_id: str) -> None:
        super().__init__(f"run {run_id} lost its lease: another shipbot took it over and repairs the fleet")


class HandedOver(LeaseLost):
    """Stopped while the run waited for a person and left it to the next shipbot (which keeps it waiting)."""

    exit_code = 0

    def __init__(self, run_id: str) -> None:
        ShipbotError.__init__(
            self, f"run {run_id} waits for a person; handed to the next shipbot, which keeps it waiting"
        )


class StoreError(ShipbotError):
    """The store's database refused a statement: not something a retry fixes (a bug, or a schema not migrated)."""

    exit_code = 1


class StoreUnavailable(StoreError):
    """The store's database did not answer within ``SHIPBOT_DB_STATEMENT_TIMEOUT`` (it is down, restarting, out of
    reach, or a lock was held too long); try again in a moment."""

    def __init__(self, where: str, reason: str) -> None:
        self.where = where
        self.reason = reason
        super().__init__(f"the database ({where}) failed: {reason}. The store is not answering; try again in a moment")


class StoreConflict(StoreError):
    """A unique key or a constraint refused a write: someone made the same claim first."""
