"""The embedded backend: one SQLite file (WAL) for Threadloom's tables, LangGraph's checkpoints
and LangGraph's store, all on one SQLite connection used from the event loop."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from threadloom.errors import Unavailable
from threadloom.storage.base import Storage
from threadloom.storage.sqlite.assistants import SqliteAssistantStore
from threadloom.storage.sqlite.crons import SqliteCronStore
from threadloom.storage.sqlite.db import Database
from threadloom.storage.sqlite.inline import InlineSqliteSaver
from threadloom.storage.sqlite.migrate import run_migrations
from threadloom.storage.sqlite.runs import SqliteRunStore
from threadloom.storage.sqlite.sqlfilter import register_functions
from threadloom.storage.sqlite.store import InlineSqliteStore, delete_expired, vector_connection
from threadloom.storage.sqlite.threads import SqliteThreadStore

if TYPE_CHECKING:
    from threadloom.settings import Settings

_RUN_ID = "json_extract(CAST(metadata AS TEXT), '$.run_id')"


def _configure(conn: sqlite3.Connection, busy_timeout_ms: int) -> None:
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
    conn.execute("PRAGMA foreign_keys=ON")
    register_functions(conn)


def _delete_run_checkpoints(conn: sqlite3.Connection, thread_id: str, run_id: str) -> None:
    conn.execute(
        "DELETE FROM writes WHERE thread_id = ? AND (checkpoint_ns, checkpoint_id) IN "
        f"(SELECT checkpoint_ns, checkpoint_id FROM checkpoints WHERE thread_id = ? AND {_RUN_ID} = ?)",
        (thread_id, thread_id, run_id),
    )
    conn.execute(
        f"DELETE FROM checkpoints WHERE thread_id = ? AND {_RUN_ID} = ?", (thread_id, run_id)
    )


def _copy_thread_checkpoints(conn: sqlite3.Connection, source: str, target: str) -> None:
    conn.execute(
        "INSERT OR REPLACE INTO checkpoints (thread_id, checkpoint_ns, checkpoint_id, "
        "parent_checkpoint_id, type, checkpoint, metadata) SELECT ?, checkpoint_ns, "
        "checkpoint_id, parent_checkpoint_id, type, checkpoint, "
        # the copy's checkpoints name their own thread (metadata is JSON in a BLOB)
        "CASE WHEN json_type(CAST(metadata AS TEXT), '$.thread_id') IS NOT NULL "
        "THEN CAST(json_set(CAST(metadata AS TEXT), '$.thread_id', ?) AS BLOB) "
        "ELSE metadata END FROM checkpoints WHERE thread_id = ?",
        (target, target, source),
    )
    conn.execute(
        "INSERT OR REPLACE INTO writes (thread_id, checkpoint_ns, checkpoint_id, task_id, "
        "task_path, idx, channel, type, value) SELECT ?, checkpoint_ns, checkpoint_id, task_id, "
        "task_path, idx, channel, type, value FROM writes WHERE thread_id = ?",
        (target, source),
    )


def _prune_thread_checkpoints(conn: sqlite3.Connection, thread_id: str) -> None:
    # checkpoint ids are time-ordered (uuid6), so the latest of a namespace is its max id
    conn.execute(
        "DELETE FROM checkpoints WHERE thread_id = ? AND checkpoint_id < (SELECT "
        "MAX(c.checkpoint_id) FROM checkpoints c WHERE c.thread_id = checkpoints.thread_id "
        "AND c.checkpoint_ns = checkpoints.checkpoint_ns)",
        (thread_id,),
    )
    conn.execute(
        "DELETE FROM writes WHERE thread_id = ? AND NOT EXISTS (SELECT 1 FROM checkpoints c "
        "WHERE c.thread_id = writes.thread_id AND c.checkpoint_ns = writes.checkpoint_ns "
        "AND c.checkpoint_id = writes.checkpoint_id)",
        (thread_id,),
    )


class SqliteStorage(Storage):
    """`Storage` on one SQLite file. Repositories, `checkpointer` and `store` exist after
    `open()`."""

    def __init__(
        self,
        path: Path,
        *,
        busy_timeout_ms: int = 5000,
        store_index: dict[str, Any] | None = None,
        store_ttl: dict[str, Any] | None = None,
    ) -> None:
        self.path = Path(path)
        self.busy_timeout_ms = busy_timeout_ms
        self.store_index = store_index
        self.store_ttl = store_ttl
        self._conn: sqlite3.Connection | None = None
        self._store_conn: Any = None  # the store's own connection when it has vectors
        self._db: Database | None = None

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        store_index: dict[str, Any] | None = None,
        store_ttl: dict[str, Any] | None = None,
    ) -> SqliteStorage:
        return cls(settings.resolved_sqlite_path(), store_index=store_index, store_ttl=store_ttl)

    @property
    def db(self) -> Database:
        if self._db is None:
            raise Unavailable("SQLite storage is not open")
        return self._db

    async def open(self) -> None:
        if self._conn is not None:
            return
        await asyncio.to_thread(run_migrations, self.path)
        conn = sqlite3.connect(str(self.path), isolation_level=None, check_same_thread=False)
        try:
            _configure(conn, self.busy_timeout_ms)
            saver = InlineSqliteSaver(conn)
            saver.setup()
            store_conn = conn
            if self.store_index:
                store_conn = vector_connection(str(self.path), self.busy_timeout_ms)
            store = InlineSqliteStore(
                store_conn, index=cast(Any, self.store_index), ttl=cast(Any, self.store_ttl)
            )
            store.setup()
        except BaseException:
            conn.close()
            raise
        self._store_conn = store_conn if store_conn is not conn else None
        self._conn = conn
        self._db = Database(conn)
        self.checkpointer = saver
        self.thread_hints = saver.hints
        self.store = store
        self.assistants = SqliteAssistantStore(self._db)
        self.threads = SqliteThreadStore(self._db)
        self.crons = SqliteCronStore(self._db)
        self.runs = SqliteRunStore(self._db)

    async def close(self) -> None:
        conn, self._conn, self._db = self._conn, None, None
        if conn is None:
            return
        if self._store_conn is not None:
            self._store_conn.close()
            self._store_conn = None
        conn.close()

    async def ping(self) -> None:
        def probe(conn: sqlite3.Connection) -> None:
            conn.execute("SELECT 1").fetchone()

        try:
            await self.db.read(probe)
        except (sqlite3.Error, ValueError) as exc:
            raise Unavailable(f"SQLite database unavailable: {exc}") from exc

    async def sweep_store(self) -> int:
        store = cast(InlineSqliteStore, self.store)
        with store.lock:
            return delete_expired(store.conn)

    # --- checkpoint housekeeping -----------------------------------------------------------
    async def delete_thread_checkpoints(self, thread_id: str) -> None:
        _ = self.db  # Unavailable when closed
        await self.checkpointer.adelete_thread(thread_id)

    async def delete_run_checkpoints(self, thread_id: str, run_id: str) -> None:
        await self.db.write(_delete_run_checkpoints, thread_id, run_id)

    async def copy_thread_checkpoints(self, source_thread_id: str, target_thread_id: str) -> None:
        await self.db.write(_copy_thread_checkpoints, source_thread_id, target_thread_id)

    async def prune_thread_checkpoints(self, thread_id: str) -> None:
        await self.db.write(_prune_thread_checkpoints, thread_id)
