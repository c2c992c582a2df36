"""Telling "the database is down" apart from bugs, for every backend (→ 503, not 500)."""

from __future__ import annotations

import sqlite3

from threadloom.errors import ThreadloomError, Unavailable

PGVECTOR_MISSING = (
    "store.index needs the PostgreSQL extension pgvector (`vector`), which this server does not"
    " have: install it (Debian: apt-get install postgresql-<major>-pgvector; or build it from"
    " source, see docs/deployment.md) or remove store.index from langgraph.json"
)
SQLITE_VEC_MISSING = (
    "store.index needs SQLite extension loading (sqlite-vec), which this Python's sqlite3 module"
    " does not allow: pip install 'threadloom[memory]' (bundles pysqlite3), use a Python built"
    " with loadable SQLite extensions, or remove store.index from langgraph.json"
)


class MissingExtension(ThreadloomError):
    """The database cannot do what the project's configuration asks (start-up error)."""


class StaleAssistant(Exception):
    """The assistant a run was built from is no longer current (updated, re-versioned or
    deleted since it was read): nothing was written, build the run again from a fresh read."""

    def __init__(self, assistant_id: str) -> None:
        super().__init__(f"Assistant {assistant_id} changed while the run was being created")
        self.assistant_id = assistant_id


def is_unavailable(exc: BaseException) -> bool:
    """True when `exc` means a backing service is unreachable or overloaded right now."""
    if isinstance(exc, Unavailable):
        return True
    try:
        import psycopg

        if isinstance(exc, (psycopg.OperationalError, psycopg.InterfaceError)):
            return True
        from psycopg_pool import PoolTimeout

        if isinstance(exc, PoolTimeout):
            return True
    except ImportError:  # pragma: no cover - psycopg is a dependency
        pass
    try:
        import redis.exceptions

        if isinstance(exc, (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)):
            return True
    except ImportError:  # pragma: no cover
        pass
    return isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc)


class FiringTaken(Exception):
    """A cron firing's slot was consumed by another scheduler (or the cron changed or went)
    while this one made its run: nothing was written."""

    def __init__(self, cron_id: str) -> None:
        super().__init__(f"Cron {cron_id} no longer stands at the slot being fired")
        self.cron_id = cron_id
