"""The embedded SQLite backend (one file, WAL) — see `storage.SqliteStorage`."""

from threadloom.storage.sqlite.migrate import run_migrations
from threadloom.storage.sqlite.storage import SqliteStorage

__all__ = ["SqliteStorage", "run_migrations"]
