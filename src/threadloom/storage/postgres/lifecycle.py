"""The run transitions that must be atomic with their thread: create (multitask rules), cancel,
finish. Each runs in one transaction that first locks the thread row, so many API processes and
workers deciding about the same thread take turns instead of racing. The decisions are
`run_rules`' and the shared SQL `storage/dialect.py`'s; this module executes them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from psycopg import errors as pg_errors

from threadloom import run_rules as rules
from threadloom.errors import Conflict
from threadloom.storage.operations import RunCreateResult, SlotOffer
from threadloom.storage.postgres import queries as q
from threadloom.storage.postgres.db import Cursor, Database
from threadloom.storage.postgres.rows import RUN_FIELDS, opt_jsonb, run_from_row, run_to_params
from threadloom.storage.postgres.sqlfilter import DIALECT, Predicate, jsonb
from threadloom.storage.postgres.threads import (
    insert_thread,
    lock_thread_metadata,
    refresh_status,
)
from threadloom.storage.records import Assistant, Run, ThreadSnapshot, ThreadTTL
from threadloom.storage.sql_builders import select_inflight_runs


async def inflight_runs(cur: Cursor, thread_id: str) -> list[Run]:
    await cur.execute(q.INFLIGHT_RUNS, (thread_id,))
    return [run_from_row(r) for r in await cur.fetchall()]


async def create_run(
    cur: Cursor,
    run: Run,
    if_not_exists: str,
    thread_metadata: Mapping[str, Any] | None,
    prevent_insert_if_inflight: bool,
    filters: Mapping[str, Any] | None,
    thread_ttl: ThreadTTL | None = None,
    assistant_metadata: Mapping[str, Any] | None = None,
) -> RunCreateResult:
    """Execute `run_rules.plan_create`: thread create-or-check, insert, multitask cancels."""

    async def plan_for(found: dict[str, Any] | None) -> rules.CreatePlan:
        return rules.plan_create(
            run,
            thread_metadata=thread_metadata,
            if_not_exists=if_not_exists,
            prevent_insert_if_inflight=prevent_insert_if_inflight,
            filters=filters,
            found_metadata=found,
            inflight=await inflight_runs(cur, run.thread_id) if found is not None else (),
            assistant_metadata=assistant_metadata,
        )

    plan = await plan_for(await lock_thread_metadata(cur, run.thread_id))
    created = False
    if plan.create_thread:
        created = (
            await insert_thread(cur, run.thread_id, plan.thread_metadata or {}, thread_ttl, "busy")
        ) is not None
        if not created:  # another process created it in the meantime: treat as existing
            existing = await lock_thread_metadata(cur, run.thread_id)
            assert existing is not None
            plan = await plan_for(existing)
    if not plan.insert:
        assert plan.existing_run is not None
        return RunCreateResult(plan.existing_run, False, [])

    run.status = "pending"
    run.metadata = plan.run_metadata if plan.run_metadata is not None else run.metadata
    try:
        await cur.execute(q.INSERT_RUN, run_to_params(run))
    except pg_errors.UniqueViolation as exc:
        raise Conflict(f"Run {run.run_id} already exists") from exc

    cancelled: list[Run] = []
    if plan.cancel_action is not None:
        cancelled = await cancel_runs(cur, plan.cancel, plan.cancel_action)
    if not created:
        metadata = jsonb(plan.thread_metadata) if plan.thread_metadata is not None else None
        await cur.execute(q.MARK_THREAD_BUSY, (metadata, run.thread_id))
    return RunCreateResult(run, created, cancelled)


async def create_run_on_new_thread(
    db: Database,
    run: Run,
    thread_metadata: Mapping[str, Any] | None,
    durable: bool,
    assistant: Assistant | None,
    lease_seconds: float,
    thread_ttl: ThreadTTL | None = None,
) -> RunCreateResult | None:
    """The stateless run's path: thread and run in one statement. None when the thread already
    exists (nothing was written; the caller takes the locking path)."""
    run.status = "pending"
    created = rules.new_thread_metadata(run, thread_metadata)
    given = run.metadata
    run.metadata = rules.run_metadata(
        run, assistant.metadata if assistant is not None else None, None
    )
    params: dict[str, Any] = {
        "thread_id": run.thread_id,
        "metadata": jsonb(created),
        "sync": "on" if durable else "off",
        "aid": assistant.assistant_id if assistant is not None else None,
        "aversion": assistant.version if assistant is not None else None,
        "aupdated": assistant.updated_at if assistant is not None else None,
        "ttl_strategy": thread_ttl.strategy if thread_ttl is not None else None,
        "ttl_minutes": float(thread_ttl.ttl_minutes) if thread_ttl is not None else None,
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
        run.metadata = given  # the locking path plans again from what the run was given
        return None
    if row["worker_id"] is not None:
        run.status = "running"
        run.worker_id = row["worker_id"]
        run.attempt = 1
    return RunCreateResult(run, True, [], workers_notified=not durable)


async def cancel_runs(cur: Cursor, runs: Iterable[Run], action: str) -> list[Run]:
    """Execute `run_rules.plan_cancel` for each run. Thread statuses are the caller's to
    refresh."""
    request = jsonb(rules.cancel_request(action))
    affected: list[Run] = []
    for run in runs:
        step = rules.plan_cancel(run, action)
        if step == "delete":
            await cur.execute(q.DELETE_PENDING_RUN, (run.run_id,))
            if await cur.fetchone() is not None:
                affected.append(rules.deleted_by_cancel(run, action))
            continue
        sql = q.CANCEL_PENDING_RUN if step == "interrupt" else q.FLAG_RUNNING_RUN
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
    selection = rules.cancel_selection(run_ids, thread_id, status)
    if selection is None:
        return []
    ids, thread, narrowed = selection
    select, params = select_inflight_runs(
        DIALECT, RUN_FIELDS, run_ids=ids, thread_id=thread, status=narrowed, access=access
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
    await refresh_status(cur, rules.threads_of(affected))
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
    rules.check_finish(status)
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
