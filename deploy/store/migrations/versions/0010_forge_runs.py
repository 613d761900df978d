"""The runs a forge's deployment started (``forge_runs``): which GitHub deployment each run answers to, so the
run's statuses reach that deployment whichever process ends the run. Expand only: a new table.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    if "forge_runs" not in set(sa.inspect(bind).get_table_names()):
        op.create_table(
            "forge_runs",
            sa.Column("run_id", sa.Text, primary_key=True),
            sa.Column("provider", sa.Text, nullable=False),
            sa.Column("repo", sa.Text, nullable=False),
            sa.Column("deployment_id", sa.Text, nullable=False),
            sa.Column("app", sa.Text, nullable=False),
            sa.Column("environment", sa.Text, nullable=False),
            sa.Column("state", sa.Text, nullable=False, server_default=sa.text("''")),
            sa.Column("created_at", sa.Double, nullable=False),
        )
        op.create_index("forge_runs_deployment", "forge_runs", ["provider", "repo", "deployment_id"], unique=True)


def downgrade() -> None:  # expand-first: going back one release needs no downgrade
    pass
