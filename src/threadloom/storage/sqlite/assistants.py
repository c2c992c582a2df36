"""Assistants on SQLite: `assistants` holds the current version's content (so search and get
read one row), `assistant_versions` holds every version."""

from __future__ import annotations

import sqlite3
from typing import Any, Literal

from threadloom.errors import Conflict
from threadloom.storage.base import AssistantStore, Filters, SortOrder
from threadloom.storage.records import Assistant, Page
from threadloom.storage.sql_builders import assistant_search
from threadloom.storage.sqlite.db import Database, jdump, now_us
from threadloom.storage.sqlite.rows import (
    ASSISTANT_COLUMNS,
    VERSION_COLUMNS,
    assistant_from_row,
)
from threadloom.storage.sqlite.sqlfilter import (
    DIALECT,
    Predicate,
    compile_contains,
    compile_filter,
    order_by,
    page_bounds,
    read_page,
)

SORTS = {
    "assistant_id": "assistant_id",
    "created_at": "created_at",
    "updated_at": "updated_at",
    "name": "name",
    "graph_id": "graph_id",
}
SYSTEM_METADATA = {"created_by": "system"}


def _get(conn: sqlite3.Connection, assistant_id: str, where: Predicate) -> Assistant | None:
    sql, params = where
    row = conn.execute(
        f"SELECT {ASSISTANT_COLUMNS} FROM assistants WHERE assistant_id = ? AND ({sql})",
        [assistant_id, *params],
    ).fetchone()
    return None if row is None else assistant_from_row(row)


def _insert_version(conn: sqlite3.Connection, a: Assistant, created_at: int) -> None:
    conn.execute(
        "INSERT INTO assistant_versions (assistant_id, version, graph_id, name, description, "
        "config, context, metadata, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            a.assistant_id,
            a.version,
            a.graph_id,
            a.name,
            a.description,
            jdump(a.config),
            jdump(a.context),
            jdump(a.metadata),
            created_at,
        ),
    )


def _write_current(conn: sqlite3.Connection, a: Assistant, now: int) -> Assistant:
    """Point `assistants` at version `a` (its content copied in), bumping updated_at."""
    row = conn.execute(
        "UPDATE assistants SET graph_id = ?, config = ?, context = ?, metadata = ?, version = ?, "
        f"name = ?, description = ?, updated_at = ? WHERE assistant_id = ? RETURNING {ASSISTANT_COLUMNS}",
        (
            a.graph_id,
            jdump(a.config),
            jdump(a.context),
            jdump(a.metadata),
            a.version,
            a.name,
            a.description,
            now,
            a.assistant_id,
        ),
    ).fetchone()
    return assistant_from_row(row)


class SqliteAssistantStore(AssistantStore):
    def __init__(self, db: Database) -> None:
        self._db = db

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
        def tx(conn: sqlite3.Connection) -> Assistant:
            existing = _get(conn, assistant_id, ("1", []))
            if existing is not None:
                if if_exists == "do_nothing":
                    return existing
                raise Conflict(f"Assistant {assistant_id} already exists")
            now = now_us()
            conn.execute(
                f"INSERT INTO assistants ({ASSISTANT_COLUMNS}) VALUES (?, ?, ?, ?, ?, 1, ?, ?, ?, ?)",
                (
                    assistant_id,
                    graph_id,
                    jdump(config),
                    jdump(context),
                    jdump(metadata),
                    name,
                    description,
                    now,
                    now,
                ),
            )
            conn.execute(
                "INSERT INTO assistant_versions SELECT assistant_id, version, graph_id, name, "
                "description, config, context, metadata, created_at FROM assistants "
                "WHERE assistant_id = ?",
                (assistant_id,),
            )
            created = _get(conn, assistant_id, ("1", []))
            assert created is not None
            return created

        return await self._db.write(tx)

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
        def tx(conn: sqlite3.Connection) -> Assistant:
            now = now_us()
            row = conn.execute(
                f"UPDATE assistants SET name = ?, description = ?, updated_at = ? "
                f"WHERE assistant_id = ? AND (name != ? OR description IS NOT ?) "
                f"RETURNING {ASSISTANT_COLUMNS}",
                (name, description, now, assistant_id, name, description),
            ).fetchone()
            if row is not None:
                conn.execute(
                    "UPDATE assistant_versions SET name = ?, description = ? "
                    "WHERE assistant_id = ? AND version = ?",
                    (name, description, assistant_id, row[5]),
                )
                return assistant_from_row(row)
            existing = _get(conn, assistant_id, ("1", []))
            if existing is not None:
                return existing
            conn.execute(
                f"INSERT INTO assistants ({ASSISTANT_COLUMNS}) VALUES (?, ?, ?, ?, ?, 1, ?, ?, ?, ?)",
                (
                    assistant_id,
                    graph_id,
                    jdump(config or {}),
                    jdump(context or {}),
                    jdump(SYSTEM_METADATA),
                    name,
                    description,
                    now,
                    now,
                ),
            )
            conn.execute(
                "INSERT INTO assistant_versions SELECT assistant_id, version, graph_id, name, "
                "description, config, context, metadata, created_at FROM assistants "
                "WHERE assistant_id = ?",
                (assistant_id,),
            )
            created = _get(conn, assistant_id, ("1", []))
            assert created is not None
            return created

        return await self._db.write(tx)

    async def get(self, assistant_id: str, *, filters: Filters = None) -> Assistant | None:
        return await self._db.read(_get, assistant_id, compile_filter("metadata", filters))

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
        where = compile_filter("metadata", filters)

        def tx(conn: sqlite3.Connection) -> Assistant | None:
            current = _get(conn, assistant_id, where)
            if current is None:
                return None
            (max_version,) = conn.execute(
                "SELECT MAX(version) FROM assistant_versions WHERE assistant_id = ?",
                (assistant_id,),
            ).fetchone()
            now = now_us()
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
            _insert_version(conn, current, now)
            return _write_current(conn, current, now)

        return await self._db.write(tx)

    async def delete(self, assistant_id: str, *, filters: Filters = None) -> bool:
        sql, params = compile_filter("metadata", filters)

        def tx(conn: sqlite3.Connection) -> bool:
            cur = conn.execute(
                f"DELETE FROM assistants WHERE assistant_id = ? AND ({sql})",
                [assistant_id, *params],
            )
            return cur.rowcount > 0

        return await self._db.write(tx)

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

        def read(conn: sqlite3.Connection) -> Page:
            rows, total = read_page(
                conn, "assistants", ASSISTANT_COLUMNS, sql, params, order, limit, offset
            )
            return Page(items=[assistant_from_row(r) for r in rows], total=total)

        return await self._db.read(read)

    async def count(
        self,
        *,
        graph_id: str | None = None,
        name: str | None = None,
        metadata: dict[str, Any] | None = None,
        filters: Filters = None,
    ) -> int:
        sql, params = assistant_search(DIALECT, graph_id, name, metadata, filters)

        def read(conn: sqlite3.Connection) -> int:
            (total,) = conn.execute(
                f"SELECT COUNT(*) FROM assistants WHERE {sql}", params
            ).fetchone()
            return int(total)

        return await self._db.read(read)

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
        columns = ", ".join(f"v.{c.strip()}" for c in VERSION_COLUMNS.split(","))

        def read(conn: sqlite3.Connection) -> list[Assistant]:
            rows = conn.execute(
                f"SELECT {columns} FROM assistant_versions v "
                "JOIN assistants a ON a.assistant_id = v.assistant_id "
                f"WHERE v.assistant_id = ? AND ({access_sql}) AND ({meta_sql}) "
                "ORDER BY v.version DESC LIMIT ? OFFSET ?",
                [assistant_id, *access_params, *meta_params, limit, offset],
            ).fetchall()
            return [assistant_from_row(r) for r in rows]

        return await self._db.read(read)

    async def set_latest(
        self, assistant_id: str, version: int, *, filters: Filters = None
    ) -> Assistant | None:
        where = compile_filter("metadata", filters)

        def tx(conn: sqlite3.Connection) -> Assistant | None:
            if _get(conn, assistant_id, where) is None:
                return None
            row = conn.execute(
                f"SELECT {VERSION_COLUMNS} FROM assistant_versions "
                "WHERE assistant_id = ? AND version = ?",
                (assistant_id, version),
            ).fetchone()
            if row is None:
                return None
            return _write_current(conn, assistant_from_row(row), now_us())

        return await self._db.write(tx)
