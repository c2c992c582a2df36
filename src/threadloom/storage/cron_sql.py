"""The crons table's SQL, written once for both backends and told the `Dialect`.

A firing happens exactly once however many schedulers run and whichever of them dies, in two
steps:

1. `claim`: lease the due crons (enabled, not past `end_time`, `next_run_date <= now`, no
   live lease), skipping rows another scheduler is claiming (PostgreSQL `SKIP LOCKED`; SQLite
   has one writer at a time). The lease only spreads the work: `next_run_date` stays put, so
   a scheduler killed now loses nothing — once its lease ends another claims the same slot.
2. `fired`: in the transaction that inserts the firing's run, move `next_run_date` from the
   claimed slot to the next one. It matches only while the cron still stands at that slot, so
   of two schedulers firing one slot (a lease that ran out under a slow holder) one inserts
   and the other rolls back; a crash before COMMIT leaves neither run nor advance.

A firing the run rules refuse (a busy thread under `reject`, a deleted assistant) consumes
its slot with `fired` alone, as the reference logs and moves on.
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
    "lease_until",
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
        "lease_until",
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


def claim(d: Dialect, now: datetime, lease_until: datetime, limit: int) -> tuple[str, list[Any]]:
    """Lease the crons due at `now` (oldest due first, at most `limit`) until `lease_until`;
    returns them as leased."""
    at = d.time(now)
    sql = (
        f"UPDATE crons SET lease_until = {d.param} WHERE cron_id IN ("
        f"SELECT cron_id FROM crons WHERE enabled = {d.param} AND next_run_date <= {d.param} "
        f"AND (end_time IS NULL OR end_time >= {d.param}) "
        f"AND (lease_until IS NULL OR lease_until <= {d.param}) "
        f"ORDER BY next_run_date LIMIT {d.param}{d.skip_locked}) RETURNING {CRON_COLUMNS}"
    )
    return sql, [d.time(lease_until), d.boolean(True), at, at, at, limit]


def fired(d: Dialect) -> str:
    """Consume a firing: params (next slot, cron_id, claimed slot); one row when it was this
    caller's to consume, none when the cron moved on (fired by another, changed, deleted)."""
    return (
        f"UPDATE crons SET next_run_date = {d.param}, lease_until = NULL "
        f"WHERE cron_id = {d.param} AND next_run_date = {d.param} RETURNING cron_id"
    )


def next_due(d: Dialect) -> tuple[str, list[Any]]:
    """When the earliest enabled cron can next be claimed (the scheduler sleeps until then):
    its due time, or its lease's end when later; a cron whose next slot is past its
    `end_time` never fires again and does not count."""
    return (
        "SELECT MIN(CASE WHEN lease_until IS NOT NULL AND lease_until > next_run_date "
        "THEN lease_until ELSE next_run_date END) AS at FROM crons "
        f"WHERE enabled = {d.param} AND (end_time IS NULL OR end_time >= next_run_date)",
        [d.boolean(True)],
    )
