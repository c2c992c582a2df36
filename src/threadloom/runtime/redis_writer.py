"""Writing run events to Redis Streams: ordered, batched, with backpressure.

`publish` assigns the seq locally (one writer per run at a time: the worker holding its lease),
queues the event and returns; one background task drains the queue with a pipelined batch of
`XADD`s, one packed entry per run per batch, preserving order. Commands that must go out with a
run's first events (`ride_along`) share that pipeline. The first publish to a run in this
process reads the stream's last id, so a retried attempt on another worker keeps counting.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable
from typing import Any

import redis.asyncio as aioredis

from threadloom.errors import Unavailable
from threadloom.runtime.redis_codec import RunLog, pack_events, seq_of

logger = logging.getLogger(__name__)

EVENTS_PER_ENTRY = 256  # events packed into one stream entry at most
LINGER_SECONDS = 0.0  # one loop turn: publishes of the same tick share a round trip
BACKPRESSURE_SECONDS = 1.0  # how long a publisher waits for a full queue to drain
FLUSH_TIMEOUT_SECONDS = 10.0  # how long a flush waits for queued events to be written
FLUSH_HIGH_WATER = 4096  # queued entries at which publish() waits for a flush (backpressure)


class EventWriter:
    """The publishing half of the Redis broker (one per process)."""

    def __init__(
        self,
        redis: Callable[[], aioredis.Redis],
        stream_key: Callable[[str], str],
        buffer_events: int,
        idle_ttl_seconds: float,
    ) -> None:
        self._redis = redis
        self._stream_key = stream_key
        self.buffer_events = buffer_events
        self.idle_ttl_seconds = idle_ttl_seconds
        self.logs: dict[str, RunLog] = {}
        self._open_lock = asyncio.Lock()
        self._queue: deque[tuple[str, int, str, bytes]] = deque()
        self._queued = asyncio.Event()
        self._drained = asyncio.Event()
        self._drained.set()
        self._riders: list[tuple[Callable[[Any], int], asyncio.Future[list[Any]]]] = []
        self._flusher: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._flusher = asyncio.create_task(self._flush_loop(), name="redis-broker-flusher")

    async def stop(self) -> None:
        if self._flusher is not None:
            self._flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._flusher
            self._flusher = None

    async def open_log(self, run_id: str) -> RunLog:
        async with self._open_lock:
            log = self.logs.get(run_id)
            if log is None:
                last: Any = await self._redis().xrevrange(self._stream_key(run_id), count=1)
                log = RunLog(seq_of(last[0][0]) if last else 0)
                self.logs[run_id] = log
            return log

    async def publish(self, run_id: str, event: str, data: bytes) -> int:
        log = self.logs.get(run_id) or await self.open_log(run_id)
        log.seq += 1
        seq = log.seq
        if event == "values":
            log.values = data
        elif event == "error":
            log.error = data
        self._queue.append((run_id, seq, event, data))
        self._drained.clear()
        self._queued.set()
        if len(self._queue) >= FLUSH_HIGH_WATER:
            await self._backpressure()
        return seq

    async def _backpressure(self) -> None:
        """Let the flusher catch up; if Redis is away, bound the queue by dropping the oldest
        events (readers skip dropped events, as with a trimmed log) instead of stalling runs."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._drained.wait(), BACKPRESSURE_SECONDS)
        excess = len(self._queue) - max(self.buffer_events, FLUSH_HIGH_WATER)
        if excess > 0:
            for _ in range(excess):
                self._queue.popleft()
            logger.warning("redis broker: Redis is not keeping up; dropped %d events", excess)

    async def _flush_loop(self) -> None:
        delay = 0.05
        while True:
            await self._queued.wait()
            await asyncio.sleep(LINGER_SECONDS)  # let a burst of publishes share one round trip
            try:
                await self._write_queued()
                delay = 0.05
            except asyncio.CancelledError:
                raise
            except Exception:  # Redis blip: the batch went back to the queue; retry
                logger.exception("redis broker: writing events failed; retrying")
                await asyncio.sleep(delay)
                delay = min(delay * 2, 1.0)

    def ride_along(self, add: Callable[[Any], int]) -> asyncio.Future[list[Any]]:
        """Queue commands for the flusher's next pipeline, ahead of the events it writes:
        `add(pipe)` appends them and says how many; the future gets their results. A run's
        start-up costs no round trip of its own this way: it rides with its first events."""
        future: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()
        self._riders.append((add, future))
        self._drained.clear()
        self._queued.set()
        return future

    async def _write_queued(self) -> None:
        """Drain the queue: one pipelined round trip, one stream entry per run per batch."""
        while self._queue or self._riders:
            batch = [self._queue.popleft() for _ in range(min(len(self._queue), 8192))]
            riders, self._riders = self._riders, []
            by_run: dict[str, list[tuple[int, str, bytes]]] = {}
            for run_id, seq, event, data in batch:
                by_run.setdefault(run_id, []).append((seq, event, data))
            pipe = self._redis().pipeline(transaction=False)
            counts = [add(pipe) for add, _future in riders]
            for run_id, events in by_run.items():
                key = self._stream_key(run_id)
                for start in range(0, len(events), EVENTS_PER_ENTRY):
                    chunk = events[start : start + EVENTS_PER_ENTRY]
                    last = chunk[-1][0]
                    pipe.xadd(
                        key,
                        {b"s": str(chunk[0][0]).encode(), b"p": pack_events(chunk)},
                        id=f"{last}-0",
                        minid=str(max(0, last - self.buffer_events + 1)),
                        approximate=False,
                    )
                pipe.expire(key, int(self.idle_ttl_seconds))
            try:
                results = await pipe.execute(raise_on_error=False)
            except Exception as exc:
                self._queue.extendleft(reversed(batch))  # keep order for the retry
                for _add, future in riders:
                    if not future.done():
                        future.set_exception(exc)
                raise
            offset = 0
            for (_add, future), count in zip(riders, counts, strict=True):
                if not future.done():
                    future.set_result(results[offset : offset + count])
                offset += count
            for result in results[offset:]:
                if isinstance(result, Exception):
                    logger.warning("redis broker: events dropped: %s", result)
        self._queued.clear()
        self._drained.set()

    async def flush(self) -> None:
        """Wait until everything published so far is in Redis (Unavailable if it stays away)."""
        if self._flusher is None or self._flusher.done():
            await self._write_queued()
            return
        try:
            await asyncio.wait_for(self._drained.wait(), FLUSH_TIMEOUT_SECONDS)
        except TimeoutError as exc:
            raise Unavailable("Redis is unreachable: run events could not be written") from exc
