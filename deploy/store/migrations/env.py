"""Alembic's entry point: migrations run on the connection :func:`deploy.store.migrations.apply` opened (inside its
transaction and its lock)."""

from __future__ import annotations

from alembic import context

connection = context.config.attributes["connection"]
context.configure(connection=connection, transactional_ddl=True, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
