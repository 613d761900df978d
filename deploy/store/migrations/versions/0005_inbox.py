"""The inbox (``inbox``): every Slack command, button click and push delivery, written down with what it said before
it is acknowledged and marked answered once answered. Expand only: a new table; ``slack_deliveries`` and
``webhook_deliveries`` stay for the previous release, which still reads them.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    if "inbox" not in set(sa.inspect(bind).get_table_names()):
        op.create_table(
            "inbox",
            sa.Column("key", sa.Text, primary_key=True),
            sa.Column("kind", sa.Text, nullable=False),
            sa.Column("payload", sa.Text, nullable=False),
            sa.Column("received_at", sa.Double, nullable=False),
            sa.Column("holder", sa.Text, nullable=False),
            sa.Column("expires_at", sa.Double, nullable=False),
            sa.Column("answered_at", sa.Double, nullable=True),
            sa.Column("attempts", sa.Integer, nullable=False, server_default=sa.text("1")),
        )
    if "inbox_open" not in {i["name"] for i in sa.inspect(bind).get_indexes("inbox")}:
        op.create_index("inbox_open", "inbox", ["answered_at", "expires_at"])


def downgrade() -> None:
    op.drop_table("inbox")
