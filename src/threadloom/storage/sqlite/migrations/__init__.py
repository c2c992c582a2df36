"""Alembic scripts for the SQLite schema (raw SQL ops; run by `threadloom.storage.sqlite.migrate`)."""
