"""Fencing tokens for leases: a generation that grows on every takeover, and the process holding the lease (host,
boot id, pid namespace, pid and its start) so a controller on the same machine can tell its owner is gone at once.
Expand only: two columns with defaults; a release that does not know them keeps working (it writes generation 0).

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    present = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("leases")}
    if "generation" not in present:
        op.add_column("leases", sa.Column("generation", sa.Integer, nullable=False, server_default=sa.text("0")))
    if "process" not in present:
        op.add_column("leases", sa.Column("process", sa.Text, nullable=False, server_default=sa.text("''")))


def downgrade() -> None:
    with op.batch_alter_table("leases") as table:
        table.drop_column("process")
        table.drop_column("generation")
