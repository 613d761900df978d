"""Every row a run has in the store: what a write by a process that no longer holds the run would change."""

from __future__ import annotations

from deploy.store.tables import Store

RUN_TABLES = (
    "runs", "active_runs", "leases", "host_steps", "host_outcomes", "run_hosts", "run_processes", "run_waits",
)  # fmt: skip


def rows_of(store: Store, run_id: str) -> dict[str, list[tuple[object, ...]]]:
    """The run's rows in every table a run writes, and when each of its control requests was taken."""
    db = store.db
    out = {
        t: sorted(db.execute(f"SELECT * FROM {t} WHERE run_id = ?", (run_id,)).fetchall(), key=repr) for t in RUN_TABLES
    }
    out["control_requests"] = db.execute(
        "SELECT id, handled_at FROM control_requests WHERE run_id = ? ORDER BY id", (run_id,)
    ).fetchall()
    return out
