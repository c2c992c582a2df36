"""The run queue on PostgreSQL: claim, leases, requeue, reaping, and the NOTIFY wake-up.

A claim is one transaction of two statements. The first locks, with `SKIP LOCKED`, the threads
of the oldest due runs whose thread has no running run; the second — a fresh snapshot taken
after those locks were granted — picks each locked thread's oldest due run and marks it running.
Whoever else could start a run on those threads must hold the same thread lock, so they have
either committed (and the second statement sees their running run) or will wait for us. The
unique index `runs_one_running` backs the rule in the schema itself.

Wake-ups: every transaction that makes a run claimable (insert, finish, cancel, requeue, reap)
runs `pg_notify('threadloom_runs')`; `listen_for_work` waits for one on a dedicated connection.
The cluster's Redis broker also carries `wake_workers`, so a worker may use either.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from datetime import datetime

from psycopg import AsyncConnection
from psycopg.rows import dict_row

from threadloom.storage.postgres import queries as q
from threadloom.storage.postgres.db import Database
from threadloom.storage.postgres.rows import run_from_row
from threadloom.storage.records import Run


async def claim(db: Database, worker_id: str, limit: int, lease_seconds: float) -> list[Run]:
    if limit <= 0:
        return []
    # pipeline mode, BEGIN/COMMIT sent by hand: BEGIN rides with the lock, COMMIT with the
    # update, so a claim is two round trips instead of four (an empty one: two instead of three)
    async with (
        db.pool.connection() as conn,
        conn.pipeline(),
        conn.cursor(row_factory=dict_row) as cur,
    ):
        try:
            await cur.execute("BEGIN")
            # a claim is lease bookkeeping: lost in a database crash, the run is simply pending
            # again, so its commit need not wait for the WAL flush (3-6 ms here under load)
            await cur.execute("SET LOCAL synchronous_commit TO off")
            await cur.execute(q.CLAIM_LOCK_THREADS, {"scan": max(limit * 8, 64), "limit": limit})
            threads = [r["thread_id"] for r in await cur.fetchall()]
            if not threads:
                await conn.execute("COMMIT")
                return []
            await cur.execute(
                q.CLAIM_RUNS, {"threads": threads, "worker_id": worker_id, "lease": lease_seconds}
            )
            await conn.execute("COMMIT")
            rows = await cur.fetchall()
        except BaseException:
            with contextlib.suppress(Exception):
                await conn.rollback()
            raise
    rows.sort(key=lambda r: (r["created_at"], r["seq"]))
    return [run_from_row(r) for r in rows]


async def next_due_at(db: Database) -> datetime | None:
    row = await db.fetchone(q.NEXT_DUE)
    return None if row is None else row["created_at"]


async def heartbeat(
    db: Database, worker_id: str, run_ids: Sequence[str], lease_seconds: float
) -> list[str]:
    if not run_ids:
        return []
    rows = await db.fetchall(q.HEARTBEAT, (lease_seconds, worker_id, list(run_ids)))
    held = {r["run_id"] for r in rows}
    return [rid for rid in run_ids if rid in held]


async def requeue(db: Database, run_ids: Sequence[str], worker_id: str | None) -> int:
    if not run_ids:
        return 0
    async with db.transaction() as cur:
        await cur.execute(q.REQUEUE, (list(run_ids), worker_id, worker_id))
        count = len(await cur.fetchall())
        if count:
            await cur.execute(q.NOTIFY)
    return count


async def reap_expired(db: Database, now: datetime) -> list[Run]:
    async with db.transaction() as cur:
        await cur.execute(q.REAP_EXPIRED, (now,))
        rows = await cur.fetchall()
        if rows:
            await cur.execute(q.NOTIFY)
    rows.sort(key=lambda r: (r["created_at"], r["seq"]))
    return [run_from_row(r) for r in rows]


class WorkListener:
    """A LISTEN connection: `wait(timeout)` returns on the next NOTIFY (or the timeout).

    Notifications that arrive while nobody waits are remembered, so a wake-up sent while a
    worker was busy claiming is not lost.
    """

    def __init__(self, url: str, connect_kwargs: dict[str, object]) -> None:
        self._url = url
        self._kwargs = connect_kwargs
        self._conn: AsyncConnection[object] | None = None
        self._task: asyncio.Task[None] | None = None
        self._event = asyncio.Event()

    async def start(self) -> None:
        self._conn = await AsyncConnection.connect(self._url, **self._kwargs)  # type: ignore[arg-type]
        await self._conn.execute(f"LISTEN {q.NOTIFY_CHANNEL}")
        self._task = asyncio.create_task(self._pump(), name="threadloom-pg-listen")

    async def _pump(self) -> None:
        assert self._conn is not None
        async for _ in self._conn.notifies():
            self._event.set()

    async def wait(self, timeout: float | None) -> None:  # noqa: ASYNC109
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._event.wait(), timeout)
        self._event.clear()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None
        if self._conn is not None:
            await self._conn.close()
            self._conn = None
