"""The run transitions that must be atomic with their thread: create (multitask rules), cancel,
finish. Each function is one transaction body run on the connection thread by `Database.write`;
the decisions are `run_rules`' and the shared SQL `storage/dialect.py`'s, executed here.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from threadloom import run_rules as rules
from threadloom.storage.operations import RunCreateResult
from threadloom.storage.records import Run, ThreadSnapshot, ThreadTTL
from threadloom.storage.sql_builders import select_inflight_runs
from threadloom.storage.sqlite.db import from_us_req, jdump, jdump_opt, jload
from threadloom.storage.sqlite.rows import RUN_COLUMNS, RUN_FIELDS, run_from_row, run_to_row
from threadloom.storage.sqlite.sqlfilter import DIALECT, Predicate
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


def create_run(
    conn: sqlite3.Connection,
    run: Run,
    if_not_exists: str,
    thread_metadata: Mapping[str, Any] | None,
    prevent_insert_if_inflight: bool,
    filters: Mapping[str, Any] | None,
    now: int,
    thread_ttl: ThreadTTL | None = None,
    assistant_metadata: Mapping[str, Any] | None = None,
) -> RunCreateResult:
    """Execute `run_rules.plan_create`: thread create-or-check, insert, multitask cancels."""
    # only the metadata: the thread's state can be megabytes, and a run's creation needs none
    found = conn.execute(
        "SELECT metadata FROM threads WHERE thread_id = ?", (run.thread_id,)
    ).fetchone()
    existing: dict[str, Any] | None = None if found is None else jload(found[0])
    plan = rules.plan_create(
        run,
        thread_metadata=thread_metadata,
        if_not_exists=if_not_exists,
        prevent_insert_if_inflight=prevent_insert_if_inflight,
        filters=filters,
        found_metadata=existing,
        inflight=inflight_runs(conn, run.thread_id) if existing is not None else (),
        assistant_metadata=assistant_metadata,
    )
    if not plan.insert:
        assert plan.existing_run is not None
        return RunCreateResult(plan.existing_run, False, [])
    if plan.create_thread:
        insert_thread(conn, run.thread_id, plan.thread_metadata or {}, thread_ttl, now, "busy")
    run.status = "pending"
    run.metadata = plan.run_metadata if plan.run_metadata is not None else run.metadata
    conn.execute(INSERT_RUN, run_to_row(run))
    cancelled: list[Run] = []
    if plan.cancel_action is not None:
        cancelled = cancel_runs(conn, plan.cancel, plan.cancel_action, now)
    if not plan.create_thread:
        metadata = jdump(plan.thread_metadata) if plan.thread_metadata is not None else None
        conn.execute(
            "UPDATE threads SET metadata = COALESCE(?, metadata), status = 'busy', "
            f"updated_at = ?, ttl_expires_at = {TTL_REFRESH_EXPR} WHERE thread_id = ?",
            (metadata, now, now, run.thread_id),
        )
    return RunCreateResult(run, plan.create_thread, cancelled)


def cancel_runs(conn: sqlite3.Connection, runs: Iterable[Run], action: str, now: int) -> list[Run]:
    """Execute `run_rules.plan_cancel` for each run. Thread statuses are the caller's to
    refresh."""
    request = jdump(rules.cancel_request(action))
    affected: list[Run] = []
    for run in runs:
        step = rules.plan_cancel(run, action)
        if step == "delete":
            conn.execute("DELETE FROM runs WHERE run_id = ?", (run.run_id,))
            affected.append(rules.deleted_by_cancel(run, action))
            continue
        if step == "interrupt":
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
    selection = rules.cancel_selection(run_ids, thread_id, status)
    if selection is None:
        return []
    ids, thread, narrowed = selection
    sql, params = select_inflight_runs(
        DIALECT, RUN_FIELDS, run_ids=ids, thread_id=thread, status=narrowed, access=access
    )
    runs = [run_from_row(r) for r in conn.execute(sql, params).fetchall()]
    affected = cancel_runs(conn, runs, action, now)
    refresh_status(conn, rules.threads_of(affected), now)
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
    terminal = rules.check_finish(status)
    row = conn.execute(
        f"SELECT {RUN_COLUMNS} FROM runs WHERE run_id = ? AND status IN ('pending', 'running')",
        (run_id,),
    ).fetchone()
    if row is None:
        return None
    run = run_from_row(row)
    run.status, run.stop_reason, run.error = terminal, stop_reason, error
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
