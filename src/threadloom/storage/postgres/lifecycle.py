"""The run transitions that must be atomic with their thread: create (multitask rules), cancel,
finish. Each runs in one transaction that first locks the thread row, so many API processes and
workers deciding about the same thread take turns instead of racing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from psycopg import errors as pg_errors

from threadloom.errors import Conflict, InvalidInput, NotFound
from threadloom.storage import filters as flt
from threadloom.storage.base import RunCreateResult, SlotOffer
from threadloom.storage.postgres import queries as q
from threadloom.storage.postgres.db import Cursor, Database
from threadloom.storage.postgres.rows import RUN_FIELDS, opt_jsonb, run_from_row, run_to_params
from threadloom.storage.postgres.sqlfilter import Predicate, jsonb
from threadloom.storage.postgres.threads import (
    insert_thread,
    lock_thread_metadata,
    refresh_status,
)
from threadloom.storage.records import TERMINAL_STATUSES, Assistant, Run, ThreadSnapshot


async def inflight_runs(cur: Cursor, thread_id: str) -> list[Run]:
    await cur.execute(q.INFLIGHT_RUNS, (thread_id,))
    return [run_from_row(r) for r in await cur.fetchall()]


def busy_message(thread_id: str, run_id: str) -> str:
    return (
        f"Thread {thread_id} is already running a task (run {run_id}). "
        "Wait for it to finish or choose a different multitask strategy."
    )


async def create_run(
    cur: Cursor,
    run: Run,
    if_not_exists: str,
    thread_metadata: Mapping[str, Any] | None,
    prevent_insert_if_inflight: bool,
    filters: Mapping[str, Any] | None,
) -> RunCreateResult:
    """Thread create-or-check, inflight check, insert and multitask cancels, in one go."""
    existing = await lock_thread_metadata(cur, run.thread_id)
    created = False
    inflight: list[Run] = []
    if existing is None:
        if if_not_exists != "create":
            raise NotFound(f"Thread {run.thread_id} not found")
        created = (
            await insert_thread(cur, run.thread_id, dict(thread_metadata or {}), None, "busy")
        ) is not None
        if not created:  # another process created it in the meantime: treat as existing
            existing = await lock_thread_metadata(cur, run.thread_id)
            assert existing is not None
    if existing is not None:
        if filters and not flt.evaluate(existing, filters):
            raise NotFound(f"Thread {run.thread_id} not found")
        inflight = await inflight_runs(cur, run.thread_id)
        if inflight and run.multitask_strategy == "reject":
            raise Conflict(busy_message(run.thread_id, inflight[0].run_id))
        if inflight and prevent_insert_if_inflight:
            return RunCreateResult(inflight[0], False, [])

    run.status = "pending"
    try:
        await cur.execute(q.INSERT_RUN, run_to_params(run))
    except pg_errors.UniqueViolation as exc:
        raise Conflict(f"Run {run.run_id} already exists") from exc

    cancelled: list[Run] = []
    if inflight and run.multitask_strategy in ("interrupt", "rollback"):
        cancelled = await cancel_runs(cur, inflight, run.multitask_strategy)
    if existing is not None:
        missing = {k: v for k, v in (thread_metadata or {}).items() if k not in existing}
        metadata = jsonb({**existing, **missing}) if missing else None
        await cur.execute(q.MARK_THREAD_BUSY, (metadata, run.thread_id))
    return RunCreateResult(run, created, cancelled)


async def create_run_on_new_thread(
    db: Database,
    run: Run,
    thread_metadata: Mapping[str, Any] | None,
    durable: bool,
    assistant: Assistant | None,
    lease_seconds: float,
) -> RunCreateResult | None:
    """The stateless run's path: thread and run in one statement. None when the thread already
    exists (nothing was written; the caller takes the locking path)."""
    run.status = "pending"
    params: dict[str, Any] = {
        "thread_id": run.thread_id,
        "metadata": jsonb(dict(thread_metadata or {})),
        "sync": "on" if durable else "off",
        "aid": assistant.assistant_id if assistant is not None else None,
        "aversion": assistant.version if assistant is not None else None,
        "aupdated": assistant.updated_at if assistant is not None else None,
    }
    params.update({f"r{i}": value for i, value in enumerate(run_to_params(run))})
    # a durable insert's commit waits for the disk, and NOTIFY would make every other
    # notifying commit wait behind it: those wake workers through the broker instead
    if durable:
        sql = q.INSERT_RUN_ON_NEW_THREAD
    else:
        sql = q.INSERT_RUN_ON_NEW_THREAD_NOTIFY  # may hand the run to an idle worker at once
        params["lease"] = lease_seconds
    row = await db.fetchone(sql, params)
    if row is None:
        return None
    if row["worker_id"] is not None:
        run.status = "running"
        run.worker_id = row["worker_id"]
        run.attempt = 1
    return RunCreateResult(run, True, [], workers_notified=not durable)


async def cancel_runs(cur: Cursor, runs: Iterable[Run], action: str) -> list[Run]:
    """Pending runs end now (interrupt → interrupted; rollback → deleted); running ones are
    flagged for their worker. Thread statuses are the caller's to refresh."""
    request = jsonb({"action": action})
    affected: list[Run] = []
    for run in runs:
        if run.status == "pending" and action == "rollback":
            await cur.execute(q.DELETE_PENDING_RUN, (run.run_id,))
            if await cur.fetchone() is not None:
                run.cancel_requested = {"action": action}
                run.stop_reason = "cancelled"
                affected.append(run)
            continue
        sql = q.CANCEL_PENDING_RUN if run.status == "pending" else q.FLAG_RUNNING_RUN
        await cur.execute(sql, (request, run.run_id))
        row = await cur.fetchone()
        if row is not None:
            affected.append(run_from_row(row))
    return affected


async def request_cancel(
    cur: Cursor,
    action: str,
    run_ids: Sequence[str] | None,
    thread_id: str | None,
    status: str | None,
    access: Predicate,
) -> list[Run]:
    """Select inflight runs by ids / thread / status (thread metadata must pass `access`)."""
    if run_ids is None and thread_id is None and status is None:
        return []
    clauses = ["r.status IN ('pending', 'running')"]
    params: list[Any] = []
    if run_ids is not None:
        if not run_ids:
            return []
        clauses.append("r.run_id = ANY(%s)")
        params.append(list(run_ids))
    if thread_id is not None:
        clauses.append("r.thread_id = %s")
        params.append(thread_id)
    if status in ("pending", "running"):
        clauses.append("r.status = %s")
        params.append(status)
    elif status not in (None, "all"):
        raise InvalidInput(f"Invalid status {status!r}: expected pending, running or all")
    join = ""
    if access[0] != "TRUE":
        join = "JOIN threads t ON t.thread_id = r.thread_id"
        clauses.append(f"({access[0]})")
        params.extend(access[1])
    select = (
        f"SELECT {', '.join('r.' + f for f in RUN_FIELDS)} FROM runs r {join} "
        f"WHERE {' AND '.join(clauses)} ORDER BY r.created_at, r.seq"
    )
    await cur.execute(select, params)
    candidates = [run_from_row(r) for r in await cur.fetchall()]
    if not candidates:
        return []
    # lock their threads (in a fixed order: no deadlock between two bulk cancels), then look
    # again: a run may have started or ended while we waited
    thread_ids = sorted({r.thread_id for r in candidates})
    await cur.execute(q.LOCK_THREADS, (thread_ids,))
    await cur.execute(select, params)
    runs = [run_from_row(r) for r in await cur.fetchall()]
    affected = await cancel_runs(cur, runs, action)
    await refresh_status(cur, list(dict.fromkeys(r.thread_id for r in affected)))
    return affected


async def finish(
    db: Database,
    run_id: str,
    status: str,
    stop_reason: str | None,
    error: dict[str, Any] | None,
    snapshot: ThreadSnapshot | None,
    delete_run: bool,
    delete_thread: bool,
    offer: SlotOffer | None = None,
) -> Run | None:
    """Terminal status + thread snapshot together, in one call of `threadloom_finish`
    (migration 0003); a run no longer inflight is left alone (None). With `offer`, the same
    statement puts the run's slot back on offer (migration 0006). A stateless run's end
    (`delete_thread`) commits without waiting for the disk: it only deletes, and were it lost
    with a PostgreSQL crash the run would be taken over and end again."""
    if status not in TERMINAL_STATUSES:
        raise InvalidInput(f"finish needs a terminal status, got {status!r}")
    params: tuple[Any, ...] = (
        run_id,
        status,
        stop_reason,
        opt_jsonb(error),
        snapshot is not None,
        snapshot.status if snapshot is not None else None,
        opt_jsonb(snapshot.values) if snapshot is not None else None,
        jsonb(snapshot.interrupts or {}) if snapshot is not None else None,
        opt_jsonb(snapshot.error) if snapshot is not None else None,
        delete_run,
        delete_thread,
    )
    sql = q.FINISH[offer is not None, delete_thread]
    if offer is not None:
        lease, worker = offer.lease_seconds, offer.worker_id
        params = (lease, worker, run_id, worker, offer.channel, lease, *params)
    row = await db.fetchone(sql, params)
    return None if row is None else run_from_row(row)
