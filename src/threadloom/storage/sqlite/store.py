"""The embedded long-term memory store: LangGraph's `SqliteStore`, called inline on the loop, with
what the Store API promises on top.

- Expired items are never read: a read batch first deletes what has expired (one probe of the
  partial index on `expires_at` when nothing has), so a get, a search or a namespace listing
  never sees an item past its TTL, even before the sweeper runs.
- Updating an item keeps its `created_at` (upstream's `INSERT OR REPLACE` reset it) and both
  timestamps carry milliseconds, so "newest update first" is an order, not a tie.
- Re-putting an item drops its old vectors first, so `index=False` or other fields on update
  leave nothing stale to match.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from langgraph.store.base import GetOp, ListNamespacesOp, Op, PutOp, Result, SearchOp
from langgraph.store.sqlite import SqliteStore

from threadloom.storage.errors import SQLITE_VEC_MISSING, MissingExtension

_NOW_MS = "strftime('%Y-%m-%d %H:%M:%f', 'now')"
_UPSERT = (
    " ON CONFLICT (prefix, key) DO UPDATE SET value = excluded.value,"
    " updated_at = excluded.updated_at, expires_at = excluded.expires_at,"
    " ttl_minutes = excluded.ttl_minutes"
)
_DELETE_EXPIRED = "DELETE FROM store WHERE expires_at IS NOT NULL AND expires_at < ?"


def _now_text() -> str:
    # the form Python's sqlite3 adapter writes expires_at in (and DATETIME() truncates to), so
    # text comparison orders them
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def vector_connection(path: str, busy_timeout_ms: int) -> Any:
    """A connection for a store with `store.index`: sqlite-vec is a loadable extension, so it
    needs a sqlite3 module that loads extensions — the standard one when this Python allows it,
    else the bundled `pysqlite3` (the `memory` extra). Same file, WAL, foreign keys on (vectors
    are deleted with their items)."""
    module: Any = sqlite3
    if not hasattr(sqlite3.Connection, "enable_load_extension"):
        try:
            import pysqlite3.dbapi2 as module  # type: ignore[no-redef]
        except ImportError:
            raise MissingExtension(SQLITE_VEC_MISSING) from None
    conn = module.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
    conn.execute("PRAGMA foreign_keys=ON")
    return conn


def delete_expired(conn: sqlite3.Connection) -> int:
    """Delete every item past its TTL (their vectors go with them: ON DELETE CASCADE)."""
    return conn.execute(_DELETE_EXPIRED, (_now_text(),)).rowcount


class InlineSqliteStore(SqliteStore):
    """`SqliteStore` whose async API calls the sync one directly (no thread hop)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lock = threading.RLock()  # type: ignore[assignment]

    def batch(self, ops: Iterable[Op]) -> list[Result]:
        ops = list(ops)
        if any(isinstance(op, GetOp | SearchOp | ListNamespacesOp) for op in ops):
            if not self.is_setup:
                self.setup()
            with self.lock:
                delete_expired(self.conn)
        return super().batch(ops)

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        return self.batch(ops)

    def _prepare_batch_PUT_queries(
        self, put_ops: Sequence[tuple[int, PutOp]]
    ) -> tuple[list[tuple[str, Sequence[Any]]], Any]:
        queries, embedding_request = super()._prepare_batch_PUT_queries(put_ops)
        rewritten: list[tuple[str, Sequence[Any]]] = []
        for sql, params in queries:
            if "INSERT OR REPLACE INTO store (" in sql:
                sql = sql.replace("INSERT OR REPLACE INTO store (", "INSERT INTO store (")
                sql = sql.replace("CURRENT_TIMESTAMP", _NOW_MS).rstrip() + _UPSERT
                if self.index_config:
                    rewritten.extend(self._drop_vectors(put_ops))
            rewritten.append((sql, params))
        return rewritten, embedding_request

    @staticmethod
    def _drop_vectors(put_ops: Sequence[tuple[int, PutOp]]) -> list[tuple[str, Sequence[Any]]]:
        keys = {(".".join(op.namespace), op.key) for _, op in put_ops if op.value is not None}
        return [
            ("DELETE FROM store_vectors WHERE prefix = ? AND key = ?", (prefix, key))
            for prefix, key in sorted(keys)
        ]
