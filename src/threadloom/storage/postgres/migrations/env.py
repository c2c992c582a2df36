"""Alembic environment: always driven programmatically with a ready connection (see migrate.py)."""

from __future__ import annotations

from alembic import context

connection = context.config.attributes["connection"]
schema = context.config.attributes.get("schema")
context.configure(
    connection=connection,
    target_metadata=None,
    transactional_ddl=True,
    version_table_schema=schema,
)
with context.begin_transaction():
    context.run_migrations()
