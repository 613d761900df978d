"""Feature flags (``flags``, ``flag_history``, ``flag_sets``): each flag's current definition per app and
environment, every change to it kept (who, when, from what to what, from chat or the CLI, why), and each flag set's
version, which the flagd file on the hosts carries; ``flag_files``: the file each host last acknowledged (its
sha256), so a file edited by hand is told apart from one that is only behind. Expand only: new tables.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    tables = set(sa.inspect(op.get_bind()).get_table_names())
    if "flag_sets" not in tables:
        op.create_table(
            "flag_sets",
            sa.Column("app", sa.Text, primary_key=True),
            sa.Column("environment", sa.Text, primary_key=True),
            sa.Column("version", sa.Integer, nullable=False),
        )
    if "flags" not in tables:
        op.create_table(
            "flags",
            sa.Column("app", sa.Text, primary_key=True),
            sa.Column("environment", sa.Text, primary_key=True),
            sa.Column("flag", sa.Text, primary_key=True),
            sa.Column("definition", sa.Text, nullable=False),
            sa.Column("changed_by", sa.Text, nullable=False),
            sa.Column("changed_at", sa.Double, nullable=False),
            sa.Column("version", sa.Integer, nullable=False),
        )
    if "flag_history" not in tables:
        op.create_table(
            "flag_history",
            sa.Column("app", sa.Text, primary_key=True),
            sa.Column("environment", sa.Text, primary_key=True),
            sa.Column("version", sa.Integer, primary_key=True),
            sa.Column("flag", sa.Text, nullable=False),
            sa.Column("actor", sa.Text, nullable=False),
            sa.Column("at", sa.Double, nullable=False),
            sa.Column("source", sa.Text, nullable=False),
            sa.Column("action", sa.Text, nullable=False),
            sa.Column("before", sa.Text, nullable=True),
            sa.Column("after", sa.Text, nullable=False),
            sa.Column("reason", sa.Text, nullable=False, server_default=sa.text("''")),
            sa.Column("forced", sa.Integer, nullable=False, server_default=sa.text("0")),
        )
        op.create_index("flag_history_flag", "flag_history", ["app", "flag", "at"])
    if "flag_files" not in tables:
        op.create_table(
            "flag_files",
            sa.Column("app", sa.Text, primary_key=True),
            sa.Column("environment", sa.Text, primary_key=True),
            sa.Column("host", sa.Text, primary_key=True),
            sa.Column("sha256", sa.Text, nullable=False),
            sa.Column("version", sa.Integer, nullable=False),
            sa.Column("at", sa.Double, nullable=False),
        )


def downgrade() -> None:  # expand-first: going back one release needs no downgrade
    pass
