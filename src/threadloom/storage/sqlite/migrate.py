"""Bring a SQLite file's schema to the newest alembic revision (startup and `threadloom migrate`).

Synchronous on purpose: it runs once, before the aiosqlite connection opens, on its own
SQLAlchemy connection. Idempotent. A file already at the newest revision is recognised by
reading `alembic_version` with the standard library alone: alembic, SQLAlchemy and mako cost
the server ~33 MB of RSS for its whole life once imported, so a restart does not load them.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

MIGRATIONS_DIR = Path(__file__).with_name("migrations")


def head_revision() -> str:
    """The newest revision: the migrations are one line, `vNNNN_<what>.py` declaring
    `revision = "NNNN"` (tests/unit checks this against alembic's own idea of the head)."""
    names = sorted(p.name for p in (MIGRATIONS_DIR / "versions").glob("v[0-9][0-9][0-9][0-9]_*.py"))
    return names[-1][1:5]


def at_head(path: Path) -> bool:
    """Whether the file exists and records the newest revision (never creates the file)."""
    if not path.is_file():
        return False
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.Error:
        return False
    try:
        rows = conn.execute("SELECT version_num FROM alembic_version").fetchall()
    except sqlite3.Error:
        return False
    finally:
        conn.close()
    return rows == [(head_revision(),)]


def run_migrations(path: Path, *, revision: str = "head") -> None:
    """Upgrade the database file at `path` (created if missing) to `revision`."""
    if revision == "head" and at_head(path):
        return
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
