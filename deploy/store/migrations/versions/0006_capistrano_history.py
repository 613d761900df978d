"""Capistrano's deploys and rollbacks read from hosts' revisions.log, kept for ``history``. Expand only: one new
table, created where missing.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    if "capistrano_history" in set(sa.inspect(bind).get_table_names()):
        return
    op.create_table(
        "capistrano_history",
        sa.Column("app", sa.Text, nullable=False),
        sa.Column("environment", sa.Text, nullable=False),
        sa.Column("release", sa.Text, nullable=False),
        sa.Column("action", sa.Text, nullable=False),
        sa.Column("user", sa.Text, nullable=False),
        sa.Column("sha", sa.Text, nullable=False),
        sa.Column("branch", sa.Text, nullable=False),
        sa.Column("at", sa.Double, nullable=False),
        sa.Column("host", sa.Text, nullable=False),
        sa.Column("line", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("app", "environment", "release", "action"),
    )
    op.create_index("capistrano_history_time", "capistrano_history", ["app", "environment", "at"])


def downgrade() -> None:
    op.drop_table("capistrano_history")
