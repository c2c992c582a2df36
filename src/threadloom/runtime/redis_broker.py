"""The cluster broker: run event logs in Redis Streams, notices, cancels and wake-ups by pub/sub.

Layout (all keys under `prefix`):
- `{prefix}:run:{run_id}` — a Stream per run. Each entry packs consecutive events (field `s` =
  the first one's seq, `p` = the packed events) and its id is `"{last seq}-0"`, so replay after
  `Last-Event-ID` is a plain `XREAD`/`XRANGE` from `"{after}-0"` (dropping the few earlier events
  of the first entry). Packing makes one entry per flush instead of one per event: Redis and the
  client's parser see a handful of bulk strings for a thousand events. Trimmed exactly by
  `MINID` to the last `buffer_events` seqs (a slow reader skips what was dropped), expired
  `retention_seconds` after `finish` (and `idle_ttl_seconds` after the last write, so an abandoned
  log never leaks). `finish` appends one terminal entry (field `end`) that ends every reader.
- `{prefix}:outcome:{run_id}` — a one-entry stream written with the log's end: the run's last
  `values` and `error` event data, which `/wait` and `/join` block on (one wake-up per run).
- `{prefix}:cancel:{run_id}` — the last cancel action, so a worker that registers `listen_cancel`
  after the signal was sent still sees it (LangGraph's "late subscribers see the last control
  message").
- channels `{prefix}:thread:{thread_id}`, `{prefix}:cancel` (payload `run_id action`) and
  `{prefix}:wake`, all served by one pub/sub connection per process.

Throughput: `publish` assigns the seq locally (one writer per run at a time: the worker holding
its lease), queues the entry and returns; one background task drains the queue with a pipelined
batch of `XADD`s, preserving order. `finish` and `reset` flush first. The first publish to a run
in this process reads the stream's last id, so a retried attempt on another worker keeps counting.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, cast

import redis.asyncio as aioredis
from redis.asyncio.client import PubSub

from threadloom.errors import Unavailable
from threadloom.runtime.broker import (
    Broker,
    CancelAction,
    CancelHandler,
    RunOutcome,
    StreamEvent,
    ThreadNotice,
)
from threadloom.runtime.redis_codec import (
    RunLog,
    decode_notice,
    encode_notice,
    pack_events,
    seq_of,
    unpack_events,
)

logger = logging.getLogger(__name__)

_READ_COUNT = 16  # stream entries per XREAD/XRANGE round trip
_EVENTS_PER_ENTRY = 256  # events packed into one stream entry at most
_LINGER_SECONDS = 0.0  # one loop turn: publishes of the same tick share a round trip
_BACKPRESSURE_SECONDS = 1.0  # how long a publisher waits for a full queue to drain
_FLUSH_TIMEOUT_SECONDS = 10.0  # how long finish/reset wait for queued events to be written
_FLUSH_HIGH_WATER = 4096  # queued entries at which publish() waits for a flush (backpressure)
_CANCEL_ACTIONS: frozenset[str] = frozenset({"interrupt", "rollback"})


class RedisBroker(Broker):
    def __init__(
        self,
        url: str,
        *,
        prefix: str = "threadloom",
        retention_seconds: float = 120.0,
        buffer_events: int = 10_000,
        idle_ttl_seconds: float = 86_400.0,
        block_ms: int = 5_000,
        notice_buffer: int = 1000,
        max_connections: int = 4096,
    ) -> None:
        self.url = url
        self.prefix = prefix
        self.retention_seconds = retention_seconds
        self.buffer_events = buffer_events
        self.idle_ttl_seconds = idle_ttl_seconds
        self.block_ms = block_ms
        self.notice_buffer = notice_buffer
        self.max_connections = max_connections
        self._redis: aioredis.Redis | None = None
        self._pubsub: PubSub | None = None
        self._listener: asyncio.Task[None] | None = None
        self._flusher: asyncio.Task[None] | None = None
        self._sub_lock = asyncio.Lock()
        self._open_lock = asyncio.Lock()
        # publishing
        self._logs: dict[str, RunLog] = {}
        self._queue: deque[tuple[str, int, str, bytes]] = deque()
        self._queued = asyncio.Event()
        self._drained = asyncio.Event()
        self._drained.set()
        # subscriptions
        self._thread_queues: dict[str, set[asyncio.Queue[ThreadNotice]]] = {}
        self._cancel_handlers: dict[str, set[CancelHandler]] = {}
        self._woken = asyncio.Event()
        # identifies this process's wake-ups, so their echo does not cost a second empty claim
        self._wake_token = os.urandom(8).hex().encode()
        self._handler_tasks: set[asyncio.Future[Any]] = set()
        self._riders: list[tuple[Callable[[Any], int], asyncio.Future[list[Any]]]] = []

    # --- keys ----------------------------------------------------------------------------
    def _stream_key(self, run_id: str) -> str:
        return f"{self.prefix}:run:{run_id}"

    def _outcome_key(self, run_id: str) -> str:
        return f"{self.prefix}:outcome:{run_id}"

    def _cancel_key(self, run_id: str) -> str:
        return f"{self.prefix}:cancel:{run_id}"

    def _thread_channel(self, thread_id: str) -> str:
        return f"{self.prefix}:thread:{thread_id}"

    @property
    def _cancel_channel(self) -> str:
        return f"{self.prefix}:cancel"

    @property
    def _wake_channel(self) -> str:
        return f"{self.prefix}:wake"

    @property
    def redis(self) -> aioredis.Redis:
        if self._redis is None:
            raise RuntimeError("RedisBroker.start() was not called")
        return self._redis

    # --- lifecycle -----------------------------------------------------------------------
    async def start(self) -> None:
        if self._redis is not None:
            return
        # the socket timeout must outlast a blocking XREAD (redis-py's default, 5 s, does not).
        # Every follower of a run's log blocks in XREAD on a connection of its own, so the pool
        # is large and *blocking*: redis-py's default pool (100) raises once they are all taken,
        # which turned the 101st concurrent stream or /wait into a 503.
        pool = aioredis.BlockingConnectionPool.from_url(
            self.url,
            max_connections=self.max_connections,
            timeout=_FLUSH_TIMEOUT_SECONDS,
            decode_responses=False,
            socket_timeout=self.block_ms / 1000 + 10.0,
            socket_connect_timeout=5.0,
        )
        self._redis = aioredis.Redis(connection_pool=pool)
        await self._redis.ping()
        self._pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
        await self._pubsub.subscribe(self._cancel_channel, self._wake_channel)
        self._listener = asyncio.create_task(self._listen(), name="redis-broker-listener")
        self._flusher = asyncio.create_task(self._flush_loop(), name="redis-broker-flusher")

    async def stop(self) -> None:
        if self._redis is None:
            return
        with contextlib.suppress(Exception):
            await self._flush()
        if self._handler_tasks:  # wake-ups and cancel handlers still in flight
            await asyncio.wait(set(self._handler_tasks), timeout=_FLUSH_TIMEOUT_SECONDS)
        for task in (self._flusher, self._listener):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        self._flusher = self._listener = None
        if self._pubsub is not None:
            with contextlib.suppress(Exception):
                await self._pubsub.aclose()
            self._pubsub = None
        await self._redis.aclose(close_connection_pool=True)
        self._redis = None
        self._logs.clear()

    # --- run event logs ------------------------------------------------------------------
    async def _open_log(self, run_id: str) -> RunLog:
        async with self._open_lock:
            log = self._logs.get(run_id)
            if log is None:
                last: Any = await self.redis.xrevrange(self._stream_key(run_id), count=1)
                log = RunLog(seq_of(last[0][0]) if last else 0)
                self._logs[run_id] = log
            return log

    async def publish(self, run_id: str, event: str, data: bytes) -> int:
        log = self._logs.get(run_id) or await self._open_log(run_id)
        log.seq += 1
        seq = log.seq
        if event == "values":
            log.values = data
        elif event == "error":
            log.error = data
        self._queue.append((run_id, seq, event, data))
        self._drained.clear()
        self._queued.set()
        if len(self._queue) >= _FLUSH_HIGH_WATER:
            await self._backpressure()
        return seq

    async def _backpressure(self) -> None:
        """Let the flusher catch up; if Redis is away, bound the queue by dropping the oldest
        events (readers skip dropped events, as with a trimmed log) instead of stalling runs."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._drained.wait(), _BACKPRESSURE_SECONDS)
        excess = len(self._queue) - max(self.buffer_events, _FLUSH_HIGH_WATER)
        if excess > 0:
            for _ in range(excess):
                self._queue.popleft()
            logger.warning("redis broker: Redis is not keeping up; dropped %d events", excess)

    async def _flush_loop(self) -> None:
        delay = 0.05
        while True:
            await self._queued.wait()
            await asyncio.sleep(_LINGER_SECONDS)  # let a burst of publishes share one round trip
            try:
                await self._write_queued()
                delay = 0.05
            except asyncio.CancelledError:
                raise
            except Exception:  # Redis blip: the batch went back to the queue; retry
                logger.exception("redis broker: writing events failed; retrying")
                await asyncio.sleep(delay)
                delay = min(delay * 2, 1.0)

    def _ride_along(self, add: Callable[[Any], int]) -> asyncio.Future[list[Any]]:
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
            pipe = self.redis.pipeline(transaction=False)
            counts = [add(pipe) for add, _future in riders]
            for run_id, events in by_run.items():
                key = self._stream_key(run_id)
                for start in range(0, len(events), _EVENTS_PER_ENTRY):
                    chunk = events[start : start + _EVENTS_PER_ENTRY]
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

    async def _flush(self) -> None:
        """Wait until everything published so far is in Redis (Unavailable if it stays away)."""
        if self._flusher is None or self._flusher.done():
            await self._write_queued()
            return
        try:
            await asyncio.wait_for(self._drained.wait(), _FLUSH_TIMEOUT_SECONDS)
        except TimeoutError as exc:
            raise Unavailable("Redis is unreachable: run events could not be written") from exc

    async def finish(self, run_id: str) -> None:
        log = self._logs.get(run_id) or await self._open_log(run_id)
        await self._flush()
        key = self._stream_key(run_id)
        pipe = self.redis.pipeline(transaction=False)
        pipe.xadd(key, {b"end": b"1"}, id=f"{log.seq + 1}-0")
        pipe.expire(key, max(1, int(self.retention_seconds)))
        self._write_outcome(pipe, run_id, log.outcome_fields())
        await pipe.execute(raise_on_error=False)
        self._logs.pop(run_id, None)

    def _write_outcome(self, pipe: Any, run_id: str, fields: dict[bytes, bytes]) -> None:
        """The outcome entry: a one-entry stream beside the log, so a `/wait` blocks on it
        alone and wakes once, instead of reading every event of the run."""
        key = self._outcome_key(run_id)
        pipe.xadd(key, fields)
        pipe.expire(key, max(1, int(self.retention_seconds)))

    async def outcome(self, run_id: str, *, follow: bool) -> RunOutcome | None:
        key = self._outcome_key(run_id)
        while True:
            entries: Any
            if follow:
                response: Any = await self.redis.xread({key: "0-0"}, count=1, block=self.block_ms)
                entries = response[0][1] if response else []
            else:
                entries = await self.redis.xrange(key, count=1)
                if not entries:
                    return None
            if entries:
                fields = entries[0][1]
                return RunOutcome(fields.get(b"v"), fields.get(b"e"), fields.get(b"n") == b"1")

    async def read_batches(
        self, run_id: str, *, after: int = 0, follow: bool = True
    ) -> AsyncIterator[list[StreamEvent]]:
        key = self._stream_key(run_id)
        last_id = f"{max(after, 0)}-0"
        while True:
            entries: Any
            if follow:
                response: Any = await self.redis.xread(
                    {key: last_id}, count=_READ_COUNT, block=self.block_ms
                )
                entries = response[0][1] if response else []
            else:
                entries = await self.redis.xrange(key, min=f"({last_id}", count=_READ_COUNT)
                if not entries:
                    return
            batch: list[StreamEvent] = []
            ended = False
            for _entry_id, fields in entries:
                packed = fields.get(b"p")
                if packed is None:  # the terminal entry
                    ended = True
                    break
                unpack_events(int(fields[b"s"]), packed, after, batch)
            if entries:
                last_id = entries[-1][0].decode()
            if batch:
                yield batch
            if ended:
                return

    async def read(
        self, run_id: str, *, after: int = 0, follow: bool = True
    ) -> AsyncIterator[StreamEvent]:
        async for batch in self.read_batches(run_id, after=after, follow=follow):
            for event in batch:
                yield event

    async def is_finished(self, run_id: str) -> bool:
        last: Any = await self.redis.xrevrange(self._stream_key(run_id), count=1)
        return bool(last) and b"end" in last[0][1]

    async def reset(self, run_id: str) -> None:
        """Forget the log. A terminal entry first wakes and ends readers blocked on it (Redis
        serves blocked readers after each command, so they see it before the DEL)."""
        await self._flush()
        self._logs.pop(run_id, None)
        key = self._stream_key(run_id)
        outcome = self._outcome_key(run_id)
        pipe = self.redis.pipeline(transaction=False)
        pipe.xadd(key, {b"end": b"reset"}, id="*", nomkstream=True)
        pipe.xadd(outcome, {b"n": b"0"})  # releases waiters, like the end entry above
        pipe.delete(key, outcome, self._cancel_key(run_id))
        await pipe.execute(raise_on_error=False)

    # --- pub/sub plumbing ----------------------------------------------------------------
    async def _listen(self) -> None:
        assert self._pubsub is not None
        pubsub = self._pubsub
        while True:
            try:
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("redis broker: pub/sub connection failed; retrying")
                await asyncio.sleep(0.5)
                continue
            if message is None or message.get("type") != "message":
                continue
            channel = message["channel"]
            channel = channel.decode() if isinstance(channel, bytes) else channel
            data: bytes = message["data"]
            try:
                self._dispatch(channel, data)
            except Exception:
                logger.exception("redis broker: bad message on %s", channel)

    def _dispatch(self, channel: str, data: bytes) -> None:
        if channel == self._wake_channel:
            if data != self._wake_token:  # our own wake already set the event locally
                self._woken.set()
        elif channel == self._cancel_channel:
            run_id, action = data.decode().split(" ", 1)
            self._fire_cancel(run_id, cast(CancelAction, action))
        elif channel.startswith(f"{self.prefix}:thread:"):
            thread_id = channel[len(self.prefix) + len(":thread:") :]
            notice = decode_notice(data)
            for queue in self._thread_queues.get(thread_id, ()):
                if queue.full():  # a slow subscriber loses its oldest notice, not our memory
                    queue.get_nowait()
                queue.put_nowait(notice)

    def _fire_cancel(self, run_id: str, action: CancelAction) -> None:
        for handler in list(self._cancel_handlers.get(run_id, ())):
            result = handler(action)
            if isinstance(result, Awaitable):
                task = asyncio.ensure_future(result)
                self._handler_tasks.add(task)
                task.add_done_callback(self._handler_tasks.discard)

    # --- thread notices ------------------------------------------------------------------
    async def notify_thread(self, thread_id: str, notice: ThreadNotice) -> None:
        await self.redis.publish(self._thread_channel(thread_id), encode_notice(notice))

    async def thread_notices(self, thread_id: str) -> AsyncIterator[ThreadNotice]:
        queue: asyncio.Queue[ThreadNotice] = asyncio.Queue(self.notice_buffer)
        queues = self._thread_queues.setdefault(thread_id, set())
        first = not queues
        queues.add(queue)
        try:
            if first:
                async with self._sub_lock:
                    assert self._pubsub is not None
                    await self._pubsub.subscribe(self._thread_channel(thread_id))
            while True:
                yield await queue.get()
        finally:
            queues.discard(queue)
            if not queues:
                self._thread_queues.pop(thread_id, None)
                if self._pubsub is not None:
                    with contextlib.suppress(Exception):
                        async with self._sub_lock:
                            await self._pubsub.unsubscribe(self._thread_channel(thread_id))

    async def wait_subscribed(self, thread_id: str) -> None:
        """Test helper: return once this process receives notices for `thread_id`."""
        assert self._pubsub is not None
        channel = self._thread_channel(thread_id).encode()
        for _ in range(200):
            if channel in self._pubsub.channels and thread_id in self._thread_queues:
                return
            await asyncio.sleep(0.005)

    # --- cancel signals ------------------------------------------------------------------
    async def send_cancel(self, run_id: str, action: CancelAction) -> None:
        if action not in _CANCEL_ACTIONS:
            raise ValueError(f"unknown cancel action {action!r}")
        pipe = self.redis.pipeline(transaction=False)
        pipe.set(self._cancel_key(run_id), action, ex=max(1, int(self.idle_ttl_seconds)))
        pipe.publish(self._cancel_channel, f"{run_id} {action}")
        await pipe.execute()

    async def listen_cancel(
        self, run_id: str, handler: CancelHandler
    ) -> Callable[[], Awaitable[None]]:
        self._cancel_handlers.setdefault(run_id, set()).add(handler)
        earlier: Any = await self.redis.get(self._cancel_key(run_id))
        if earlier is not None:
            action = earlier.decode()
            if action in _CANCEL_ACTIONS:
                result = handler(cast(CancelAction, action))
                if isinstance(result, Awaitable):
                    await result

        async def unsubscribe() -> None:
            handlers = self._cancel_handlers.get(run_id)
            if handlers is not None:
                handlers.discard(handler)
                if not handlers:
                    self._cancel_handlers.pop(run_id, None)

        return unsubscribe

    # --- a run's start and end, batched ----------------------------------------------------
    async def begin_run(
        self,
        run_id: str,
        thread_id: str,
        handler: CancelHandler,
        started: ThreadNotice,
        *,
        first_attempt: bool = False,
    ) -> Callable[[], Awaitable[None]]:
        """`listen_cancel` + opening the run's log + the `run_started` notice in one round trip.

        On a run's first attempt its log is known to be empty, so nothing needs reading before
        the first publish: the late-cancel check and the notice then ride with the run's first
        events (`_ride_along`), alongside the graph's start instead of before it. The handler is
        registered before this returns either way, so no cancel published from now on is
        missed; one sent earlier is found by the check (its key is set before it is
        published)."""
        self._cancel_handlers.setdefault(run_id, set()).add(handler)
        opened = run_id in self._logs
        if first_attempt and not opened:
            self._logs[run_id] = RunLog(0)
            opened = True
        cancel_key = self._cancel_key(run_id)
        stream_key = self._stream_key(run_id)
        channel = self._thread_channel(thread_id)
        notice = encode_notice(started)

        def add(pipe: Any) -> int:
            pipe.get(cancel_key)
            if not opened:
                pipe.xrevrange(stream_key, count=1)
            pipe.publish(channel, notice)
            return 2 if opened else 3

        async def check() -> None:
            results: list[Any]
            if opened:
                results = await self._ride_along(add)
            else:
                pipe = self.redis.pipeline(transaction=False)
                add(pipe)
                results = await pipe.execute()
            for result in results:
                if isinstance(result, Exception):
                    raise result
            if not opened and run_id not in self._logs:
                last = results[1]
                self._logs[run_id] = RunLog(seq_of(last[0][0]) if last else 0)
            earlier = results[0]
            if earlier is not None and earlier.decode() in _CANCEL_ACTIONS:
                result = handler(cast(CancelAction, earlier.decode()))
                if isinstance(result, Awaitable):
                    await result

        pending: asyncio.Task[None] | None = None
        if opened:
            pending = asyncio.ensure_future(check())
        else:
            await check()

        async def unsubscribe() -> None:
            if pending is not None:
                with contextlib.suppress(Exception):
                    await pending  # a run can end before its start-up round trip returns
            handlers = self._cancel_handlers.get(run_id)
            if handlers is not None:
                handlers.discard(handler)
                if not handlers:
                    self._cancel_handlers.pop(run_id, None)

        return unsubscribe

    async def end_run(
        self, run_id: str, thread_id: str, done: ThreadNotice, *, wake: bool = True
    ) -> None:
        """`notify_thread` + `finish` + `wake_workers` (unless `wake` is false: nothing can
        be waiting for this run's thread) in one round trip, in that order (Redis runs a
        pipeline's commands in order, so subscribers still hear `run_done` before stream
        readers see the end)."""
        log = self._logs.get(run_id) or await self._open_log(run_id)
        await self._flush()
        key = self._stream_key(run_id)
        if wake:
            self._woken.set()
        pipe = self.redis.pipeline(transaction=False)
        pipe.publish(self._thread_channel(thread_id), encode_notice(done))
        pipe.xadd(key, {b"end": b"1"}, id=f"{log.seq + 1}-0")
        pipe.expire(key, max(1, int(self.retention_seconds)))
        self._write_outcome(pipe, run_id, log.outcome_fields())
        if wake:
            pipe.publish(self._wake_channel, self._wake_token)
        await pipe.execute(raise_on_error=False)
        self._logs.pop(run_id, None)

    # --- queue wake-ups ------------------------------------------------------------------
    async def wake_workers(self) -> None:
        """Sent, not awaited: a request that inserted a run goes on to answer (or to read the
        run's stream) while the wake-up travels. Lost to a Redis failure, the run still starts:
        workers also look for work when a run ends and every `idle_interval`."""
        self._woken.set()
        task = asyncio.ensure_future(self._publish_wake())
        self._handler_tasks.add(task)
        task.add_done_callback(self._handler_tasks.discard)

    async def _publish_wake(self) -> None:
        try:
            await self.redis.publish(self._wake_channel, self._wake_token)
        except Exception as exc:
            logger.warning("redis broker: wake-up not sent: %s", exc)

    def wake_here(self) -> None:
        self._woken.set()

    async def wait_for_work(self, timeout: float | None) -> None:  # noqa: ASYNC109
        """Sticky: a wake that arrived while the worker was busy makes the next wait return."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._woken.wait(), timeout)
        self._woken.clear()
