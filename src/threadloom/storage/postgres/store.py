"""The cluster's long-term memory store: LangGraph's `AsyncPostgresStore`, plus the one rule the
Store API needs that upstream lacks — re-putting an item drops its old vectors first, so an
update with `index=False` (or other fields) leaves nothing stale for a query to match. Expired
items are hidden by upstream's `omit_expired` (always on, `graphs/store_config.py`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from langgraph.store.base import PutOp
from langgraph.store.postgres.aio import AsyncPostgresStore


class PostgresMemoryStore(AsyncPostgresStore):
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
