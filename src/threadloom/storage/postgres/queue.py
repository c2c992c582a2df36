"""The run queue on PostgreSQL: claim, leases, requeue and reaping.

A claim is one call of the PL/pgSQL function `threadloom_claim` (migration 0003), whose two
statements each take their own snapshot. The first locks, with `SKIP LOCKED`, the threads of the
oldest due runs whose thread has no running run; the second — a fresh snapshot taken after those
locks were granted — picks each locked thread's oldest due run and marks it running. Whoever else
could start a run on those threads must hold the same thread lock, so they have either committed
(and the second statement sees their running run) or will wait for us. The unique index
`runs_one_running` backs the rule in the schema itself. The claim commits asynchronously: a lease
lost in a database crash only leaves its run pending again.

Wake-ups: a run inserted without waiting for the disk (a /wait run) NOTIFYs `RunListener`s
directly at commit. Every other transaction that makes a run claimable leaves the wake-up to
the broker (Redis in the cluster): a NOTIFY in a commit that waits for the disk would make every
other notifying commit wait behind it, on PostgreSQL's global notify lock.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from psycopg import AsyncConnection

from threadloom.storage.operations import ClaimBatch
from threadloom.storage.postgres import queries as q
from threadloom.storage.postgres.db import Database
from threadloom.storage.postgres.rows import run_from_json, run_from_row
from threadloom.storage.records import Run

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class OfferChannel:
    """Where a worker hears of runs handed to it at insert (`PostgresStorage.listen_for_runs`):
    `channel` is the name it offered slots under, `on_assigned` starts such a run."""

    channel: str
    on_assigned: Callable[[Run], None]


async def claim_batch(
    db: Database,
    worker_id: str,
    limit: int,
    lease_seconds: float,
    offer_channel: str | None = None,
    offers: int = 1,
) -> ClaimBatch:
    """One call of `threadloom_claim` (migrations 0003, 0005, 0006): the claimed runs, and the
    next due time in a trailing row whose run_id is NULL when fewer than `limit` were claimed;
    with `offer_channel`, up to `offers` slots left over are offered (see
    `RunStore.claim_batch`)."""
    if limit <= 0:
        return ClaimBatch([], limit=limit)
    offers = max(offers, 0) if offer_channel is not None else 0
    rows = await db.fetchall(q.CLAIM, (worker_id, limit, lease_seconds, offer_channel, offers))
    runs = [run_from_row(r) for r in rows if r["run_id"] is not None]
    due = next((r["created_at"] for r in rows if r["run_id"] is None), None)
    return ClaimBatch(runs, due, offered=max(0, min(offers, limit - len(runs))), limit=limit)


async def renew_offer(db: Database, worker_id: str, lease_seconds: float) -> int:
    return len(await db.fetchall(q.RENEW_OFFER, (lease_seconds, worker_id)))


async def withdraw_offer(db: Database, worker_id: str) -> list[str]:
    rows = await db.fetchall(q.WITHDRAW_OFFER, (worker_id,))
    return [r["run_id"] for r in rows if r["run_id"] is not None]


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
    return count


async def reap_expired(db: Database, now: datetime) -> list[Run]:
    async with db.transaction() as cur:
        await cur.execute(q.REAP_EXPIRED, (now,))
        rows = await cur.fetchall()
        await cur.execute(q.DROP_EXPIRED_OFFERS)
    rows.sort(key=lambda r: (r["created_at"], r["seq"]))
    return [run_from_row(r) for r in rows]


class RunListener:
    """A LISTEN connection of its own: calls `on_run` for every NOTIFY on the runs channel, and
    with `offers`, `offers.on_assigned(run)` for each run handed to this worker on its channel.

    PostgreSQL delivers the notification when the inserting transaction commits, straight to
    the worker — one hop fewer than the API process relaying a wake-up through Redis. The
    connection is re-opened after a failure (with backoff), and `on_run` is called then too, for
    runs whose notification was lost while it was down (a run handed to this worker in that gap
    comes back with the worker's next claim, which its heartbeat triggers).
    """

    def __init__(
        self,
        url: str,
        connect_kwargs: dict[str, Any],
        on_run: Callable[[], None],
        *,
        offers: OfferChannel | None = None,
    ):
        self._url = url
        self._kwargs = connect_kwargs
        self._on_run = on_run
        self._offers = offers
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._listen(), name="threadloom-pg-listen")

    async def _listen(self) -> None:
        delay = 0.1
        offers = self._offers
        while True:
            try:
                async with await AsyncConnection.connect(self._url, **self._kwargs) as conn:
                    await conn.execute(f"LISTEN {q.NOTIFY_CHANNEL}")
                    if offers is not None:
                        await conn.execute(f'LISTEN "{offers.channel}"')
                    delay = 0.1
                    self._on_run()  # whatever was notified while we were not listening
                    async for notice in conn.notifies():
                        if offers is not None and notice.channel == offers.channel:
                            self._assigned(offers, notice.payload)
                        else:
                            self._on_run()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                logger.warning("run listener: PostgreSQL connection failed (%s); retrying", exc)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)

    def _assigned(self, offers: OfferChannel, payload: str) -> None:
        """The run itself; or, when it was too long for a payload, just its id: then the claim
        this wake-up triggers returns it (a claim returns the run that took the offer)."""
        if not payload.startswith("{"):
            self._on_run()
            return
        try:
            run = run_from_json(orjson.loads(payload))
        except Exception:
            logger.exception("unreadable run handed to this worker: %.200s", payload)
            self._on_run()
            return
        offers.on_assigned(run)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None
