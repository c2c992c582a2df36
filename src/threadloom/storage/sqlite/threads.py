"""Threads on SQLite, and the thread-status rule the run operations share.

A thread keeps two statuses: `snapshot_status` (what its latest state says: idle, interrupted,
error) and `status` (what clients see: `busy` while any run is pending/running, else the
snapshot's). Every transaction that changes a thread's runs recomputes `status` with
`STATUS_EXPR`, so the rule lives in one place.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal

from threadloom.errors import Conflict
from threadloom.storage.base import Filters, SortOrder, ThreadStore
from threadloom.storage.operations import SweptThread
from threadloom.storage.records import Page, Thread, ThreadSnapshot, ThreadTTL
from threadloom.storage.sql_builders import expired_threads, live_thread, thread_search
from threadloom.storage.sqlite.db import Database, jdump, jdump_opt, now_us, to_us
from threadloom.storage.sqlite.rows import THREAD_COLUMNS, thread_from_row, ttl_columns
from threadloom.storage.sqlite.sqlfilter import (
    DIALECT,
    INDEXED_FROM,
    Predicate,
    combine,
    compile_filter,
    indexed_order,
    metadata_driver,
    metadata_narrowing,
    order_by,
    page_bounds,
    read_page,
)

SORTS = {
    "thread_id": "thread_id",
    "status": "status",
    "created_at": "created_at",
    "updated_at": "updated_at",
    "state_updated_at": "state_updated_at",
}

# `threads.status` from its runs; valid inside an UPDATE of `threads`
INFLIGHT_EXISTS = (
    "EXISTS (SELECT 1 FROM runs WHERE runs.thread_id = threads.thread_id "
    "AND runs.status IN ('pending', 'running'))"
)
STATUS_EXPR = f"CASE WHEN {INFLIGHT_EXISTS} THEN 'busy' ELSE snapshot_status END"
# activity pushes a thread's TTL expiry forward; `?` is now
TTL_REFRESH_EXPR = (
    "CASE WHEN ttl_minutes IS NULL THEN ttl_expires_at "
    "ELSE ? + CAST(ttl_minutes * 60000000 AS INTEGER) END"
)


def get_thread(conn: sqlite3.Connection, thread_id: str, where: Predicate) -> Thread | None:
    sql, params = where
    row = conn.execute(
        f"SELECT {THREAD_COLUMNS} FROM threads WHERE thread_id = ? AND ({sql})",
        [thread_id, *params],
    ).fetchone()
    return None if row is None else thread_from_row(row)


def insert_thread(
    conn: sqlite3.Connection,
    thread_id: str,
    metadata: dict[str, Any],
    ttl: ThreadTTL | None,
    now: int,
    status: str = "idle",
) -> Thread:
    strategy, minutes, expires = ttl_columns(ttl, now)
    row = conn.execute(
        f"INSERT INTO threads ({THREAD_COLUMNS}, snapshot_status) "
        "VALUES (?, ?, ?, ?, ?, '{}', ?, NULL, '{}', NULL, ?, ?, ?, 'idle') "
        f"RETURNING {THREAD_COLUMNS}",
        (thread_id, now, now, now, jdump(metadata), status, strategy, minutes, expires),
    ).fetchone()
    return thread_from_row(row)


def refresh_status(conn: sqlite3.Connection, thread_ids: Sequence[str], now: int) -> None:
    """Recompute `status` of threads whose runs changed."""
    for thread_id in thread_ids:
        conn.execute(
            f"UPDATE threads SET status = {STATUS_EXPR}, updated_at = ? WHERE thread_id = ?",
            (now, thread_id),
        )


def write_snapshot(
    conn: sqlite3.Connection, thread_id: str, snapshot: ThreadSnapshot, now: int
) -> Thread | None:
    """Store a snapshot and recompute status; the shared core of set_snapshot and finish."""
    row = conn.execute(
        f"UPDATE threads SET snapshot_status = ?, status = CASE WHEN {INFLIGHT_EXISTS} "
        "THEN 'busy' ELSE ? END, state_values = ?, interrupts = ?, error = ?, "
        f"state_updated_at = ?, updated_at = ?, ttl_expires_at = {TTL_REFRESH_EXPR} "
        f"WHERE thread_id = ? RETURNING {THREAD_COLUMNS}",
        (
            snapshot.status,
            snapshot.status,
            jdump_opt(snapshot.values),
            jdump(snapshot.interrupts or {}),
            jdump_opt(snapshot.error),
            now,
            now,
            now,
            thread_id,
        ),
    ).fetchone()
    return None if row is None else thread_from_row(row)


class SqliteThreadStore(ThreadStore):
    def __init__(self, db: Database) -> None:
        self._db = db

    async def create(
        self,
        *,
        thread_id: str,
        metadata: dict[str, Any],
        if_exists: Literal["raise", "do_nothing"] = "raise",
        ttl: ThreadTTL | None = None,
        filters: Filters = None,
    ) -> Thread:
        where = compile_filter("metadata", filters)

        def tx(conn: sqlite3.Connection) -> Thread:
            existing = get_thread(conn, thread_id, ("1", []))
            if existing is not None:
                if if_exists == "do_nothing" and get_thread(conn, thread_id, where) is not None:
                    return existing
                raise Conflict(f"Thread {thread_id} already exists")
            return insert_thread(conn, thread_id, metadata, ttl, now_us())

        return await self._db.write(tx)

    async def get(self, thread_id: str, *, filters: Filters = None) -> Thread | None:
        where = combine(compile_filter("metadata", filters), live_thread(DIALECT))
        return await self._db.read(get_thread, thread_id, where)

    async def update(
        self,
        thread_id: str,
        *,
        metadata: dict[str, Any] | None = None,
        ttl: ThreadTTL | None = None,
        filters: Filters = None,
    ) -> Thread | None:
        where = compile_filter("metadata", filters)

        def tx(conn: sqlite3.Connection) -> Thread | None:
            current = get_thread(conn, thread_id, where)
            if current is None:
                return None
            now = now_us()
            merged = {**current.metadata, **(metadata or {})}
            if ttl is not None:
                strategy, minutes, expires = ttl_columns(ttl, now)
                row = conn.execute(
                    "UPDATE threads SET metadata = ?, updated_at = ?, ttl_strategy = ?, "
                    "ttl_minutes = ?, ttl_expires_at = ? WHERE thread_id = ? "
                    f"RETURNING {THREAD_COLUMNS}",
                    (jdump(merged), now, strategy, minutes, expires, thread_id),
                ).fetchone()
            else:
                row = conn.execute(
                    "UPDATE threads SET metadata = ?, updated_at = ?, "
                    f"ttl_expires_at = {TTL_REFRESH_EXPR} WHERE thread_id = ? "
                    f"RETURNING {THREAD_COLUMNS}",
                    (jdump(merged), now, now, thread_id),
                ).fetchone()
            return thread_from_row(row)

        return await self._db.write(tx)

    async def delete(self, thread_id: str, *, filters: Filters = None) -> bool:
        sql, params = compile_filter("metadata", filters)

        def tx(conn: sqlite3.Connection) -> bool:
            cur = conn.execute(
                f"DELETE FROM threads WHERE thread_id = ? AND ({sql})", [thread_id, *params]
            )
            return cur.rowcount > 0

        return await self._db.write(tx)

    async def search(
        self,
        *,
        ids: Sequence[str] | None = None,
        metadata: dict[str, Any] | None = None,
        values: dict[str, Any] | None = None,
        status: str | None = None,
        limit: int = 10,
        offset: int = 0,
        sort_by: str = "created_at",
        sort_order: SortOrder = "desc",
        filters: Filters = None,
    ) -> Page:
        order = order_by(sort_by, sort_order, SORTS, "thread_id")
        limit, offset = page_bounds(limit, offset)

        def read(conn: sqlite3.Connection) -> Page:
            driver = metadata_driver(conn, metadata)
            table, page_order, narrow = "threads", order, None
            if driver is not None and sort_by == "created_at":
                # newest first through the index: the walk stops when the page is full
                table, page_order, narrow = INDEXED_FROM, indexed_order(sort_order), driver
            elif driver is not None:
                narrow = metadata_narrowing(conn, metadata, page=min(limit + offset, 2**62))
            sql, params = thread_search(DIALECT, ids, metadata, values, status, filters, narrow)
            counted = None
            if driver is not None and table == "threads":  # counted in index order: it stops
                counted = (
                    INDEXED_FROM,
                    thread_search(DIALECT, ids, metadata, values, status, filters, driver),
                )
            rows, total = read_page(
                conn, table, THREAD_COLUMNS, sql, params, page_order, limit, offset, counted
            )
            return Page(items=[thread_from_row(r) for r in rows], total=total)

        return await self._db.read(read)

    async def count(
        self,
        *,
        metadata: dict[str, Any] | None = None,
        values: dict[str, Any] | None = None,
        status: str | None = None,
        filters: Filters = None,
    ) -> int:
        def read(conn: sqlite3.Connection) -> int:
            narrow = metadata_narrowing(conn, metadata, page=None)
            sql, params = thread_search(DIALECT, None, metadata, values, status, filters, narrow)
            (total,) = conn.execute(f"SELECT COUNT(*) FROM threads WHERE {sql}", params).fetchone()
            return int(total)

        return await self._db.read(read)

    async def set_snapshot(self, thread_id: str, snapshot: ThreadSnapshot) -> Thread | None:
        return await self._db.write(write_snapshot, thread_id, snapshot, now_us())

    async def sweep_expired(self, now: datetime, limit: int) -> list[SweptThread]:
        select, params = expired_threads(DIALECT, now, limit)
        at = to_us(now)
        assert at is not None

        def tx(conn: sqlite3.Connection) -> list[SweptThread]:
            swept: list[SweptThread] = []
            for thread_id, strategy, minutes in conn.execute(select, params).fetchall():
                if strategy == "keep_latest":
                    conn.execute(
                        "UPDATE threads SET ttl_expires_at = ? WHERE thread_id = ?",
                        (at + int((minutes or 0) * 60_000_000), thread_id),
                    )
                    swept.append(SweptThread(thread_id, "keep_latest", []))
                    continue
                run_ids = [
                    r[0]
                    for r in conn.execute(
                        "DELETE FROM runs WHERE thread_id = ? RETURNING run_id", (thread_id,)
                    )
                ]
                # with its checkpoints (LangGraph's tables live in the same file)
                conn.execute("DELETE FROM writes WHERE thread_id = ?", (thread_id,))
                conn.execute("DELETE FROM checkpoints WHERE thread_id = ?", (thread_id,))
                conn.execute("DELETE FROM threads WHERE thread_id = ?", (thread_id,))
                swept.append(SweptThread(thread_id, "delete", run_ids))
            return swept

        return await self._db.write(tx)
