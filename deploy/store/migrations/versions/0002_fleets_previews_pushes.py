"""The hosts each run covered (``run_fleet``), previews per branch (``previews``), and what pushes left
(``webhook_deliveries``, ``auto_deploys``, ``parked_pushes``). Expand only: new tables, created where missing (a
SQLite file from a build that created them by itself keeps its rows).

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.schema import SchemaItem

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _text(name: str, *, null: bool = False, default: str | None = None) -> sa.Column[str]:
    return sa.Column(name, sa.Text, nullable=null, server_default=None if default is None else sa.text(default))


def _real(name: str) -> sa.Column[float]:
    return sa.Column(name, sa.Double, nullable=False)


def _int(name: str) -> sa.Column[int]:
    return sa.Column(name, sa.Integer, nullable=False)


_TABLES: dict[str, list[SchemaItem]] = {
    "run_fleet": [
        _text("run_id"), _text("host"), _text("address"), _int("port"), _text("roles"), _text("source"),
        _text("alias", null=True), _int("position"), sa.PrimaryKeyConstraint("run_id", "host"),
    ],
    "previews": [
        _text("app"), _text("name"), _text("branch"), _text("sha", default="''"), _int("port"),
        _text("hosts", default="''"), _text("state"), _text("pusher", default="''"), _real("created_at"),
        _real("updated_at"), sa.PrimaryKeyConstraint("app", "name"),
    ],
    "webhook_deliveries": [sa.Column("delivery", sa.Text, primary_key=True), _real("at")],
    "auto_deploys": [
        _text("app"), _text("environment"), _text("sha"), _text("run_id"), _real("at"),
        sa.PrimaryKeyConstraint("app", "environment", "sha"),
    ],
    "parked_pushes": [
        _text("app"), _text("environment"), _text("state"), _text("sha"), _text("ref"), _text("pusher"),
        _real("since"), sa.PrimaryKeyConstraint("app", "environment"),
    ],
}  # fmt: skip

_UNIQUE = {"previews_branch": ("previews", ["app", "branch"]), "previews_port": ("previews", ["port"])}


def upgrade() -> None:
    bind = op.get_bind()
    present = set(sa.inspect(bind).get_table_names())
    for name, columns in _TABLES.items():
        if name not in present:
            op.create_table(name, *columns)
    for index, (table, keys) in _UNIQUE.items():
        if index not in {i["name"] for i in sa.inspect(bind).get_indexes(table)}:
            op.create_index(index, table, keys, unique=True)


def downgrade() -> None:
    for name in reversed(list(_TABLES)):
        op.drop_table(name)
