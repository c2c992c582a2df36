"""Runs on SQLite: the `RunStore` facade over the lifecycle and queue transaction bodies."""

from __future__ import annotations

import builtins
import sqlite3
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal

from threadloom import run_rules as rules
from threadloom.storage import filters as flt
from threadloom.storage.base import Filters, RunStore, SortOrder
from threadloom.storage.errors import FiringTaken
from threadloom.storage.operations import (
    RunActivity,
    RunCreateResult,
    RunCursor,
    RunMeasure,
    RunStatusClause,
    SlotOffer,
)
from threadloom.storage.paging import page_bounds
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
from threadloom.storage.sqlite import lifecycle, queue
from threadloom.storage.sqlite.crons import consume_firing
from threadloom.storage.sqlite.db import Database, from_us, jdump, now_us, to_us
from threadloom.storage.sqlite.rows import RUN_COLUMNS, RUN_FIELDS, run_from_row
from threadloom.storage.sqlite.sqlfilter import DIALECT, compile_filter
from threadloom.storage.sqlite.threads import refresh_status

_R_COLUMNS = ", ".join(f"r.{f}" for f in RUN_FIELDS)


def _lease_us(lease_seconds: float) -> int:
    return int(lease_seconds * 1_000_000)


class SqliteRunStore(RunStore):
    def __init__(self, db: Database) -> None:
        self._db = db

    async def create_run(
        self,
        run: Run,
        *,
        if_not_exists: Literal["reject", "create"] = "reject",
        thread_metadata: dict[str, Any] | None = None,
        prevent_insert_if_inflight: bool = False,
        filters: Filters = None,
        durable: bool = True,  # one local file: every commit is as cheap as the next
        assistant: Assistant | None = None,  # read uncached by get_for_run: always current
        thread_ttl: ThreadTTL | None = None,
        firing: CronFiring | None = None,
    ) -> RunCreateResult:
        if filters:
            flt.validate(filters)
        args = (run, if_not_exists, thread_metadata, prevent_insert_if_inflight, filters)
        extra = (now_us(), thread_ttl, assistant.metadata if assistant is not None else None)
        if firing is None:
            return await self._db.write(lifecycle.create_run, *args, *extra)

        def fire(conn: sqlite3.Connection) -> RunCreateResult:
            result = lifecycle.create_run(conn, *args, *extra)
            if not consume_firing(conn, firing):  # the write rolls back: no run, no advance
                raise FiringTaken(firing.cron_id)
            return result

        return await self._db.write(fire)

    async def get(
        self, run_id: str, *, thread_id: str | None = None, filters: Filters = None
    ) -> Run | None:
        access_sql, access_params = compile_filter("t.metadata", filters)
        sql = f"SELECT {_R_COLUMNS} FROM runs r "
        params: builtins.list[Any] = []
        if access_sql != "1":
            sql += "JOIN threads t ON t.thread_id = r.thread_id "
        sql += "WHERE r.run_id = ?"
        params.append(run_id)
        if thread_id is not None:
            sql += " AND r.thread_id = ?"
            params.append(thread_id)
        if access_sql != "1":
            sql += f" AND ({access_sql})"
            params.extend(access_params)

        def read(conn: sqlite3.Connection) -> Run | None:
            row = conn.execute(sql, params).fetchone()
            return None if row is None else run_from_row(row)

        return await self._db.read(read)

    async def list(
        self,
        thread_id: str,
        *,
        limit: int = 10,
        offset: int = 0,
        status: str | None = None,
        filters: Filters = None,
    ) -> builtins.list[Run] | None:
        access_sql, access_params = compile_filter("metadata", filters)
        sql = f"SELECT {RUN_COLUMNS} FROM runs WHERE thread_id = ?"
        params: builtins.list[Any] = [thread_id]
        if status is not None:
            sql += " AND status = ?"
            params.append(status)
        sql += " ORDER BY created_at DESC, rowid DESC LIMIT ? OFFSET ?"
        params.extend(page_bounds(limit, offset))

        def read(conn: sqlite3.Connection) -> builtins.list[Run] | None:
            exists = conn.execute(
                f"SELECT 1 FROM threads WHERE thread_id = ? AND ({access_sql})",
                [thread_id, *access_params],
            ).fetchone()
            if exists is None:
                return None
            return [run_from_row(r) for r in conn.execute(sql, params)]

        return await self._db.read(read)

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

        def read(conn: sqlite3.Connection) -> builtins.list[Run]:
            return [run_from_row(r) for r in conn.execute(sql, params)]

        return await self._db.read(read)

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

        def read(conn: sqlite3.Connection) -> RunActivity:
            rows = conn.execute(sql, params).fetchall()
            counts = dict(conn.execute(counts_sql, counts_params).fetchall())
            measures = [
                RunMeasure(r[0], r[1], r[2], r[3], r[4], int(r[5] or 0)) for r in rows[:limit]
            ]
            return RunActivity(
                measures, counts.get("pending", 0), counts.get("running", 0), len(rows) > limit
            )

        return await self._db.read(read)

    async def delete(self, run_id: str, *, thread_id: str, filters: Filters = None) -> bool:
        access_sql, access_params = compile_filter("metadata", filters)

        def tx(conn: sqlite3.Connection) -> bool:
            if access_sql != "1":
                ok = conn.execute(
                    f"SELECT 1 FROM threads WHERE thread_id = ? AND ({access_sql})",
                    [thread_id, *access_params],
                ).fetchone()
                if ok is None:
                    return False
            row = conn.execute(
                "DELETE FROM runs WHERE run_id = ? AND thread_id = ? RETURNING status",
                (run_id, thread_id),
            ).fetchone()
            if row is None:
                return False
            if rules.deleting_refreshes_thread(row[0]):
                refresh_status(conn, [thread_id], now_us())
            return True

        return await self._db.write(tx)

    async def inflight(self, thread_id: str) -> builtins.list[Run]:
        return await self._db.read(lifecycle.inflight_runs, thread_id)

    # --- the queue -----------------------------------------------------------------------
    async def claim(
        self, *, worker_id: str, limit: int, lease_seconds: float
    ) -> builtins.list[Run]:
        if limit <= 0:
            return []
        now = now_us()
        if not await self._db.read(queue.has_due, now):
            return []
        return await self._db.write(queue.claim, worker_id, limit, _lease_us(lease_seconds), now)

    async def next_due_at(self) -> datetime | None:
        """Earliest created_at of a pending run whose thread is not running another run
        (a run blocked behind its thread's running run becomes due when that one finishes)."""
        return from_us(await self._db.read(queue.next_due))

    async def heartbeat(
        self, *, worker_id: str, run_ids: Sequence[str], lease_seconds: float
    ) -> builtins.list[str]:
        return await self._db.write(
            queue.heartbeat, worker_id, list(run_ids), _lease_us(lease_seconds), now_us()
        )

    async def requeue(self, run_ids: Sequence[str], *, worker_id: str | None = None) -> int:
        return await self._db.write(queue.requeue, list(run_ids), worker_id, now_us())

    async def queue_stats(self, now: datetime) -> QueueStats:
        sql, params = queue_stats(DIALECT, now)

        def read(conn: sqlite3.Connection) -> QueueStats:
            n_pending, n_running, n_due, oldest, unblocked = conn.execute(sql, params).fetchone()
            median = None
            if n_due:
                median_sql, median_params = median_due_created_at(DIALECT, now, n_due)
                median = conn.execute(median_sql, median_params).fetchone()[0]
            return QueueStats.at(
                now, n_pending, n_running, from_us(oldest), from_us(median), from_us(unblocked)
            )

        return await self._db.read(read)

    async def reap_expired(self, now: datetime) -> builtins.list[Run]:
        limit = to_us(now)
        assert limit is not None
        return await self._db.write(queue.reap_expired, limit, now_us())

    async def finish(
        self,
        run_id: str,
        *,
        status: str,
        stop_reason: str | None,
        error: dict[str, Any] | None,
        thread: ThreadSnapshot | None,
        delete_run: bool = False,
        delete_thread: bool = False,
        offer: SlotOffer | None = None,  # nothing is handed over at insert here
    ) -> Run | None:
        return await self._db.write(
            lifecycle.finish,
            run_id,
            status,
            stop_reason,
            error,
            thread,
            delete_run,
            delete_thread,
            now_us(),
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
        ids = None if run_ids is None else list(run_ids)
        return await self._db.write(
            lifecycle.request_cancel, action, ids, thread_id, status, access, now_us()
        )

    async def record_progress(
        self,
        run_id: str,
        *,
        first_token_at: datetime | None = None,
        usage: dict[str, Any] | None = None,
        steps: builtins.list[dict[str, Any]] | None = None,
        model_snapshot: dict[str, Any] | None = None,
    ) -> None:
        """`usage`, `steps` and `model_snapshot` replace the stored values when given (the
        caller keeps the running totals); `first_token_at` is kept from the first call."""
        params = (
            to_us(first_token_at),
            None if usage is None else jdump(usage),
            None if steps is None else jdump(steps),
            None if model_snapshot is None else jdump(model_snapshot),
            now_us(),
            run_id,
        )

        def tx(conn: sqlite3.Connection) -> None:
            conn.execute(
                "UPDATE runs SET first_token_at = COALESCE(first_token_at, ?), "
                "usage = COALESCE(?, usage), steps = COALESCE(?, steps), "
                "model_snapshot = COALESCE(?, model_snapshot), updated_at = ? WHERE run_id = ?",
                params,
            )

        await self._db.write(tx)

    async def set_webhook(self, run_id: str, webhook: dict[str, Any]) -> None:
        params = (jdump(webhook), run_id)

        def tx(conn: sqlite3.Connection) -> None:
            conn.execute("UPDATE runs SET webhook = ? WHERE run_id = ?", params)

        await self._db.write(tx)
