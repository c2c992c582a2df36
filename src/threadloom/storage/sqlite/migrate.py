"""Bring a SQLite file's schema to the newest alembic revision (startup and `threadloom migrate`).

Synchronous on purpose: it runs once, before the aiosqlite connection opens, on its own
SQLAlchemy connection. Idempotent: at head it only reads `alembic_version`.
"""

from __future__ import annotations

from pathlib import Path

MIGRATIONS_DIR = Path(__file__).with_name("migrations")


def run_migrations(path: Path, *, revision: str = "head") -> None:
    """Upgrade the database file at `path` (created if missing) to `revision`."""
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import create_engine
    from sqlalchemy.pool import NullPool

    path.parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(f"sqlite:///{path}", poolclass=NullPool)
    try:
        with engine.connect() as connection:
            # WAL is a property of the file: set it before anything else opens it.
            connection.exec_driver_sql("PRAGMA journal_mode=WAL")
            config = Config()
            config.set_main_option("script_location", str(MIGRATIONS_DIR))
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
            connection.commit()
    finally:
        engine.dispose()
