"""Which forge deployment a run answers to: one row per run a GitHub ``deployment`` event started (table
``forge_runs``, migration ``0010``), written before the run is asked for, so the statuses of the run (queued, in
progress, success, failure, error) reach that deployment whichever process starts or ends it, after a restart too.

The repository is kept lowercased (GitHub compares owner/name without case). A deployment has at most one run (a
unique index on provider, repository and deployment id): :meth:`ForgeRuns.record` answers True to exactly one run.
``state`` is the last status written to the outbox (:meth:`deploy.notify.outbox.Outbox.tell_deployment`, and the
run's start and end in :meth:`~deploy.notify.outbox.Outbox.add_for_run`, each in the transaction that moves it), so
a status is never written twice nor out of order (:meth:`ForgeRuns.advance` moves it forward by compare-and-set) and
a final one is never followed by another.
"""

from __future__ import annotations

from dataclasses import dataclass

from deploy.store.statements import Executor

FINAL = ("success", "failure", "error", "inactive")
RUN_STATES = {"run.started": "in_progress", "run.succeeded": "success", "run.failed": "failure",
              "run.cancelled": "error", "run.interrupted": "error"}  # fmt: skip  # a run's event: its status
RANK = {"": 0, "pending": 1, "queued": 1, "in_progress": 2, **dict.fromkeys(FINAL, 3)}  # the order statuses go in


@dataclass(frozen=True)
class DeploymentTarget:
    """A forge's deployment a run reports to."""

    provider: str  # github
    repo: str  # owner/name
    deployment_id: str
    app: str
    environment: str


class ForgeRuns:
    def __init__(self, db: Executor) -> None:
        self._db = db

    def record(self, run_id: str, target: DeploymentTarget) -> bool:
        """Write down that ``run_id`` answers to ``target``: True when ``run_id`` is the deployment's run (written
        now, or before by the same run asking again), False when another run has it."""
        cur = self._db.execute(
            "INSERT INTO forge_runs (run_id, provider, repo, deployment_id, app, environment, state, created_at) "
            f"VALUES (?, ?, ?, ?, ?, ?, '', {self._db.now}) ON CONFLICT DO NOTHING",
            (run_id, target.provider, target.repo.lower(), target.deployment_id, target.app, target.environment),
        )
        return cur.rowcount == 1 or self.run_for(target.provider, target.repo, target.deployment_id) == run_id

    def run_for(self, provider: str, repo: str, deployment_id: str) -> str | None:
        """The run a deployment started, if one was asked for."""
        row = self._db.execute(
            "SELECT run_id FROM forge_runs WHERE provider = ? AND repo = ? AND deployment_id = ?",
            (provider, repo.lower(), deployment_id),
        ).fetchone()
        return str(row[0]) if row else None

    def target_of(self, run_id: str) -> DeploymentTarget | None:
        row = self._db.execute(
            "SELECT provider, repo, deployment_id, app, environment FROM forge_runs WHERE run_id = ?", (run_id,)
        ).fetchone()
        return DeploymentTarget(*(str(v) for v in row)) if row else None

    def state(self, run_id: str) -> str | None:
        row = self._db.execute("SELECT state FROM forge_runs WHERE run_id = ?", (run_id,)).fetchone()
        return str(row[0]) if row else None

    def advance(self, run_id: str, state: str) -> bool:
        """Move the run's reported state forward to ``state`` (queued, then in_progress, then a final one): True for
        the one caller that moves it; never back, never twice to one state, never on from a final state."""
        rank = RANK.get(state, len(RANK))
        before = [name for name, r in RANK.items() if r < rank]
        marks = ", ".join("?" * len(before))
        cur = self._db.execute(
            f"UPDATE forge_runs SET state = ? WHERE run_id = ? AND state IN ({marks})", (state, run_id, *before)
        )
        return cur.rowcount == 1

    def ended_unreported(self, older_than: float, limit: int = 50) -> list[tuple[str, str, str]]:
        """``(run_id, app, request state)`` of runs whose request ended without starting (``rejected``,
        ``expired``, ``cancelled``, ``dropped`` in ``waiting_requests``) at least ``older_than`` seconds ago while
        their deployment was told no final status: the process that ended it stopped before writing it."""
        rows = self._db.execute(
            "SELECT f.run_id, f.app, w.state FROM forge_runs f JOIN waiting_requests w ON w.run_id = f.run_id "
            "WHERE f.state IN ('', 'pending', 'queued', 'in_progress') "
            "AND w.state IN ('rejected', 'expired', 'cancelled', 'dropped') "
            f"AND w.updated_at < {self._db.now} - ? ORDER BY w.updated_at LIMIT ?",
            (older_than, limit),
        ).fetchall()
        return [(str(r[0]), str(r[1]), str(r[2])) for r in rows]
