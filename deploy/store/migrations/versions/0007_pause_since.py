"""When a run began to wait at a pause (``run_waits.since``, by the database's clock), so that a process taking the
run over counts the pause's timeout from then, not from its own start. Expand only: one nullable column (a row
written by the release before has none, and its pause is counted from the takeover, as before).

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    columns = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("run_waits")}
    if "since" not in columns:
        op.add_column("run_waits", sa.Column("since", sa.Double, nullable=True))


def downgrade() -> None:  # expand-first: going back one release needs no downgrade
    pass
