"""The cron scheduler: sleeps until the next due firing (woken early when crons change),
claims what is due and creates one run per firing through the ordinary run-creation path.

Any number of processes may run it at once: the claim (`CronStore.claim_due`) selects due
crons and advances their `next_run_date` in one transaction (PostgreSQL: `FOR UPDATE SKIP
LOCKED`), so each firing is claimed by exactly one of them. A cron that missed slots while no
scheduler ran fires once and continues from the next slot after now (`services.crons.advance`).
`now` is injectable so tests drive the clock.
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

logger = logging.getLogger("threadloom.crons")

BATCH = 100
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
    ) -> None:
        self._ctx = ctx
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
        """Claim and fire everything due now; how many firings were created."""
        fired = 0
        while True:
            now = self._now()
            claimed = await self._ctx.storage.crons.claim_due(now, BATCH, cron_service.advance(now))
            for cron in claimed:
                try:
                    await cron_service.fire(self._ctx, cron)
                    fired += 1
                except Exception:  # one cron's bad payload must not stop the others
                    logger.exception("cron %s: could not create its run", cron.cron_id)
            if len(claimed) < BATCH:
                return fired

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
