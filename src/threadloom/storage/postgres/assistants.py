"""Assistants on PostgreSQL: `assistants` holds the current version's content (search and get
read one row), `assistant_versions` every version. Mirrors the SQLite backend's semantics."""

from __future__ import annotations

from typing import Any, Literal

from threadloom.errors import Conflict
from threadloom.storage.base import AssistantStore, Filters, SortOrder
from threadloom.storage.postgres import queries as q
from threadloom.storage.postgres.assistant_cache import AssistantCache
from threadloom.storage.postgres.db import Cursor, Database
from threadloom.storage.postgres.pages import count_rows, read_page
from threadloom.storage.postgres.rows import ASSISTANT_COLUMNS, assistant_from_row
from threadloom.storage.postgres.sqlfilter import (
    DIALECT,
    Predicate,
    compile_contains,
    compile_filter,
    jsonb,
    order_by,
    page_bounds,
)
from threadloom.storage.records import Assistant, Page
from threadloom.storage.sql_builders import assistant_search

SORTS = {
    "assistant_id": "assistant_id",
    "created_at": "created_at",
    "updated_at": "updated_at",
    "name": "name",
    "graph_id": "graph_id",
}
SYSTEM_METADATA = {"created_by": "system"}


async def _get(
    cur: Cursor, assistant_id: str, where: Predicate, *, lock: bool = False
) -> Assistant | None:
    sql, params = where
    await cur.execute(
        f"{q.GET_ASSISTANT} AND ({sql}){' FOR UPDATE' if lock else ''}", [assistant_id, *params]
    )
    row = await cur.fetchone()
    return None if row is None else assistant_from_row(row)


async def _write_current(cur: Cursor, a: Assistant) -> Assistant:
    await cur.execute(
        q.WRITE_CURRENT,
        (
            a.graph_id,
            jsonb(a.config),
            jsonb(a.context),
            jsonb(a.metadata),
            a.version,
            a.name,
            a.description,
            a.assistant_id,
        ),
    )
    row = await cur.fetchone()
    assert row is not None
    return assistant_from_row(row)


class PostgresAssistantStore(AssistantStore):
    def __init__(self, db: Database, cache: AssistantCache | None = None) -> None:
        self._db = db
        self._cache = cache or AssistantCache()

    async def get_for_run(self, assistant_id: str) -> Assistant | None:
        cached = self._cache.get(assistant_id)
        if cached is not None:
            return cached
        found = await self.get(assistant_id)
        if found is not None:
            self._cache.put(found)
        return found

    async def create(
        self,
        *,
        assistant_id: str,
        graph_id: str,
        config: dict[str, Any],
        context: dict[str, Any],
        metadata: dict[str, Any],
        name: str,
        description: str | None,
        if_exists: Literal["raise", "do_nothing"] = "raise",
    ) -> Assistant:
        async with self._db.transaction() as cur:
            await cur.execute(
                q.INSERT_ASSISTANT,
                (
                    assistant_id,
                    graph_id,
                    jsonb(config),
                    jsonb(context),
                    jsonb(metadata),
                    name,
                    description,
                ),
            )
            row = await cur.fetchone()
            if row is None:
                existing = await _get(cur, assistant_id, ("TRUE", []))
                if existing is not None and if_exists == "do_nothing":
                    return existing
                raise Conflict(f"Assistant {assistant_id} already exists")
            await cur.execute(q.COPY_CURRENT_TO_VERSIONS, (assistant_id,))
            return assistant_from_row(row)

    async def upsert_system(
        self,
        *,
        assistant_id: str,
        graph_id: str,
        name: str,
        description: str | None,
        config: dict[str, Any] | None = None,
        context: dict[str, Any] | None = None,
    ) -> Assistant:
        self._cache.drop(assistant_id)
        async with self._db.transaction() as cur:
            await cur.execute(
                q.REFRESH_SYSTEM_ASSISTANT,
                {"assistant_id": assistant_id, "name": name, "description": description},
            )
            row = await cur.fetchone()
            if row is not None:
                await cur.execute(
                    q.REFRESH_SYSTEM_VERSION, (name, description, assistant_id, row["version"])
                )
                return assistant_from_row(row)
            await cur.execute(
                q.INSERT_ASSISTANT,
                (
                    assistant_id,
                    graph_id,
                    jsonb(config or {}),
                    jsonb(context or {}),
                    jsonb(SYSTEM_METADATA),
                    name,
                    description,
                ),
            )
            row = await cur.fetchone()
            if row is None:  # exists and is already up to date (or a racing process made it)
                existing = await _get(cur, assistant_id, ("TRUE", []))
                assert existing is not None
                return existing
            await cur.execute(q.COPY_CURRENT_TO_VERSIONS, (assistant_id,))
            return assistant_from_row(row)

    async def get(self, assistant_id: str, *, filters: Filters = None) -> Assistant | None:
        sql, params = compile_filter("metadata", filters)
        row = await self._db.fetchone(f"{q.GET_ASSISTANT} AND ({sql})", [assistant_id, *params])
        return None if row is None else assistant_from_row(row)

    async def update(
        self,
        assistant_id: str,
        *,
        graph_id: str | None = None,
        config: dict[str, Any] | None = None,
        context: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
        name: str | None = None,
        description: str | None = None,
        filters: Filters = None,
    ) -> Assistant | None:
        self._cache.drop(assistant_id)
        where = compile_filter("metadata", filters)
        async with self._db.transaction() as cur:
            current = await _get(cur, assistant_id, where, lock=True)
            if current is None:
                return None
            await cur.execute(q.MAX_VERSION, (assistant_id,))
            row = await cur.fetchone()
            max_version = row["v"] if row else None
            current.version = (max_version or current.version) + 1
            if graph_id is not None:
                current.graph_id = graph_id
            if config is not None:
                current.config = config
            if context is not None:
                current.context = context
            if metadata is not None:
                current.metadata = {**current.metadata, **metadata}
            if name is not None:
                current.name = name
            if description is not None:
                current.description = description
            await cur.execute(
                q.INSERT_VERSION,
                (
                    current.assistant_id,
                    current.version,
                    current.graph_id,
                    current.name,
                    current.description,
                    jsonb(current.config),
                    jsonb(current.context),
                    jsonb(current.metadata),
                ),
            )
            return await _write_current(cur, current)

    async def delete(self, assistant_id: str, *, filters: Filters = None) -> bool:
        self._cache.drop(assistant_id)
        sql, params = compile_filter("metadata", filters)
        count = await self._db.execute(
            f"DELETE FROM assistants WHERE assistant_id = %s AND ({sql})", [assistant_id, *params]
        )
        return count > 0

    async def search(
        self,
        *,
        graph_id: str | None = None,
        name: str | None = None,
        metadata: dict[str, Any] | None = None,
        limit: int = 10,
        offset: int = 0,
        sort_by: str = "created_at",
        sort_order: SortOrder = "desc",
        filters: Filters = None,
    ) -> Page:
        sql, params = assistant_search(DIALECT, graph_id, name, metadata, filters)
        order = order_by(sort_by, sort_order, SORTS, "assistant_id")
        limit, offset = page_bounds(limit, offset)
        rows, total = await read_page(
            self._db, "assistants", ASSISTANT_COLUMNS, sql, params, order, limit, offset
        )
        return Page(items=[assistant_from_row(r) for r in rows], total=total)

    async def count(
        self,
        *,
        graph_id: str | None = None,
        name: str | None = None,
        metadata: dict[str, Any] | None = None,
        filters: Filters = None,
    ) -> int:
        return await count_rows(
            self._db, "assistants", *assistant_search(DIALECT, graph_id, name, metadata, filters)
        )

    async def versions(
        self,
        assistant_id: str,
        *,
        metadata: dict[str, Any] | None = None,
        limit: int = 10,
        offset: int = 0,
        filters: Filters = None,
    ) -> list[Assistant]:
        access_sql, access_params = compile_filter("a.metadata", filters)
        meta_sql, meta_params = compile_contains("v.metadata", metadata)
        limit, offset = page_bounds(limit, offset)
        rows = await self._db.fetchall(
            q.LIST_VERSIONS.format(access=access_sql, meta=meta_sql),
            [assistant_id, *access_params, *meta_params, limit, offset],
        )
        return [assistant_from_row(r) for r in rows]

    async def set_latest(
        self, assistant_id: str, version: int, *, filters: Filters = None
    ) -> Assistant | None:
        self._cache.drop(assistant_id)
        where = compile_filter("metadata", filters)
        async with self._db.transaction() as cur:
            if await _get(cur, assistant_id, where, lock=True) is None:
                return None
            await cur.execute(q.GET_VERSION, (assistant_id, version))
            row = await cur.fetchone()
            if row is None:
                return None
            return await _write_current(cur, assistant_from_row(row))
