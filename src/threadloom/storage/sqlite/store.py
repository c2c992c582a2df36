"""The embedded long-term memory store: LangGraph's `SqliteStore`, called inline on the loop, with
what the Store API promises on top.

- Expired items are never read: a read batch first deletes what has expired (one probe of the
  partial index on `expires_at` when nothing has), so a get, a search or a namespace listing
  never sees an item past its TTL, even before the sweeper runs.
- Updating an item keeps its `created_at` (upstream's `INSERT OR REPLACE` reset it) and both
  timestamps carry milliseconds, so "newest update first" is an order, not a tie.
- Re-putting an item drops its old vectors first, so `index=False` or other fields on update
  leave nothing stale to match.
- A `query` is ranked by `VectorIndex` (`vector_index.py`): the vectors in memory order the
  candidates, SQL reads and scores only the best of them; the ranking is the brute-force one.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, cast

from langgraph.store.base import GetOp, ListNamespacesOp, Op, PutOp, Result, SearchOp
from langgraph.store.sqlite import SqliteStore
from langgraph.store.sqlite.base import (
    _decode_ns_text,
    _namespace_prefix_condition,
    _row_to_search_item,
)

from threadloom.storage.errors import SQLITE_VEC_MISSING, MissingExtension
from threadloom.storage.sqlite.vector_index import CHANGES_SCHEMA, VectorIndex

_NOW_MS = "strftime('%Y-%m-%d %H:%M:%f', 'now')"
_UPSERT = (
    " ON CONFLICT (prefix, key) DO UPDATE SET value = excluded.value,"
    " updated_at = excluded.updated_at, expires_at = excluded.expires_at,"
    " ttl_minutes = excluded.ttl_minutes"
)
_REFRESH_TTL = (
    "UPDATE store SET expires_at = DATETIME(CURRENT_TIMESTAMP, '+' || ttl_minutes || ' minutes')"
    " WHERE prefix = ? AND key = ? AND ttl_minutes IS NOT NULL"
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
    # upstream re-writes vectors with INSERT OR REPLACE: its implicit delete must fire the
    # trigger that tells `VectorIndex` (SQLite fires delete triggers on REPLACE only so)
    conn.execute("PRAGMA recursive_triggers=ON")
    return conn


def delete_expired(conn: sqlite3.Connection) -> int:
    """Delete every item past its TTL (their vectors go with them: ON DELETE CASCADE)."""
    return conn.execute(_DELETE_EXPIRED, (_now_text(),)).rowcount


class InlineSqliteStore(SqliteStore):
    """`SqliteStore` whose async API calls the sync one directly (no thread hop)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lock = threading.RLock()  # type: ignore[assignment]
        self.vectors = VectorIndex(self.index_config["dims"]) if self.index_config else None

    def setup(self) -> None:
        with self.lock:
            if self.is_setup:
                return
            super().setup()
            if self.index_config:
                self.conn.executescript(CHANGES_SCHEMA)

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

    def _batch_search_ops(
        self,
        search_ops: Sequence[tuple[int, SearchOp]],
        results: list[Result],
        cur: sqlite3.Cursor,
    ) -> None:
        ranked = [(i, op) for i, op in search_ops if op.query and self.vectors is not None]
        plain = [(i, op) for i, op in search_ops if not (op.query and self.vectors is not None)]
        if plain:
            super()._batch_search_ops(plain, results, cur)
        if not ranked:
            return
        assert self.vectors is not None and self.embeddings is not None
        vectors = self.embeddings.embed_documents([cast(str, op.query) for _, op in ranked])
        for (i, op), vector in zip(ranked, vectors, strict=True):
            where, params = self._search_where(op)
            rows = self.vectors.search(
                cur,
                vector,
                namespace_prefix=".".join(op.namespace_prefix) or None,
                where=where,
                where_params=params,
                limit=op.limit,
                offset=op.offset,
            )
            if (
                rows
                and op.refresh_ttl
                and self.ttl_config
                and self.ttl_config.get("refresh_on_read", False)
            ):
                cur.executemany(_REFRESH_TTL, [(r[0], r[1]) for r in rows])
            results[i] = [
                _row_to_search_item(
                    _decode_ns_text(r[0]),
                    {
                        "key": r[1],
                        "value": r[2],
                        "created_at": r[3],
                        "updated_at": r[4],
                        "score": r[7],
                    },
                    loader=self._deserializer,
                )
                for r in rows
            ]

    def _search_where(self, op: SearchOp) -> tuple[str, list[Any]]:
        """Upstream's own SQL for `op`'s namespace prefix and filter, for the `store s` of a
        join: the filter conditions are taken from the statement upstream builds for the same
        filter without a query, so both paths filter by one rule."""
        ns_sql, ns_params = _namespace_prefix_condition(op.namespace_prefix, column="s.prefix")
        if not op.filter:
            return ns_sql, list(ns_params)
        probe = SearchOp((), op.filter, 1, 0, None)
        [(sql, params, _)], _ = super()._prepare_batch_search_queries([(0, probe)])
        head, _, rest = sql.partition("WHERE")
        conditions, found, _ = rest.rpartition("ORDER BY updated_at DESC")
        assert head and found and params[-2:] == [1, 0], "upstream's search SQL changed shape"
        return f"{ns_sql} AND ({conditions.strip()})", [*ns_params, *params[:-2]]

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
