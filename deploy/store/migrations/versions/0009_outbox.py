"""The outbox: every notification for a sink other than Slack (webhooks, Teams, IRC, GitHub and GitLab deployments)
is a row written in the transaction of the event it reports, delivered in order per queue by whichever replica claims
it (:mod:`deploy.notify.outbox`); and the forges' deployment ids shipbot created, per run. Expand only: two new tables.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    # the order rows were written in: an identity column on PostgreSQL, SQLite's rowid alias elsewhere
    identity = [sa.Identity()] if postgres else []
    seq = sa.Column("seq", sa.BigInteger if postgres else sa.Integer, *identity, primary_key=True, autoincrement=True)
    op.create_table(
        "outbox",
        seq,
        sa.Column("id", sa.Text, nullable=False, unique=True),  # the notification's id, the same on every retry
        sa.Column("event_id", sa.Text, nullable=False),  # the event's id, the same for every sink told of it
        sa.Column("queue", sa.Text, nullable=False),  # delivered in order within one queue: (sink, app, environment)
        sa.Column("sink", sa.Text, nullable=False),  # webhook | teams | irc | github | gitlab
        sa.Column("target", sa.Text, nullable=False),  # the sink's settings (JSON), never a secret
        sa.Column("app", sa.Text, nullable=False),
        sa.Column("environment", sa.Text, nullable=False),
        sa.Column("type", sa.Text, nullable=False),
        sa.Column("run_id", sa.Text, nullable=True),
        sa.Column("document", sa.Text, nullable=False),  # the event (JSON, docs/events.schema.json)
        sa.Column("state", sa.Text, nullable=False, server_default=sa.text("'pending'")),
        sa.Column("attempts", sa.Integer, nullable=False, server_default=sa.text("0")),
        sa.Column("created_at", sa.Double, nullable=False),
        sa.Column("next_attempt_at", sa.Double, nullable=False),
        sa.Column("claimed_by", sa.Text, nullable=True),
        sa.Column("claimed_until", sa.Double, nullable=True),
        sa.Column("last_error", sa.Text, nullable=False, server_default=sa.text("''")),
        sa.Column("done_at", sa.Double, nullable=True),
    )
    op.create_index("outbox_pending", "outbox", ["state", "queue", "seq"])
    op.create_table(
        "forge_deployments",
        sa.Column("forge", sa.Text, nullable=False),  # github | gitlab
        sa.Column("repo", sa.Text, nullable=False),  # owner/name (GitHub), the project (GitLab)
        sa.Column("deployment_id", sa.Text, nullable=False),
        sa.Column("run_id", sa.Text, nullable=False),
        sa.Column("created_at", sa.Double, nullable=False),
        sa.PrimaryKeyConstraint("forge", "repo", "deployment_id"),
    )
    op.create_index("forge_deployments_run", "forge_deployments", ["run_id", "forge", "repo"])


def downgrade() -> None:  # expand-first: going back one release needs no downgrade
    pass
