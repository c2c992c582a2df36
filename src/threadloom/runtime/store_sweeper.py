"""Deletes long-term memory items whose TTL has passed, every `store.ttl.sweep_interval_minutes`.

Reads already skip such items; the sweep reclaims their rows. Every API process runs one; on
PostgreSQL `Storage.sweep_store` lets one sweep at a time (an advisory lock), the others skip.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from threadloom.storage.base import Storage

logger = logging.getLogger("threadloom.store")


class StoreSweeper:
    def __init__(self, storage: Storage, interval_seconds: float) -> None:
        self.storage = storage
        self.interval_seconds = interval_seconds
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name="threadloom-store-sweeper")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def sweep_once(self) -> int:
        try:
            deleted = await self.storage.sweep_store()
        except Exception as exc:  # the next sweep tries again; a failed one loses nothing
            logger.warning("store TTL sweep failed: %s", exc)
            return 0
        if deleted:
            logger.info("store TTL sweep deleted %d expired items", deleted)
        return deleted

    async def _loop(self) -> None:
        while True:
            await self.sweep_once()
            await asyncio.sleep(self.interval_seconds)
