"""The one SQLite connection and the value encodings of the schema.

Every repository operation is a plain synchronous function over the `sqlite3.Connection`, run
inline on the event loop (see `inline.py` for why no worker thread). Writes are one
`BEGIN IMMEDIATE … COMMIT`; reads run in autocommit mode. Since no operation awaits while it
holds the connection, operations never interleave and need no lock.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import orjson

from threadloom.serde import dumps

T = TypeVar("T")

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def now_us() -> int:
    """Current time as integer microseconds since the epoch (the schema's timestamp type)."""
    return time.time_ns() // 1000


def to_us(dt: datetime | None) -> int | None:
    """Exact datetime → microseconds; naive datetimes are taken as UTC."""
    if dt is None:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return (dt - EPOCH) // _MICROSECOND


def from_us(value: int | None) -> datetime | None:
    return None if value is None else EPOCH + timedelta(microseconds=value)


def from_us_req(value: int) -> datetime:
    return EPOCH + timedelta(microseconds=value)


def jdump(value: Any) -> str:
    """JSON as TEXT (SQLite's json functions reject BLOBs)."""
    return dumps(value).decode()


def jdump_opt(value: Any) -> str | None:
    return None if value is None else jdump(value)


def jload(text: str | bytes | None) -> Any:
    return None if text is None else orjson.loads(text)


def _transaction(conn: sqlite3.Connection, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
    conn.execute("BEGIN IMMEDIATE")
    try:
        result = fn(conn, *args)
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return result


class Database:
    """The shared connection; `read`/`write` keep the async signature the repositories use."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    async def read(self, fn: Callable[..., T], *args: Any) -> T:
        """`fn(conn, *args)` outside a transaction."""
        return fn(self.conn, *args)

    async def write(self, fn: Callable[..., T], *args: Any) -> T:
        """`fn(conn, *args)` in one `BEGIN IMMEDIATE` transaction."""
        return _transaction(self.conn, fn, args)
