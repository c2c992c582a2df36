"""Exact semantic search for the embedded store, without scoring every vector in SQL.

LangGraph's `SqliteStore` ranks a query by computing `vec_distance_cosine` for every row of
`store_vectors` inside one SQL statement (about 200 ms at 100,000 items). `VectorIndex` holds the
same vectors in memory, normalised, as one float32 matrix: a query is one matrix-vector product
(a few ms at 100,000 x 256), which orders the candidates. SQL then only reads the best
candidates — with the namespace prefix and `filter` applied exactly as upstream applies them,
and the score computed exactly as upstream computes it (`1 - vec_distance_cosine`) — and the
candidate set grows until nothing outside it can outrank what is returned.

The ranking is therefore the brute-force one: an item's score is the best score of its indexed
fields, items are ordered by score (ties by namespace, then key), then `offset` / `limit`.
The stopping rule: with the `k` best vectors read, every other vector scores at most the
(k+1)-th in-memory score; once the last item a page needs scores above that (plus `MARGIN`, for
float rounding between numpy and sqlite-vec), no unread vector can change the page.

The matrix follows the table through `store_vector_changes`, a log that triggers on
`store_vectors` append to (the rowid of every vector inserted, updated or deleted — by this
store, a graph's writes through it, or another process on the same file, including deletes that
cascade from `store`). Each search first applies the entries it has not seen: one indexed probe
of the log's ends when there are none. The first search, or one that finds the log pruned past
its position, reads `store_vectors` whole. Results are always read from the tables, so an item
the matrix still lists after its deletion is simply not found.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from typing import Any

import numpy as np
from threadpoolctl import ThreadpoolController

CHANGES_SCHEMA = """
CREATE TABLE IF NOT EXISTS store_vector_changes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    vector_rowid INTEGER NOT NULL
);
CREATE TRIGGER IF NOT EXISTS store_vectors_logged_insert AFTER INSERT ON store_vectors
BEGIN
    INSERT INTO store_vector_changes (vector_rowid) VALUES (new.rowid);
END;
CREATE TRIGGER IF NOT EXISTS store_vectors_logged_update AFTER UPDATE ON store_vectors
BEGIN
    INSERT INTO store_vector_changes (vector_rowid) VALUES (old.rowid);
    INSERT INTO store_vector_changes (vector_rowid) VALUES (new.rowid);
END;
CREATE TRIGGER IF NOT EXISTS store_vectors_logged_delete AFTER DELETE ON store_vectors
BEGIN
    INSERT INTO store_vector_changes (vector_rowid) VALUES (old.rowid);
END;
"""
"""Created by the store's `setup()` next to upstream's `store_vectors` (whose own schema comes
from LangGraph's store migrations, not Threadloom's)."""

LOG_PRUNE_AT = 50_000
"""Entries the log may hold before a search prunes it down to the newest `LOG_KEEP`."""
LOG_KEEP = 10_000
MARGIN = 1e-4
"""How much the in-memory score may differ from sqlite-vec's (both float32, ~1e-6 apart)."""
FIRST_K = 64
"""Vectors read by a query's first round at least (4 x `offset + limit` when larger)."""
GROWTH = 4
_CHUNK = 500
_blas: ThreadpoolController | None = None


def _one_blas_thread() -> Any:
    """One BLAS thread for the product: it is memory-bound, and on a busy machine (a server's
    other work, other processes) OpenBLAS's extra threads made it 1.3-1.5x slower, not
    faster. Scoped to the call: the process's other numpy users keep their setting."""
    global _blas
    if _blas is None:
        _blas = ThreadpoolController()
    return _blas.limit(limits=1, user_api="blas")


def _text_prefix_matches(prefix: str, namespace_prefix: str) -> bool:
    return prefix == namespace_prefix or prefix.startswith(namespace_prefix + ".")


class VectorIndex:
    """Every vector of `store_vectors` (one row per item and indexed field), normalised."""

    def __init__(self, dims: int) -> None:
        self.dims = dims
        self.seq = -1  # last log entry applied; -1: never loaded
        self._matrix = np.zeros((0, dims), np.float32)
        self._rowids = np.zeros(0, np.int64)  # -1 marks a free slot
        self._prefix_ids = np.zeros(0, np.int32)
        self._size = 0  # slots in use, free ones included
        self._slot_of: dict[int, int] = {}
        self._free: list[int] = []
        self._prefixes: list[str] = []
        self._prefix_id: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self._slot_of)

    # --- keeping up with the table ----------------------------------------------------------
    def sync(self, cur: sqlite3.Cursor) -> None:
        """Apply what the log holds past `seq` (in the caller's transaction: one snapshot)."""
        lo, hi = cur.execute(
            "SELECT (SELECT min(seq) FROM store_vector_changes),"
            " (SELECT max(seq) FROM store_vector_changes)"
        ).fetchone()
        hi = hi or 0
        if self.seq < 0 or (lo is not None and self.seq < lo - 1):
            self._reload(cur)
        elif hi > self.seq:
            changed = [
                r[0]
                for r in cur.execute(
                    "SELECT DISTINCT vector_rowid FROM store_vector_changes"
                    " WHERE seq > ? AND seq <= ?",
                    (self.seq, hi),
                )
            ]
            for start in range(0, len(changed), _CHUNK):
                self._refresh(cur, changed[start : start + _CHUNK])
        self.seq = hi
        if lo is not None and hi - lo > LOG_PRUNE_AT:
            cur.execute("DELETE FROM store_vector_changes WHERE seq <= ?", (hi - LOG_KEEP,))

    def _reload(self, cur: sqlite3.Cursor) -> None:
        rows = [
            r
            for r in cur.execute("SELECT rowid, prefix, embedding FROM store_vectors")
            if isinstance(r[2], bytes) and len(r[2]) == self.dims * 4
        ]
        n = len(rows)
        self._matrix = np.zeros((max(n, 16), self.dims), np.float32)
        if n:
            matrix = np.frombuffer(b"".join(r[2] for r in rows), np.float32).reshape(n, self.dims)
            self._matrix[:n] = _normalised(matrix)
        self._rowids = np.full(max(n, 16), -1, np.int64)
        self._rowids[:n] = [r[0] for r in rows]
        self._prefix_ids = np.zeros(max(n, 16), np.int32)
        self._prefix_ids[:n] = [self._intern(r[1]) for r in rows]
        self._size = n
        self._slot_of = {int(r[0]): i for i, r in enumerate(rows)}
        self._free = []

    def _refresh(self, cur: sqlite3.Cursor, rowids: Sequence[int]) -> None:
        marks = ",".join("?" * len(rowids))
        present = {
            r[0]: r
            for r in cur.execute(
                f"SELECT rowid, prefix, embedding FROM store_vectors WHERE rowid IN ({marks})",
                list(rowids),
            )
        }
        for rowid in rowids:
            row = present.get(rowid)
            if row is None or not isinstance(row[2], bytes) or len(row[2]) != self.dims * 4:
                self._remove(rowid)
            else:
                self._put(rowid, row[1], np.frombuffer(row[2], np.float32))
        if len(self._free) > 1024 and len(self._free) * 4 > self._size:
            self._compact()

    def _intern(self, prefix: str) -> int:
        found = self._prefix_id.get(prefix)
        if found is None:
            found = self._prefix_id[prefix] = len(self._prefixes)
            self._prefixes.append(prefix)
        return found

    def _put(self, rowid: int, prefix: str, vector: np.ndarray) -> None:
        slot = self._slot_of.get(rowid)
        if slot is None:
            if self._free:
                slot = self._free.pop()
            else:
                if self._size == len(self._rowids):
                    self._grow()
                slot = self._size
                self._size += 1
            self._slot_of[rowid] = slot
        self._matrix[slot] = _normalised(vector[None, :])[0]
        self._rowids[slot] = rowid
        self._prefix_ids[slot] = self._intern(prefix)

    def _remove(self, rowid: int) -> None:
        slot = self._slot_of.pop(rowid, None)
        if slot is not None:
            self._rowids[slot] = -1
            self._matrix[slot] = 0.0
            self._free.append(slot)

    def _grow(self) -> None:
        capacity = max(16, len(self._rowids) * 2)
        matrix = np.zeros((capacity, self.dims), np.float32)
        matrix[: self._size] = self._matrix[: self._size]
        rowids = np.full(capacity, -1, np.int64)
        rowids[: self._size] = self._rowids[: self._size]
        prefix_ids = np.zeros(capacity, np.int32)
        prefix_ids[: self._size] = self._prefix_ids[: self._size]
        self._matrix, self._rowids, self._prefix_ids = matrix, rowids, prefix_ids

    def _compact(self) -> None:
        keep = np.flatnonzero(self._rowids[: self._size] >= 0)
        n = len(keep)
        self._matrix[:n] = self._matrix[keep]
        self._rowids[:n] = self._rowids[keep]
        self._prefix_ids[:n] = self._prefix_ids[keep]
        self._rowids[n : self._size] = -1
        self._matrix[n : self._size] = 0.0
        self._size = n
        self._free = []
        self._slot_of = {int(r): i for i, r in enumerate(self._rowids[:n])}

    # --- ranking ---------------------------------------------------------------------------
    def scores(self, query: Sequence[float], namespace_prefix: str | None) -> np.ndarray:
        """In-memory cosine similarity of every slot to `query`; `-inf` for free slots and
        vectors outside the namespace prefix."""
        q = _normalised(np.asarray(query, np.float32)[None, :])[0]
        n = self._size
        with _one_blas_thread():
            scores = self._matrix[:n] @ q
        if self._free:
            scores[self._rowids[:n] < 0] = -np.inf
        if namespace_prefix:
            allowed = np.fromiter(
                (_text_prefix_matches(p, namespace_prefix) for p in self._prefixes),
                bool,
                len(self._prefixes),
            )
            if not allowed.all():
                scores[~allowed[self._prefix_ids[:n]]] = -np.inf
        return scores

    def search(
        self,
        cur: sqlite3.Cursor,
        query: Sequence[float],
        *,
        namespace_prefix: str | None,
        where: str,
        where_params: Sequence[Any],
        limit: int,
        offset: int,
    ) -> list[tuple[Any, ...]]:
        """The page of items best matching `query`: rows `(prefix, key, value, created_at,
        updated_at, expires_at, ttl_minutes, score)`, as upstream's search returns them.
        `where` / `where_params` is upstream's SQL for the namespace prefix and filter."""
        self.sync(cur)
        scores = self.scores(query, namespace_prefix)
        candidates = int(np.count_nonzero(scores > -np.inf))
        need = offset + limit
        if need == 0 or candidates == 0:
            return []
        blob = np.asarray(query, np.float32).tobytes()
        k = min(candidates, max(FIRST_K, GROWTH * need))
        while True:
            if k < candidates:
                order = np.argpartition(-scores, k)
                top, bound = order[:k], float(scores[order[k]])
            else:
                top, bound = np.flatnonzero(scores > -np.inf), -np.inf
            items = self._read(cur, self._rowids[top], blob, where, where_params)
            if k >= candidates or (len(items) >= need and items[need - 1][7] > bound + MARGIN):
                return items[offset:need]
            k = min(candidates, k * GROWTH)

    @staticmethod
    def _read(
        cur: sqlite3.Cursor,
        rowids: np.ndarray,
        blob: bytes,
        where: str,
        where_params: Sequence[Any],
    ) -> list[tuple[Any, ...]]:
        """Items owning any of `rowids` that pass `where`, each with its best exact score,
        best first."""
        rows = cur.execute(
            "SELECT s.prefix, s.key, s.value, s.created_at, s.updated_at, s.expires_at,"
            " s.ttl_minutes, max(1.0 - vec_distance_cosine(sv.embedding, ?)) AS score"
            " FROM store_vectors sv JOIN store s ON s.prefix = sv.prefix AND s.key = sv.key"
            f" WHERE sv.rowid IN (SELECT value FROM json_each(?)) AND ({where})"
            " GROUP BY s.prefix, s.key",
            [blob, json.dumps(rowids.tolist()), *where_params],
        ).fetchall()
        rows.sort(key=lambda r: (-r[7], r[0], r[1]))
        return rows


def _normalised(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return (matrix / norms).astype(np.float32, copy=False)
