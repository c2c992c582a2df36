"""The cron scheduler: sleeps until the next due firing (woken early when crons change),
claims what is due and creates one run per firing through the ordinary run-creation path.

Any number of processes (`serve`, `dev`, `worker`) may run it at once: the claim
(`CronStore.claim_due`) leases due crons (PostgreSQL: `FOR UPDATE SKIP LOCKED`) so they share
the work, and each firing's slot is consumed only in the transaction that inserts its run
(`services.crons.fire`, rule in `storage/cron_sql.py`): a process killed between claim and
insert loses nothing (its lease runs out and another fires the slot), and no slot is fired
twice. A cron that missed slots while no scheduler ran fires once and continues from the next
slot after now. `now` is injectable so tests drive the clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime

from threadloom.serde import utcnow
from threadloom.services import crons as cron_service
from threadloom.services.context import ServerContext
from threadloom.storage.records import Cron

logger = logging.getLogger("threadloom.crons")

BATCH = 100
# firings of one batch whose runs are being created at once: each is a few round trips to the
# database, so a batch due together (or a backlog) is fired well within its claim's lease
FIRE_CONCURRENCY = 8
# the longest sleep: a cron created or changed in another process is seen by then
MAX_SLEEP_SECONDS = 5.0
ERROR_BACKOFF_SECONDS = 1.0


class CronScheduler:
    def __init__(
        self,
        ctx: ServerContext,
        *,
        now: Callable[[], datetime] = utcnow,
        max_sleep: float = MAX_SLEEP_SECONDS,
        lease_seconds: float | None = None,
    ) -> None:
        self._ctx = ctx
        self._lease = lease_seconds or ctx.settings.cron_lease_seconds
        self._now = now
        self._max_sleep = max_sleep
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def wake(self) -> None:
        """Crons changed: look again now (a new one may be due before the current sleep ends)."""
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="cron-scheduler")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def tick(self) -> int:
        """Claim and fire everything due now; how many runs this call created."""
        fired = 0
        while True:
            now = self._now()
            claimed = await self._ctx.storage.crons.claim_due(now, BATCH, self._lease)
            gate = asyncio.Semaphore(FIRE_CONCURRENCY)
            fired += sum(await asyncio.gather(*(self._fire(gate, c, now) for c in claimed)))
            if len(claimed) < BATCH:
                return fired

    async def _fire(self, gate: asyncio.Semaphore, cron: Cron, now: datetime) -> bool:
        async with gate:
            try:
                return await cron_service.fire(self._ctx, cron, now)
            except Exception:  # a service down: the lease runs out, the firing is retried
                logger.exception("cron %s: firing failed, to be retried", cron.cron_id)
                return False

    async def _sleep_seconds(self) -> float:
        due = await self._ctx.storage.crons.next_due_at()
        if due is None:
            return self._max_sleep
        return max(0.0, min(self._max_sleep, (due - self._now()).total_seconds()))

    async def _loop(self) -> None:
        while True:
            try:
                self._wake.clear()
                await self.tick()
                delay = await self._sleep_seconds()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("cron scheduler: claim failed")
                delay = ERROR_BACKOFF_SECONDS
            if delay > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=delay)
