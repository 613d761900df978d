"""Control requests (Cancel, Continue, Abort for a run another process holds) and the bots serving from the store.
Expand only: new tables, created where missing.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    present = set(sa.inspect(bind).get_table_names())
    if "control_requests" not in present:
        op.create_table(
            "control_requests",
            sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), sa.Identity(), primary_key=True),
            sa.Column("run_id", sa.Text, nullable=False),
            sa.Column("action", sa.Text, nullable=False),
            sa.Column("who", sa.Text, nullable=False),
            sa.Column("at", sa.Double, nullable=False),
            sa.Column("handled_at", sa.Double, nullable=True),
        )
    if "control_requests_run" not in {i["name"] for i in sa.inspect(bind).get_indexes("control_requests")}:
        op.create_index("control_requests_run", "control_requests", ["run_id", "handled_at"])
    if "bot_presence" not in present:
        op.create_table(
            "bot_presence",
            sa.Column("owner", sa.Text, primary_key=True),
            sa.Column("seen_at", sa.Double, nullable=False),
        )


def downgrade() -> None:
    op.drop_table("bot_presence")
    op.drop_table("control_requests")
