"""Crons on SQLite: executes `storage/cron_sql.py` (one writer at a time makes the claim safe)."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta
from typing import Any

from threadloom.storage import cron_sql
from threadloom.storage.base import CronStore, Filters, SortOrder
from threadloom.storage.records import Cron, CronFiring, Page
from threadloom.storage.sqlite.db import (
    Database,
    from_us,
    from_us_req,
    jdump,
    jdump_opt,
    jload,
    to_us,
)
from threadloom.storage.sqlite.sqlfilter import (
    DIALECT,
    compile_filter,
    order_by,
    page_bounds,
    read_page,
)

_JSON = frozenset({"payload", "metadata", "auth_user"})
_TIMES = frozenset({"end_time", "next_run_date", "created_at", "updated_at", "lease_until"})


def _value(column: str, value: Any) -> Any:
    if column in _JSON:
        return jdump_opt(value)
    if column in _TIMES:
        return to_us(value)
    if column == "enabled":
        return int(bool(value))
    return value


def consume_firing(conn: sqlite3.Connection, firing: CronFiring) -> bool:
    """`cron_sql.fired` inside the caller's transaction (a firing's run insert, or alone)."""
    row = conn.execute(
        cron_sql.fired(DIALECT),
        (to_us(firing.next_slot), firing.cron_id, to_us(firing.slot)),
    ).fetchone()
    return row is not None


def cron_from_row(row: tuple[Any, ...]) -> Cron:
    data = dict(zip(cron_sql.CRON_FIELDS, row, strict=True))
    for key in _JSON:
        data[key] = jload(data[key])
    data["end_time"] = from_us(data["end_time"])
    data["lease_until"] = from_us(data["lease_until"])
    for key in ("next_run_date", "created_at", "updated_at"):
        data[key] = from_us_req(data[key])
    data["enabled"] = bool(data["enabled"])
    data["payload"] = data["payload"] or {}
    data["metadata"] = data["metadata"] or {}
    return Cron(**data)


class SqliteCronStore(CronStore):
    def __init__(self, db: Database) -> None:
        self._db = db

    async def create(self, cron: Cron) -> Cron:
        params = [_value(c, getattr(cron, c)) for c in cron_sql.CRON_FIELDS]

        def tx(conn: sqlite3.Connection) -> Cron:
            return cron_from_row(conn.execute(cron_sql.insert(DIALECT), params).fetchone())

        return await self._db.write(tx)

    async def get(self, cron_id: str, *, filters: Filters = None) -> Cron | None:
        sql, params = compile_filter("metadata", filters)

        def read(conn: sqlite3.Connection) -> Cron | None:
            row = conn.execute(
                f"SELECT {cron_sql.CRON_COLUMNS} FROM crons WHERE cron_id = ? AND ({sql})",
                [cron_id, *params],
            ).fetchone()
            return None if row is None else cron_from_row(row)

        return await self._db.read(read)

    async def update(
        self, cron_id: str, changes: dict[str, Any], *, filters: Filters = None
    ) -> Cron | None:
        columns = [c for c in changes if c in cron_sql.UPDATABLE]
        where = compile_filter("metadata", filters)
        sql = cron_sql.update(DIALECT, columns, where)
        params = [*(_value(c, changes[c]) for c in columns), cron_id, *where[1]]

        def tx(conn: sqlite3.Connection) -> Cron | None:
            row = conn.execute(sql, params).fetchone()
            return None if row is None else cron_from_row(row)

        return await self._db.write(tx)

    async def delete(self, cron_id: str, *, filters: Filters = None) -> bool:
        sql, params = compile_filter("metadata", filters)

        def tx(conn: sqlite3.Connection) -> bool:
            cur = conn.execute(
                f"DELETE FROM crons WHERE cron_id = ? AND ({sql})", [cron_id, *params]
            )
            return cur.rowcount > 0

        return await self._db.write(tx)

    async def search(
        self,
        *,
        assistant_id: str | None = None,
        thread_id: str | None = None,
        enabled: bool | None = None,
        metadata: dict[str, Any] | None = None,
        limit: int = 10,
        offset: int = 0,
        sort_by: str = "created_at",
        sort_order: SortOrder = "desc",
        filters: Filters = None,
    ) -> Page:
        sql, params = cron_sql.search(DIALECT, assistant_id, thread_id, enabled, metadata, filters)
        order = order_by(sort_by, sort_order, cron_sql.SORTS, "cron_id")
        limit, offset = page_bounds(limit, offset)

        def read(conn: sqlite3.Connection) -> Page:
            rows, total = read_page(
                conn, "crons", cron_sql.CRON_COLUMNS, sql, params, order, limit, offset
            )
            return Page(items=[cron_from_row(r) for r in rows], total=total)

        return await self._db.read(read)

    async def count(
        self,
        *,
        assistant_id: str | None = None,
        thread_id: str | None = None,
        metadata: dict[str, Any] | None = None,
        filters: Filters = None,
    ) -> int:
        sql, params = cron_sql.search(DIALECT, assistant_id, thread_id, None, metadata, filters)

        def read(conn: sqlite3.Connection) -> int:
            (total,) = conn.execute(f"SELECT COUNT(*) FROM crons WHERE {sql}", params).fetchone()
            return int(total)

        return await self._db.read(read)

    async def claim_due(self, now: datetime, limit: int, lease_seconds: float) -> list[Cron]:
        sql, params = cron_sql.claim(DIALECT, now, now + timedelta(seconds=lease_seconds), limit)

        def tx(conn: sqlite3.Connection) -> list[Cron]:
            return [cron_from_row(r) for r in conn.execute(sql, params).fetchall()]

        return await self._db.write(tx)

    async def consume(self, firing: CronFiring) -> bool:
        def tx(conn: sqlite3.Connection) -> bool:
            return consume_firing(conn, firing)

        return await self._db.write(tx)

    async def next_due_at(self) -> datetime | None:
        sql, params = cron_sql.next_due(DIALECT)

        def read(conn: sqlite3.Connection) -> datetime | None:
            (value,) = conn.execute(sql, params).fetchone()
            return from_us(value)

        return await self._db.read(read)


__all__ = ["SqliteCronStore", "jdump"]
