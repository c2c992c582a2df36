"""Deletes long-term memory items whose TTL has passed, every `store.ttl.sweep_interval_minutes`.

Reads already skip such items; the sweep reclaims their rows. Every API process runs one; on
PostgreSQL `Storage.sweep_store` lets one sweep at a time (an advisory lock), the others skip.
"""

from __future__ import annotations

import asyncio
import logging

from threadloom.runtime.background import BackgroundLoop
from threadloom.storage.base import Storage

logger = logging.getLogger("threadloom.store")


class StoreSweeper(BackgroundLoop):
    task_name = "threadloom-store-sweeper"

    def __init__(self, storage: Storage, interval_seconds: float) -> None:
        super().__init__()
        self.storage = storage
        self.interval_seconds = interval_seconds

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
