"""Telling "the database is down" apart from bugs, for every backend (→ 503, not 500)."""

from __future__ import annotations

import sqlite3


def is_unavailable(exc: BaseException) -> bool:
    """True when `exc` means a backing service is unreachable or overloaded right now."""
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
