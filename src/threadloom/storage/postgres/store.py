"""The cluster's long-term memory store: LangGraph's `AsyncPostgresStore`, plus what the Store
API needs that upstream lacks. Expired items are hidden by upstream's `omit_expired` (always on,
`graphs/store_config.py`).

- Re-putting an item drops its old vectors first, so an update with `index=False` (or other
  fields) leaves nothing stale for a query to match.
- A `query` reads its `k` nearest vectors from `store_vectors` alone, in a statement the
  planner serves from the HNSW index (`ORDER BY embedding <=> q LIMIT k` on one table, scoped
  to the namespace prefix); only those rows are joined to `store` for the `filter` and expiry.
  Upstream joins first and orders the join; from its row estimate of the prefix condition
  the planner often sorts every vector instead (1.2 s at 100,000 items for a page at offset
  100). pgvector's iterative scan in strict order (`hnsw.iterative_scan`, pgvector >= 0.8)
  lets the index walk past `hnsw.ef_search` (40) candidates when the prefix rejects some
  (older pgvector: not set; the fallbacks below still keep every match).
- A page that comes back short reads `GROWTH` times more vectors once; still short while the
  index had more to give, or short because it had no more (the scan ran out, or stopped at
  `hnsw.max_scan_tuples`), it is read by an exact scan of the matching items, as is a prefix
  holding fewer than `SMALL_NAMESPACE` items: a small namespace or a selective filter never
  loses matches. `offset` counts in `k` (upstream's candidate limit ignored it, so a page
  past twice the limit came back empty).
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from typing import Any, cast

from langgraph.store.base import PutOp, Result, SearchOp
from langgraph.store.postgres.aio import AsyncPostgresStore
from langgraph.store.postgres.base import (
    Row,
    _decode_ns_bytes,
    _namespace_prefix_condition,
    _row_to_search_item,
)
from psycopg import AsyncCursor
from psycopg.rows import DictRow

_PGVECTOR_VERSION = "SELECT extversion FROM pg_extension WHERE extname = 'vector'"
_ITERATIVE_SCAN = "SELECT set_config('hnsw.iterative_scan', 'strict_order', false)"
_PROBE_ALL = "probe AS (SELECT true AS big)"
_PROBE = """probe AS (
    SELECT count(*) >= %s AS big FROM (SELECT 1 FROM store WHERE {ns} LIMIT %s) AS counted
)"""
"""Whether the prefix holds `SMALL_NAMESPACE` items or more (reads at most that many)."""
_NEAREST = """WITH {probe}, nearest AS MATERIALIZED (
    SELECT sv.prefix, sv.key, sv.embedding <=> %s::vector AS distance
    FROM store_vectors sv WHERE {ns} AND (SELECT big FROM probe)
    ORDER BY sv.embedding <=> %s::vector LIMIT %s
), page AS (
    SELECT store.prefix, store.key, store.value, store.created_at, store.updated_at,
        1 - min(nearest.distance) AS score, (SELECT count(*) FROM nearest) AS candidates
    FROM nearest JOIN store ON store.prefix = nearest.prefix AND store.key = nearest.key
    WHERE {where}
    GROUP BY store.prefix, store.key
    ORDER BY score DESC, store.prefix, store.key
    LIMIT %s OFFSET %s
){refresh}
SELECT * FROM page ORDER BY score DESC, prefix, key"""
"""The `k` nearest vectors under the prefix (one table, `ORDER BY <=> LIMIT`: the HNSW
index; none when the probe finds the prefix small), then the filter and expiry on their items:
one round trip, TTL refresh included."""
_EXACT = """WITH page AS (
    SELECT store.prefix, store.key, store.value, store.created_at, store.updated_at,
        1 - min(sv.embedding <=> %s::vector) AS score
    FROM store JOIN store_vectors sv ON store.prefix = sv.prefix AND store.key = sv.key
    WHERE {ns} AND {where}
    GROUP BY store.prefix, store.key
    ORDER BY score DESC, store.prefix, store.key
    LIMIT %s OFFSET %s
){refresh}
SELECT * FROM page ORDER BY score DESC, prefix, key"""
"""Every matching item scored (ordered by an aggregate, which no index serves): exact."""
_REFRESH = """, refreshed AS (
    UPDATE store SET expires_at = NOW() + (store.ttl_minutes || ' minutes')::interval
    FROM page WHERE store.prefix = page.prefix AND store.key = page.key
    AND store.ttl_minutes IS NOT NULL
)"""
FIRST_K = 40
"""Nearest vectors a query reads at least (`hnsw.ef_search`'s default)."""
GROWTH = 8
"""A short page reads `GROWTH` times more nearest vectors once; still short, the exact scan."""
SMALL_NAMESPACE = 1_000
"""A namespace prefix holding fewer items is searched by the exact scan (cheap at that size;
through the index, pgvector would walk up to `hnsw.max_scan_tuples` looking for them)."""


class PostgresMemoryStore(AsyncPostgresStore):
    _scan_configured: weakref.WeakSet[Any]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._scan_configured = weakref.WeakSet()
        self._iterative_scan: bool | None = None  # pgvector >= 0.8, found at the first query

    def _prepare_batch_PUT_queries(
        self, put_ops: Sequence[tuple[int, PutOp]]
    ) -> tuple[list[tuple[str, Sequence[Any]]], Any]:
        queries, embedding_request = super()._prepare_batch_PUT_queries(put_ops)
        if not self.index_config:
            return queries, embedding_request
        keys = sorted(
            {(".".join(op.namespace), op.key) for _, op in put_ops if op.value is not None}
        )
        if not keys:
            return queries, embedding_request
        drop = (
            "DELETE FROM store_vectors WHERE (prefix, key) IN"
            " (SELECT * FROM unnest(%s::text[], %s::text[]))",
            [[p for p, _ in keys], [k for _, k in keys]],
        )
        return [drop, *queries], embedding_request

    async def _batch_search_ops(
        self,
        search_ops: Sequence[tuple[int, SearchOp]],
        results: list[Result],
        cur: AsyncCursor[DictRow],
    ) -> None:
        ranked = [(i, op) for i, op in search_ops if op.query and self.index_config]
        plain = [(i, op) for i, op in search_ops if not (op.query and self.index_config)]
        if plain:
            await super()._batch_search_ops(plain, results, cur)
        if not ranked:
            return
        assert self.embeddings is not None
        if self._iterative_scan is None:
            await cur.execute(_PGVECTOR_VERSION)
            row = await cur.fetchone()
            version = tuple(int(p) for p in str(row["extversion"]).split(".")[:2]) if row else ()
            self._iterative_scan = version >= (0, 8)
        if self._iterative_scan and cur.connection not in self._scan_configured:
            await cur.execute(_ITERATIVE_SCAN)
            self._scan_configured.add(cur.connection)
        vectors = await self.embeddings.aembed_documents([cast(str, op.query) for _, op in ranked])
        for (i, op), vector in zip(ranked, vectors, strict=True):
            rows = await self._nearest(cur, op, vector)
            results[i] = [
                _row_to_search_item(_decode_ns_bytes(r["prefix"]), r, loader=self._deserializer)
                for r in rows
            ]

    async def _nearest(
        self, cur: AsyncCursor[DictRow], op: SearchOp, vector: list[float]
    ) -> list[Row]:
        where, where_params = self._search_where(op)
        refresh = _REFRESH if op.refresh_ttl else ""
        page = [op.limit, op.offset]
        ns_sql, ns_params = "TRUE", ()
        probe, probe_params = _PROBE_ALL, []
        if op.namespace_prefix:
            ns_sql, ns_params = _namespace_prefix_condition(op.namespace_prefix)
            probe = _PROBE.format(ns=ns_sql)
            probe_params = [SMALL_NAMESPACE, *ns_params, SMALL_NAMESPACE]
        sql = _NEAREST.format(
            probe=probe,
            ns=ns_sql.replace("store.prefix", "sv.prefix"),
            where=where,
            refresh=refresh,
        )
        k = max(FIRST_K, (op.offset + op.limit) * self._vectors_per_item() * 2)
        for _ in range(2):
            params = [*probe_params, vector, *ns_params, vector, k, *where_params, *page]
            await cur.execute(sql, params)
            rows = cast(list[dict[str, Any]], await cur.fetchall())  # Row + "candidates"
            if len(rows) >= op.limit:
                return cast(list[Row], rows)
            if not rows or rows[0]["candidates"] < k:
                break  # a small prefix, or the index has no more: only an exact scan can tell
            k *= GROWTH
        exact = _EXACT.format(ns=ns_sql, where=where, refresh=refresh)
        await cur.execute(exact, [vector, *ns_params, *where_params, *page])
        return cast(list[Row], await cur.fetchall())

    def _search_where(self, op: SearchOp) -> tuple[str, list[Any]]:
        """Upstream's own SQL for `op`'s filter and expiry on `store`: taken from the statement
        upstream builds for the same filter without a query, so both paths filter by one
        rule."""
        probe = SearchOp((), op.filter, 1, 0, None, refresh_ttl=False)
        [(sql, params)], _ = self._prepare_batch_search_queries([(0, probe)])
        _, found, rest = sql.partition("WHERE")
        conditions, ordered, _ = rest.rpartition("ORDER BY store.updated_at DESC")
        assert found and ordered and list(params[-2:]) == [1, 0], "upstream's SQL changed shape"
        return conditions.strip(), list(params[:-2])

    def _vectors_per_item(self) -> int:
        return int(cast(dict[str, Any], self.index_config)["__estimated_num_vectors"])
