"""The freeze windows' transitions told to the sinks (``freeze_marks``): one row per (app, environment, event,
window start), so that of several replicas noticing a freeze begin or end, exactly one writes its event; and the
permalink of each run's message (``run_places.permalink``, the events' ``url``). Expand only: a new table and a
nullable column.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    if "freeze_marks" not in set(sa.inspect(bind).get_table_names()):
        op.create_table(
            "freeze_marks",
            sa.Column("app", sa.Text, primary_key=True),
            sa.Column("environment", sa.Text, primary_key=True),
            sa.Column("event", sa.Text, primary_key=True),
            sa.Column("window_start", sa.Double, primary_key=True),
            sa.Column("reason", sa.Text, nullable=False, server_default=sa.text("''")),
            sa.Column("at", sa.Double, nullable=False),
        )
    if "permalink" not in {c["name"] for c in sa.inspect(bind).get_columns("run_places")}:
        op.add_column("run_places", sa.Column("permalink", sa.Text, nullable=True))


def downgrade() -> None:  # expand-first: going back one release needs no downgrade
    pass
