"""One page of a search and its total on PostgreSQL, the twin of SQLite's `read_page`: rows
first, and the total counted only when the page does not tell it, up to `search_count_cap`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from threadloom.storage.postgres.db import Database
from threadloom.storage.records import search_count_cap


async def count_rows(
    db: Database, table: str, where: str, params: Sequence[Any], cap: int | None = None
) -> int:
    """Rows of `table` matching `where`; with `cap`, counted only up to it."""
    if cap is None:
        row = await db.fetchone(f"SELECT count(*) AS n FROM {table} WHERE {where}", list(params))
    else:
        row = await db.fetchone(
            f"SELECT count(*) AS n FROM (SELECT 1 FROM {table} WHERE {where} LIMIT %s) c",
            [*params, cap],
        )
    return int(row["n"]) if row else 0


async def read_page(
    db: Database,
    table: str,
    columns: str,
    where: str,
    params: Sequence[Any],
    order: str,
    limit: int,
    offset: int,
) -> tuple[list[dict[str, Any]], int]:
    """One page of rows and the search total (a short first page is its own total)."""
    rows = await db.fetchall(
        f"SELECT {columns} FROM {table} WHERE {where} {order} LIMIT %s OFFSET %s",
        [*params, limit, offset],
    )
    if offset == 0 and len(rows) < limit:
        return rows, len(rows)
    return rows, await count_rows(db, table, where, params, search_count_cap(limit, offset))
