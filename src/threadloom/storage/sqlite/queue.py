"""The run queue on SQLite: claim, leases, requeue. Transaction bodies for `Database.write`.

Per-thread serial order comes from the claim rule: a thread with a running run is skipped, and
at most one run per thread is handed out per claim (its oldest due one).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from threadloom.storage.records import Run
from threadloom.storage.sqlite.rows import RUN_COLUMNS, run_from_row

# `runs.status IN (...)` repeated verbatim so SQLite can use the partial index runs_inflight
_THREAD_NOT_RUNNING = (
    "NOT EXISTS (SELECT 1 FROM runs x WHERE x.thread_id = r.thread_id "
    "AND x.status IN ('pending', 'running') AND x.status = 'running')"
)
DUE = (
    "SELECT r.run_id, r.thread_id FROM runs r "
    f"WHERE r.status = 'pending' AND r.created_at <= ? AND {_THREAD_NOT_RUNNING} "
    "ORDER BY r.created_at, r.rowid"
)
CLAIM = (
    "UPDATE runs SET status = 'running', attempt = attempt + 1, worker_id = ?, "
    "lease_expires_at = ?, started_at = COALESCE(started_at, ?), updated_at = ? "
    f"WHERE run_id = ? AND status = 'pending' RETURNING {RUN_COLUMNS}"
)
NEXT_DUE = (
    f"SELECT MIN(r.created_at) FROM runs r WHERE r.status = 'pending' AND {_THREAD_NOT_RUNNING}"
)


def _ids(run_ids: Sequence[str]) -> str:
    return ", ".join("?" * len(run_ids))


def has_due(conn: sqlite3.Connection, now: int) -> bool:
    """A read-only look before taking the write lock: most wake-ups (a run just finished, its
    thread has nothing queued) find nothing to claim, and a read costs far less than a commit."""
    return conn.execute(f"SELECT EXISTS ({DUE})", (now,)).fetchone()[0] == 1


def claim(
    conn: sqlite3.Connection, worker_id: str, limit: int, lease_us: int, now: int
) -> list[Run]:
    picked: list[str] = []
    threads: set[str] = set()
    cursor = conn.execute(DUE, (now,))
    try:
        for run_id, thread_id in cursor:
            if thread_id in threads:
                continue
            threads.add(thread_id)
            picked.append(run_id)
            if len(picked) >= limit:
                break
    finally:
        cursor.close()
    claimed: list[Run] = []
    for run_id in picked:
        row = conn.execute(CLAIM, (worker_id, now + lease_us, now, now, run_id)).fetchone()
        if row is not None:
            claimed.append(run_from_row(row))
    return claimed


def next_due(conn: sqlite3.Connection) -> int | None:
    (value,) = conn.execute(NEXT_DUE).fetchone()
    return None if value is None else int(value)


def heartbeat(
    conn: sqlite3.Connection, worker_id: str, run_ids: Sequence[str], lease_us: int, now: int
) -> list[str]:
    if not run_ids:
        return []
    rows = conn.execute(
        f"UPDATE runs SET lease_expires_at = ? WHERE status = 'running' AND worker_id = ? "
        f"AND run_id IN ({_ids(run_ids)}) RETURNING run_id",
        (now + lease_us, worker_id, *run_ids),
    ).fetchall()
    held = {r[0] for r in rows}
    return [rid for rid in run_ids if rid in held]


def requeue(
    conn: sqlite3.Connection, run_ids: Sequence[str], worker_id: str | None, now: int
) -> int:
    if not run_ids:
        return 0
    sql = (
        "UPDATE runs SET status = 'pending', worker_id = NULL, lease_expires_at = NULL, "
        f"updated_at = ? WHERE status = 'running' AND run_id IN ({_ids(run_ids)})"
    )
    params: list[object] = [now, *run_ids]
    if worker_id is not None:
        sql += " AND worker_id = ?"
        params.append(worker_id)
    return conn.execute(sql, params).rowcount


def reap_expired(conn: sqlite3.Connection, now_limit: int, now: int) -> list[Run]:
    rows = conn.execute(
        "UPDATE runs SET status = 'pending', worker_id = NULL, lease_expires_at = NULL, "
        "updated_at = ? WHERE status = 'running' AND lease_expires_at < ? "
        f"RETURNING {RUN_COLUMNS}",
        (now, now_limit),
    ).fetchall()
    runs = [run_from_row(r) for r in rows]
    runs.sort(key=lambda r: r.created_at)
    return runs
