"""The one aiosqlite connection, its shared lock, and the value encodings of the schema.

Every repository operation is a plain synchronous function over the `sqlite3.Connection`,
shipped whole to aiosqlite's worker thread: a transaction costs one thread hop instead of one
per statement, which is most of the latency of a small SQLite transaction. Writes run
`BEGIN IMMEDIATE … COMMIT` under the asyncio lock that the LangGraph checkpointer and store
share (they keep transactions open across awaits, so nothing may BEGIN while they do). Reads
are single hops outside any transaction (the connection is in autocommit mode), so they need
no lock: the worker thread runs one hop at a time.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import aiosqlite
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
    """The shared connection plus the lock every writer of the file takes."""

    def __init__(self, conn: aiosqlite.Connection, lock: asyncio.Lock) -> None:
        self.conn = conn
        self.lock = lock

    async def read(self, fn: Callable[..., T], *args: Any) -> T:
        """Run `fn(sqlite3_conn, *args)` on the connection thread, outside a transaction."""
        raw = self.conn._conn
        result: T = await self.conn._execute(fn, raw, *args)
        return result

    async def write(self, fn: Callable[..., T], *args: Any) -> T:
        """Run `fn(sqlite3_conn, *args)` in one `BEGIN IMMEDIATE` transaction, under the lock."""
        async with self.lock:
            raw = self.conn._conn
            result: T = await self.conn._execute(_transaction, raw, fn, args)
            return result
