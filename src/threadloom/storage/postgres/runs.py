"""Runs on PostgreSQL: the RunStore surface over `lifecycle` (atomic transitions) and `queue`."""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal

import psycopg
from psycopg import errors as pg_errors

from threadloom import run_rules as rules
from threadloom.errors import Conflict
from threadloom.storage import filters as flt
from threadloom.storage.base import Filters, RunStore, SortOrder
from threadloom.storage.errors import FiringTaken, StaleAssistant
from threadloom.storage.operations import (
    ClaimBatch,
    RunActivity,
    RunCreateResult,
    RunCursor,
    RunMeasure,
    RunStatusClause,
    SlotOffer,
)
from threadloom.storage.postgres import lifecycle, queue
from threadloom.storage.postgres import queries as q
from threadloom.storage.postgres.assistant_cache import AssistantCache
from threadloom.storage.postgres.crons import consume_firing
from threadloom.storage.postgres.db import Database
from threadloom.storage.postgres.rows import RUN_FIELDS, opt_jsonb, run_from_row
from threadloom.storage.postgres.sqlfilter import DIALECT, compile_filter, jsonb, page_bounds
from threadloom.storage.records import (
    Assistant,
    CronFiring,
    QueueStats,
    Run,
    ThreadSnapshot,
    ThreadTTL,
)
from threadloom.storage.sql_builders import (
    inflight_counts,
    median_due_created_at,
    queue_stats,
    run_activity,
    search_all_runs,
)

_R_COLUMNS = ", ".join(f"r.{f}" for f in RUN_FIELDS)


class PostgresRunStore(RunStore):
    finish_wakes_workers = True  # threadloom_finish NOTIFYs when a run waits (migration 0007)

    def __init__(
        self,
        db: Database,
        assistants: AssistantCache | None = None,
        *,
        lease_seconds: float = 30.0,
    ) -> None:
        self._db = db
        self._assistants = assistants or AssistantCache()
        self._lease_seconds = lease_seconds  # of runs handed to a worker at insert

    async def create_run(
        self,
        run: Run,
        *,
        if_not_exists: Literal["reject", "create"] = "reject",
        thread_metadata: dict[str, Any] | None = None,
        prevent_insert_if_inflight: bool = False,
        filters: Filters = None,
        durable: bool = True,
        assistant: Assistant | None = None,
        thread_ttl: ThreadTTL | None = None,
        firing: CronFiring | None = None,
    ) -> RunCreateResult:
        checked = flt.validate(filters) if filters else None
        try:
            if firing is not None:  # the cron's advance is fetched: no pipeline, no fast path
                async with self._db.transaction() as cur:
                    if assistant is not None:
                        await cur.execute(
                            q.CHECK_ASSISTANT,
                            (assistant.assistant_id, assistant.version, assistant.updated_at),
                        )
                    result = await lifecycle.create_run(
                        cur,
                        run,
                        if_not_exists,
                        thread_metadata,
                        False,
                        checked,
                        thread_ttl,
                        assistant.metadata if assistant is not None else None,
                    )
                    # last, so the lock order is the thread's then the cron's (as a cascade)
                    if not await consume_firing(cur, firing):
                        raise FiringTaken(firing.cron_id)  # rolls back: no run, no advance
                    return result
            if if_not_exists == "create":  # a new thread needs no lock and no inflight check
                created = await lifecycle.create_run_on_new_thread(
                    self._db,
                    run,
                    thread_metadata,
                    durable,
                    assistant,
                    self._lease_seconds,
                    thread_ttl,
                )
                if created is not None:
                    return created
            # pipelined: the guard, the insert and the thread update share round trips with
            # the thread lock and COMMIT, so their errors may surface at a later statement
            async with self._db.transaction(pipeline=True) as cur:
                if not durable:  # see create_run_on_new_thread
                    await cur.execute(q.SYNC_COMMIT_OFF)
                    await cur.execute(q.NOTIFY)
                if assistant is not None:
                    await cur.execute(
                        q.CHECK_ASSISTANT,
                        (assistant.assistant_id, assistant.version, assistant.updated_at),
                    )
                result = await lifecycle.create_run(
                    cur,
                    run,
                    if_not_exists,
                    thread_metadata,
                    prevent_insert_if_inflight,
                    checked,
                    thread_ttl,
                    assistant.metadata if assistant is not None else None,
                )
                result.workers_notified = not durable
                return result
        except pg_errors.UniqueViolation as exc:
            raise Conflict(f"Run {run.run_id} already exists") from exc
        except psycopg.Error as exc:
            if exc.sqlstate == q.STALE_ASSISTANT_SQLSTATE and assistant is not None:
                self._assistants.drop(assistant.assistant_id)
                raise StaleAssistant(assistant.assistant_id) from None
            raise

    async def get(
        self, run_id: str, *, thread_id: str | None = None, filters: Filters = None
    ) -> Run | None:
        sql, params = compile_filter("t.metadata", filters)
        where = "r.run_id = %s"
        args: list[Any] = [run_id]
        if thread_id is not None:
            where += " AND r.thread_id = %s"
            args.append(thread_id)
        row = await self._db.fetchone(
            f"SELECT {_R_COLUMNS} FROM runs r JOIN threads t ON t.thread_id = r.thread_id "
            f"WHERE {where} AND ({sql})",
            [*args, *params],
        )
        return None if row is None else run_from_row(row)

    async def list(
        self,
        thread_id: str,
        *,
        limit: int = 10,
        offset: int = 0,
        status: str | None = None,
        filters: Filters = None,
    ) -> builtins.list[Run] | None:
        sql, params = compile_filter("metadata", filters)
        limit, offset = page_bounds(limit, offset)
        exists = await self._db.fetchone(
            f"SELECT 1 AS ok FROM threads WHERE thread_id = %s AND ({sql})", [thread_id, *params]
        )
        if exists is None:
            return None
        where = "thread_id = %s"
        args: list[Any] = [thread_id]
        if status is not None:
            where += " AND status = %s"
            args.append(status)
        rows = await self._db.fetchall(
            f"SELECT {', '.join(RUN_FIELDS)} FROM runs WHERE {where} "
            "ORDER BY created_at DESC, seq DESC LIMIT %s OFFSET %s",
            [*args, limit, offset],
        )
        return [run_from_row(r) for r in rows]

    async def search_all(
        self,
        *,
        assistant_ids: Sequence[str] | None = None,
        thread_id: str | None = None,
        status_clauses: Sequence[RunStatusClause] | None = None,
        stop_reason: str | None = None,
        background: bool | None = None,
        order: SortOrder = "desc",
        after: RunCursor | None = None,
        before: RunCursor | None = None,
        limit: int = 100,
        offset: int = 0,
        filters: Filters = None,
    ) -> builtins.list[Run]:
        sql, params = search_all_runs(
            DIALECT,
            RUN_FIELDS,
            assistant_ids=assistant_ids,
            thread_id=thread_id,
            status_clauses=status_clauses,
            stop_reason=stop_reason,
            background=background,
            order=order,
            after=after,
            before=before,
            limit=limit,
            offset=offset,
            filters=filters,
        )
        return [run_from_row(r) for r in await self._db.fetchall(sql, params)]

    async def activity(
        self,
        *,
        since: datetime,
        limit: int = 20_000,
        filters: Filters = None,
        newer_than: datetime | None = None,
        recheck: Sequence[str] = (),
    ) -> RunActivity:
        sql, params = run_activity(
            DIALECT,
            since=since,
            limit=limit,
            filters=filters,
            newer_than=newer_than,
            recheck=recheck,
        )
        counts_sql, counts_params = inflight_counts(DIALECT, filters=filters)
        rows = await self._db.fetchall(sql, params)
        counts = {
            r["status"]: r["count"] for r in await self._db.fetchall(counts_sql, counts_params)
        }
        measures = [
            RunMeasure(
                r["run_id"],
                r["created_ms"],
                r["duration_ms"],
                r["ttft_ms"],
                r["status"],
                int(r["total_tokens"]),
            )
            for r in rows[:limit]
        ]
        return RunActivity(
            measures, counts.get("pending", 0), counts.get("running", 0), len(rows) > limit
        )

    async def delete(self, run_id: str, *, thread_id: str, filters: Filters = None) -> bool:
        sql, params = compile_filter("t.metadata", filters)
        async with self._db.transaction() as cur:
            await cur.execute(
                "DELETE FROM runs r USING threads t WHERE t.thread_id = r.thread_id "
                f"AND r.run_id = %s AND r.thread_id = %s AND ({sql}) RETURNING r.status",
                [run_id, thread_id, *params],
            )
            row = await cur.fetchone()
            if row is not None and rules.deleting_refreshes_thread(row["status"]):
                await cur.execute(q.REFRESH_STATUS, ([thread_id],))
        return row is not None

    async def inflight(self, thread_id: str) -> builtins.list[Run]:
        rows = await self._db.fetchall(q.INFLIGHT_RUNS, (thread_id,))
        return [run_from_row(r) for r in rows]

    # --- the queue -----------------------------------------------------------------------
    async def claim_batch(
        self,
        *,
        worker_id: str,
        limit: int,
        lease_seconds: float,
        offer_channel: str | None = None,
        offers: int = 1,
    ) -> ClaimBatch:
        return await queue.claim_batch(
            self._db, worker_id, limit, lease_seconds, offer_channel, offers
        )

    async def renew_offer(self, *, worker_id: str, lease_seconds: float) -> int:
        return await queue.renew_offer(self._db, worker_id, lease_seconds)

    async def withdraw_offer(self, *, worker_id: str) -> builtins.list[str]:
        return await queue.withdraw_offer(self._db, worker_id)

    async def claim(
        self, *, worker_id: str, limit: int, lease_seconds: float
    ) -> builtins.list[Run]:
        batch = await queue.claim_batch(self._db, worker_id, limit, lease_seconds)
        return batch.runs

    async def next_due_at(self) -> datetime | None:
        return await queue.next_due_at(self._db)

    async def heartbeat(
        self, *, worker_id: str, run_ids: Sequence[str], lease_seconds: float
    ) -> builtins.list[str]:
        return await queue.heartbeat(self._db, worker_id, run_ids, lease_seconds)

    async def requeue(self, run_ids: Sequence[str], *, worker_id: str | None = None) -> int:
        return await queue.requeue(self._db, run_ids, worker_id)

    async def queue_stats(self, now: datetime) -> QueueStats:
        sql, params = queue_stats(DIALECT, now)
        row = await self._db.fetchone(sql, params)
        assert row is not None
        median = None
        if row["n_due"]:
            median_sql, median_params = median_due_created_at(DIALECT, now, row["n_due"])
            found = await self._db.fetchone(median_sql, median_params)
            median = found["created_at"] if found else None
        return QueueStats.at(
            now,
            row["n_pending"],
            row["n_running"],
            row["oldest_due"],
            median,
            row["oldest_unblocked"],
        )

    async def reap_expired(self, now: datetime) -> builtins.list[Run]:
        return await queue.reap_expired(self._db, now)

    async def finish(
        self,
        run_id: str,
        *,
        status: str,
        stop_reason: str | None,
        error: dict[str, Any] | None,
        thread: ThreadSnapshot | None = None,
        delete_run: bool = False,
        delete_thread: bool = False,
        offer: SlotOffer | None = None,
    ) -> Run | None:
        return await lifecycle.finish(
            self._db, run_id, status, stop_reason, error, thread, delete_run, delete_thread, offer
        )

    async def request_cancel(
        self,
        *,
        action: Literal["interrupt", "rollback"] = "interrupt",
        run_ids: Sequence[str] | None = None,
        thread_id: str | None = None,
        status: Literal["pending", "running", "all"] | None = None,
        filters: Filters = None,
    ) -> builtins.list[Run]:
        access = compile_filter("t.metadata", filters)
        async with self._db.transaction() as cur:
            return await lifecycle.request_cancel(cur, action, run_ids, thread_id, status, access)

    async def record_progress(
        self,
        run_id: str,
        *,
        first_token_at: datetime | None = None,
        usage: dict[str, Any] | None = None,
        steps: builtins.list[dict[str, Any]] | None = None,
        model_snapshot: dict[str, Any] | None = None,
    ) -> None:
        await self._db.execute(
            q.RECORD_PROGRESS,
            {
                "run_id": run_id,
                "first_token_at": first_token_at,
                "usage": opt_jsonb(usage),
                "steps": opt_jsonb(steps),
                "model_snapshot": opt_jsonb(model_snapshot),
            },
        )

    async def set_webhook(self, run_id: str, webhook: dict[str, Any]) -> None:
        await self._db.execute(q.SET_WEBHOOK, (jsonb(webhook), run_id))
