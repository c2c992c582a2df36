"""The run transitions that must be atomic with their thread: create (multitask rules), cancel,
finish. Each function is one transaction body run on the connection thread by `Database.write`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from threadloom.errors import Conflict, InvalidInput, NotFound
from threadloom.storage import filters as flt
from threadloom.storage.base import RunCreateResult
from threadloom.storage.records import TERMINAL_STATUSES, Run, ThreadSnapshot
from threadloom.storage.sqlite.db import from_us_req, jdump, jdump_opt, jload
from threadloom.storage.sqlite.rows import RUN_COLUMNS, RUN_FIELDS, run_from_row, run_to_row
from threadloom.storage.sqlite.sqlfilter import Predicate
from threadloom.storage.sqlite.threads import (
    TTL_REFRESH_EXPR,
    insert_thread,
    refresh_status,
    write_snapshot,
)

INSERT_RUN = f"INSERT INTO runs ({RUN_COLUMNS}) VALUES ({', '.join('?' * len(RUN_FIELDS))})"
# INDEXED BY: without ANALYZE stats the planner prefers runs_thread, which walks the thread's
# whole history; the partial index holds only the few inflight runs
INFLIGHT = (
    f"SELECT {RUN_COLUMNS} FROM runs INDEXED BY runs_inflight WHERE thread_id = ? "
    "AND status IN ('pending', 'running') ORDER BY created_at, rowid"
)


def inflight_runs(conn: sqlite3.Connection, thread_id: str) -> list[Run]:
    return [run_from_row(r) for r in conn.execute(INFLIGHT, (thread_id,))]


def busy_message(thread_id: str, run_id: str) -> str:
    return (
        f"Thread {thread_id} is already running a task (run {run_id}). "
        "Wait for it to finish or choose a different multitask strategy."
    )


def create_run(
    conn: sqlite3.Connection,
    run: Run,
    if_not_exists: str,
    thread_metadata: Mapping[str, Any] | None,
    prevent_insert_if_inflight: bool,
    filters: Mapping[str, Any] | None,
    now: int,
) -> RunCreateResult:
    """Thread create-or-check, inflight check, insert and multitask cancels, in one go."""
    # only the metadata: the thread's state can be megabytes, and a run's creation needs none
    found = conn.execute(
        "SELECT metadata FROM threads WHERE thread_id = ?", (run.thread_id,)
    ).fetchone()
    existing: dict[str, Any] | None = None if found is None else jload(found[0])
    created = False
    inflight: list[Run] = []
    if existing is None:
        if if_not_exists != "create":
            raise NotFound(f"Thread {run.thread_id} not found")
        insert_thread(conn, run.thread_id, dict(thread_metadata or {}), None, now, "busy")
        created = True
    else:
        if filters and not flt.evaluate(existing, filters):
            raise NotFound(f"Thread {run.thread_id} not found")
        inflight = inflight_runs(conn, run.thread_id)
        if inflight and run.multitask_strategy == "reject":
            raise Conflict(busy_message(run.thread_id, inflight[0].run_id))
        if inflight and prevent_insert_if_inflight:
            return RunCreateResult(inflight[0], False, [])

    run.status = "pending"
    conn.execute(INSERT_RUN, run_to_row(run))

    cancelled: list[Run] = []
    if inflight and run.multitask_strategy in ("interrupt", "rollback"):
        cancelled = cancel_runs(conn, inflight, run.multitask_strategy, now)
    if existing is not None:
        missing = {k: v for k, v in (thread_metadata or {}).items() if k not in existing}
        metadata = jdump({**existing, **missing}) if missing else None
        conn.execute(
            "UPDATE threads SET metadata = COALESCE(?, metadata), status = 'busy', "
            f"updated_at = ?, ttl_expires_at = {TTL_REFRESH_EXPR} WHERE thread_id = ?",
            (metadata, now, now, run.thread_id),
        )
    return RunCreateResult(run, created, cancelled)


def cancel_runs(conn: sqlite3.Connection, runs: Iterable[Run], action: str, now: int) -> list[Run]:
    """Pending runs end now (interrupt → interrupted; rollback → deleted); running ones are
    flagged for their worker. Thread statuses are the caller's to refresh."""
    request = jdump({"action": action})
    affected: list[Run] = []
    for run in runs:
        if run.status == "pending" and action == "rollback":
            conn.execute("DELETE FROM runs WHERE run_id = ?", (run.run_id,))
            run.cancel_requested = {"action": action}
            run.stop_reason = "cancelled"
            affected.append(run)
            continue
        if run.status == "pending":
            sql = (
                "UPDATE runs SET status = 'interrupted', stop_reason = 'cancelled', "
                "ended_at = ?, updated_at = ?, cancel_requested = ? "
                f"WHERE run_id = ? AND status = 'pending' RETURNING {RUN_COLUMNS}"
            )
            params: tuple[Any, ...] = (now, now, request, run.run_id)
        else:
            sql = (
                "UPDATE runs SET cancel_requested = ?, updated_at = ? "
                f"WHERE run_id = ? AND status = 'running' RETURNING {RUN_COLUMNS}"
            )
            params = (request, now, run.run_id)
        row = conn.execute(sql, params).fetchone()
        if row is not None:
            affected.append(run_from_row(row))
    return affected


def request_cancel(
    conn: sqlite3.Connection,
    action: str,
    run_ids: Sequence[str] | None,
    thread_id: str | None,
    status: str | None,
    access: Predicate,
    now: int,
) -> list[Run]:
    """Select inflight runs by ids / thread / status (thread metadata must pass `access`)."""
    if run_ids is None and thread_id is None and status is None:
        return []
    clauses = ["r.status IN ('pending', 'running')"]
    params: list[Any] = []
    if run_ids is not None:
        if not run_ids:
            return []
        clauses.append(f"r.run_id IN ({', '.join('?' * len(run_ids))})")
        params.extend(run_ids)
    if thread_id is not None:
        clauses.append("r.thread_id = ?")
        params.append(thread_id)
    if status in ("pending", "running"):
        clauses.append("r.status = ?")
        params.append(status)
    elif status not in (None, "all"):
        raise InvalidInput(f"Invalid status {status!r}: expected pending, running or all")
    join = ""
    if access[0] != "1":
        join = "JOIN threads t ON t.thread_id = r.thread_id"
        clauses.append(f"({access[0]})")
        params.extend(access[1])
    rows = conn.execute(
        f"SELECT {', '.join('r.' + f for f in RUN_FIELDS)} FROM runs r {join} "
        f"WHERE {' AND '.join(clauses)} ORDER BY r.created_at, r.rowid",
        params,
    ).fetchall()
    runs = [run_from_row(r) for r in rows]
    affected = cancel_runs(conn, runs, action, now)
    refresh_status(conn, list(dict.fromkeys(r.thread_id for r in affected)), now)
    return affected


def finish(
    conn: sqlite3.Connection,
    run_id: str,
    status: str,
    stop_reason: str | None,
    error: dict[str, Any] | None,
    snapshot: ThreadSnapshot | None,
    delete_run: bool,
    delete_thread: bool,
    now: int,
) -> Run | None:
    """Terminal status + thread snapshot together; a run no longer inflight is left alone."""
    if status not in TERMINAL_STATUSES:
        raise InvalidInput(f"finish needs a terminal status, got {status!r}")
    row = conn.execute(
        f"SELECT {RUN_COLUMNS} FROM runs WHERE run_id = ? AND status IN ('pending', 'running')",
        (run_id,),
    ).fetchone()
    if row is None:
        return None
    run = run_from_row(row)
    run.status, run.stop_reason, run.error = status, stop_reason, error
    run.ended_at = run.updated_at = from_us_req(now)
    run.lease_expires_at = None
    if delete_thread:  # with its checkpoints (LangGraph's tables live in the same file)
        conn.execute("DELETE FROM writes WHERE thread_id = ?", (run.thread_id,))
        conn.execute("DELETE FROM checkpoints WHERE thread_id = ?", (run.thread_id,))
        conn.execute("DELETE FROM threads WHERE thread_id = ?", (run.thread_id,))
        return run
    if delete_run:
        conn.execute("DELETE FROM runs WHERE run_id = ?", (run_id,))
    else:
        conn.execute(
            "UPDATE runs SET status = ?, stop_reason = ?, error = ?, ended_at = ?, "
            "updated_at = ?, lease_expires_at = NULL WHERE run_id = ?",
            (status, stop_reason, jdump_opt(error), now, now, run_id),
        )
    if snapshot is not None:
        write_snapshot(conn, run.thread_id, snapshot, now)
    else:
        refresh_status(conn, [run.thread_id], now)
    return run
