"""Alembic migrations of the PostgreSQL schema (raw SQL, one file per version)."""
