"""The crons table's SQL, written once for both backends and told the `Dialect`.

The claim is the rule that makes a firing happen once however many schedulers run: select the
due crons (enabled, not past `end_time`, `next_run_date <= now`), locking them and skipping
rows another scheduler holds (PostgreSQL), and advance each one's `next_run_date` in the same
transaction; SQLite has one writer at a time, so the same statements are enough there.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from threadloom.storage.dialect import Dialect, Predicate

CRON_FIELDS = (
    "cron_id",
    "assistant_id",
    "thread_id",
    "user_id",
    "schedule",
    "timezone",
    "end_time",
    "next_run_date",
    "payload",
    "metadata",
    "on_run_completed",
    "enabled",
    "created_at",
    "updated_at",
    "auth_user",
)
CRON_COLUMNS = ", ".join(CRON_FIELDS)
# what PATCH may change
UPDATABLE = frozenset(
    {
        "schedule",
        "timezone",
        "end_time",
        "next_run_date",
        "payload",
        "metadata",
        "on_run_completed",
        "enabled",
        "updated_at",
    }
)
SORTS = {
    "cron_id": "cron_id",
    "assistant_id": "assistant_id",
    "thread_id": "thread_id",
    "next_run_date": "next_run_date",
    "end_time": "end_time",
    "created_at": "created_at",
    "updated_at": "updated_at",
}


def insert(d: Dialect) -> str:
    marks = ", ".join(d.param for _ in CRON_FIELDS)
    return f"INSERT INTO crons ({CRON_COLUMNS}) VALUES ({marks}) RETURNING {CRON_COLUMNS}"


def update(d: Dialect, columns: list[str], where: Predicate) -> str:
    sets = ", ".join(f"{c} = {d.param}" for c in columns)
    return (
        f"UPDATE crons SET {sets} WHERE cron_id = {d.param} AND ({where[0]}) "
        f"RETURNING {CRON_COLUMNS}"
    )


def search(
    d: Dialect,
    assistant_id: str | None,
    thread_id: str | None,
    enabled: bool | None,
    metadata: dict[str, Any] | None,
    filters: Any,
) -> Predicate:
    """Which crons `CronStore.search` / `count` match."""
    parts: list[Predicate] = [
        d.contains("metadata", metadata or None),
        d.filter("metadata", filters),
    ]
    if assistant_id is not None:
        parts.append((f"assistant_id = {d.param}", [assistant_id]))
    if thread_id is not None:
        parts.append((f"thread_id = {d.param}", [thread_id]))
    if enabled is not None:
        parts.append((f"enabled = {d.param}", [d.boolean(enabled)]))
    return d.combine(*parts)


def due(d: Dialect, now: datetime, limit: int) -> tuple[str, list[Any]]:
    """The crons due at `now`, oldest due first, at most `limit`, locked (PostgreSQL: rows
    another scheduler holds are skipped, so each due firing is claimed by one)."""
    at = d.time(now)
    sql = (
        f"SELECT {CRON_COLUMNS} FROM crons WHERE enabled = {d.param} "
        f"AND next_run_date <= {d.param} AND (end_time IS NULL OR end_time >= {d.param}) "
        f"ORDER BY next_run_date LIMIT {d.param}{d.skip_locked}"
    )
    return sql, [d.boolean(True), at, at, limit]


def advance(d: Dialect) -> str:
    return f"UPDATE crons SET next_run_date = {d.param} WHERE cron_id = {d.param}"


def next_due(d: Dialect) -> tuple[str, list[Any]]:
    """When the earliest enabled cron is due next (the scheduler sleeps until then)."""
    return (
        f"SELECT MIN(next_run_date) FROM crons WHERE enabled = {d.param}",
        [d.boolean(True)],
    )
