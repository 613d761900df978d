"""Baseline: every table of the store, created where missing; older SQLite files upgraded in place.

A file written by an earlier shipbot (no ``alembic_version`` table) gets here with some or all tables present: each
table is created only when missing, and a ``locks`` table keyed by environment alone (from before locks were per
app) becomes one keyed by (app, environment), its locks kept with app ``*``.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.schema import SchemaItem

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

ANY_APP = "*"  # deploy.store.tables.ANY_APP


def _text(name: str, *, null: bool = False, default: str | None = None, pk: bool = False) -> sa.Column[str]:
    return sa.Column(
        name, sa.Text, nullable=null, primary_key=pk, server_default=None if default is None else sa.text(default)
    )


def _real(name: str, *, null: bool = False) -> sa.Column[float]:
    return sa.Column(name, sa.Double, nullable=null)


def _int(name: str, *, null: bool = False, default: str | None = None) -> sa.Column[int]:
    return sa.Column(name, sa.Integer, nullable=null, server_default=None if default is None else sa.text(default))


def _tables(postgres: bool) -> dict[str, list[SchemaItem]]:
    # PostgreSQL has no rowid: host_steps gets an identity column to keep steps in the order they were recorded
    step_id: list[SchemaItem] = [sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True)] if postgres else []
    return {
        "runs": [
            _text("run_id", pk=True), _text("kind"), _text("app"), _text("environment"), _text("user"), _text("ref"),
            _text("sha"), _text("release"), _text("state"), _real("started_at"), _real("finished_at", null=True),
            _text("message", default="''"), _int("hosts", default="0"), _int("forced", default="0"),
            _int("pid", null=True), _text("node", null=True),
        ],
        "host_steps": [
            *step_id, _text("run_id"), _text("host"), _text("step"), _int("ok"), _int("exit_status", null=True),
            _real("duration"), _text("output_tail"), _text("error", default="''"), _real("at"),
        ],
        "host_outcomes": [
            _text("run_id"), _text("host"), _text("state"), _text("release", null=True), _text("sha", null=True),
            _text("failed_step", null=True), _text("error", default="''"), sa.PrimaryKeyConstraint("run_id", "host"),
        ],
        "active_runs": [
            _text("slot", pk=True), _text("run_id"), _text("user"), _text("what"), _real("since"), _int("pid"),
            _text("node"),
        ],
        "locks": [
            _text("app"), _text("environment"), _text("owner"), _text("reason"), _real("since"),
            _real("expires_at", null=True), sa.PrimaryKeyConstraint("app", "environment"),
        ],
        "audit": [_real("at"), _text("actor"), _text("action"), _text("environment"), _text("detail")],
        "waiting_requests": [
            _text("run_id", pk=True), _text("app"), _text("environment"), _text("state"), _int("seq", default="0"),
            _text("payload"), _real("expires_at", null=True), _text("decided_by", default="''"),
            _real("decided_at", null=True), _text("channel", default="''"), _text("ts", default="''"),
            _real("updated_at"),
        ],
        "leases": [_text("run_id", pk=True), _text("owner"), _real("heartbeat_at"), _real("expires_at")],
        "run_hosts": [
            _text("run_id"), _text("host"), _text("from_release", null=True), _text("from_sha", null=True),
            _text("to_release", null=True), _text("to_sha", null=True), _text("intent", default="''"),
            sa.PrimaryKeyConstraint("run_id", "host"),
        ],
        "run_processes": [
            _text("run_id"), _text("host"), _int("pgid"), sa.PrimaryKeyConstraint("run_id", "host", "pgid"),
        ],
        "run_places": [_text("run_id", pk=True), _text("channel"), _text("message")],
        "run_waits": [_text("run_id", pk=True), _int("batch"), _text("release"), _text("sha")],
        # the Slack adapter's de-duplication of event deliveries (bot.deliveries)
        "slack_deliveries": [_text("key", pk=True), _real("at")],
    }  # fmt: skip


_INDEXES = {
    "runs_env": ("runs", ["app", "environment", "started_at"]),
    "host_steps_run": ("host_steps", ["run_id"]),
    "waiting_requests_place": ("waiting_requests", ["app", "environment", "state", "seq"]),
}


def upgrade() -> None:
    bind = op.get_bind()
    inspector = sa.inspect(bind)
    present = set(inspector.get_table_names())
    for name, columns in _tables(bind.dialect.name == "postgresql").items():
        if name not in present:
            op.create_table(name, *columns)
    if "locks" in present and "app" not in {c["name"] for c in inspector.get_columns("locks")}:
        _locks_per_app()
    for index, (table, keys) in _INDEXES.items():
        if index not in {i["name"] for i in sa.inspect(bind).get_indexes(table)}:
            op.create_index(index, table, keys)


def _locks_per_app() -> None:
    """A ``locks`` table keyed by environment alone becomes one keyed by (app, environment), app ``*``."""
    op.create_table("locks_per_app", *_tables(False)["locks"])
    op.execute(
        f"INSERT INTO locks_per_app (app, environment, owner, reason, since, expires_at) "  # noqa: S608
        f"SELECT '{ANY_APP}', environment, owner, reason, since, expires_at FROM locks"
    )
    op.drop_table("locks")
    op.rename_table("locks_per_app", "locks")
