"""Crons on PostgreSQL: executes `storage/cron_sql.py`; the claim leases due rows, skipping
those another scheduler is claiming (`FOR UPDATE SKIP LOCKED`)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from threadloom.storage import cron_sql
from threadloom.storage.base import CronStore, Filters, SortOrder
from threadloom.storage.postgres.db import Cursor, Database
from threadloom.storage.postgres.pages import count_rows, read_page
from threadloom.storage.postgres.sqlfilter import (
    DIALECT,
    compile_filter,
    jsonb,
    order_by,
    page_bounds,
)
from threadloom.storage.records import Cron, CronFiring, Page

_JSON = frozenset({"payload", "metadata", "auth_user"})


def _value(column: str, value: Any) -> Any:
    if column in _JSON:
        return None if value is None else jsonb(value)
    return value


async def consume_firing(cur: Cursor, firing: CronFiring) -> bool:
    """`cron_sql.fired` inside the caller's transaction (a firing's run insert, or alone)."""
    await cur.execute(cron_sql.fired(DIALECT), (firing.next_slot, firing.cron_id, firing.slot))
    return await cur.fetchone() is not None


def cron_from_row(row: dict[str, Any]) -> Cron:
    data = {k: row[k] for k in cron_sql.CRON_FIELDS}
    data["payload"] = data["payload"] or {}
    data["metadata"] = data["metadata"] or {}
    return Cron(**data)


class PostgresCronStore(CronStore):
    def __init__(self, db: Database) -> None:
        self._db = db

    async def create(self, cron: Cron) -> Cron:
        params = [_value(c, getattr(cron, c)) for c in cron_sql.CRON_FIELDS]
        row = await self._db.fetchone(cron_sql.insert(DIALECT), params)
        assert row is not None
        return cron_from_row(row)

    async def get(self, cron_id: str, *, filters: Filters = None) -> Cron | None:
        sql, params = compile_filter("metadata", filters)
        row = await self._db.fetchone(
            f"SELECT {cron_sql.CRON_COLUMNS} FROM crons WHERE cron_id = %s AND ({sql})",
            [cron_id, *params],
        )
        return None if row is None else cron_from_row(row)

    async def update(
        self, cron_id: str, changes: dict[str, Any], *, filters: Filters = None
    ) -> Cron | None:
        columns = [c for c in changes if c in cron_sql.UPDATABLE]
        where = compile_filter("metadata", filters)
        params = [*(_value(c, changes[c]) for c in columns), cron_id, *where[1]]
        async with self._db.transaction() as cur:
            await cur.execute(cron_sql.update(DIALECT, columns, where), params)
            row = await cur.fetchone()
        return None if row is None else cron_from_row(row)

    async def delete(self, cron_id: str, *, filters: Filters = None) -> bool:
        sql, params = compile_filter("metadata", filters)
        count = await self._db.execute(
            f"DELETE FROM crons WHERE cron_id = %s AND ({sql})", [cron_id, *params]
        )
        return count > 0

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
        rows, total = await read_page(
            self._db, "crons", cron_sql.CRON_COLUMNS, sql, params, order, limit, offset
        )
        return Page(items=[cron_from_row(r) for r in rows], total=total)

    async def count(
        self,
        *,
        assistant_id: str | None = None,
        thread_id: str | None = None,
        metadata: dict[str, Any] | None = None,
        filters: Filters = None,
    ) -> int:
        sql, params = cron_sql.search(DIALECT, assistant_id, thread_id, None, metadata, filters)
        return await count_rows(self._db, "crons", sql, params)

    async def claim_due(self, now: datetime, limit: int, lease_seconds: float) -> list[Cron]:
        sql, params = cron_sql.claim(DIALECT, now, now + timedelta(seconds=lease_seconds), limit)
        async with self._db.transaction() as cur:
            await cur.execute(sql, params)
            return [cron_from_row(r) for r in await cur.fetchall()]

    async def consume(self, firing: CronFiring) -> bool:
        async with self._db.transaction() as cur:
            return await consume_firing(cur, firing)

    async def next_due_at(self) -> datetime | None:
        sql, params = cron_sql.next_due(DIALECT)
        row = await self._db.fetchone(sql, params)
        return None if row is None else row["at"]
