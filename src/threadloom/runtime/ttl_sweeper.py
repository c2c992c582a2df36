"""The background task that sweeps expired threads (the rules: `services/thread_ttl.py`).

Every API process runs one (embedded and cluster alike): each sweep is one bounded transaction in
which storage takes each expired thread exactly once, so any number of sweepers can run at
once. A full batch means a backlog: the next batch follows after a pause of `BACKLOG_PAUSE_RATIO`
times as long as that batch took, so a backlog drains in bounded steps while taking at most a
quarter of the database's time from the traffic (bench/thread_ttl.py measures it).
"""

from __future__ import annotations

import asyncio
import logging
import time

from threadloom.runtime.background import BackgroundLoop
from threadloom.runtime.broker import Broker
from threadloom.services.thread_ttl import ThreadTTLPolicy, sweep_once
from threadloom.storage.base import Storage

logger = logging.getLogger(__name__)

BACKLOG_PAUSE_RATIO = 3.0
MIN_BACKLOG_PAUSE_SECONDS = 0.05


class ThreadTTLSweeper(BackgroundLoop):
    task_name = "threadloom-ttl-sweeper"

    def __init__(self, storage: Storage, broker: Broker, policy: ThreadTTLPolicy) -> None:
        super().__init__()
        self.storage = storage
        self.broker = broker
        self.policy = policy

    async def _loop(self) -> None:
        interval = self.policy.sweep_interval_minutes * 60
        while True:
            started = time.perf_counter()
            try:
                taken = await sweep_once(self.storage, self.broker, self.policy)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("thread TTL sweep failed; trying again next interval")
                taken = 0
            if taken >= self.policy.batch_size:
                # a backlog: the next batch soon, traffic in between
                spent = time.perf_counter() - started
                await asyncio.sleep(max(MIN_BACKLOG_PAUSE_SECONDS, spent * BACKLOG_PAUSE_RATIO))
                continue
            await asyncio.sleep(interval)
