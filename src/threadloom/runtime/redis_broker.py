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

Publishing (batched, ordered, with backpressure) is `runtime/redis_writer.EventWriter`;
`finish` and `reset` flush it first. The stored layout's helpers are `runtime/redis_codec`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, cast

import redis.asyncio as aioredis
from redis.asyncio.client import PubSub
from redis.exceptions import RedisError

from threadloom.errors import Unavailable
from threadloom.runtime.broker import (
    Broker,
    CancelAction,
    CancelHandler,
    RunOutcome,
    StreamEvent,
    ThreadNotice,
    attempt_floor,
)
from threadloom.runtime.redis_codec import (
    RunLog,
    decode_notice,
    encode_notice,
    seq_of,
    unpack_events,
)
from threadloom.runtime.redis_writer import FLUSH_TIMEOUT_SECONDS, EventWriter

logger = logging.getLogger(__name__)

PING_TIMEOUT_SECONDS = 2.0  # `/ok?check_db=1`: a health check must answer
_READ_COUNT = 16  # stream entries per XREAD/XRANGE round trip
_FOLLOW_RETRIES = 5  # a blocked read's attempts across a Redis restart (~1.5 s in all)
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
        self._sub_lock = asyncio.Lock()
        self._writer = EventWriter(
            lambda: self.redis, self._stream_key, buffer_events, idle_ttl_seconds
        )
        # subscriptions
        self._thread_queues: dict[str, set[asyncio.Queue[ThreadNotice]]] = {}
        self._cancel_handlers: dict[str, set[CancelHandler]] = {}
        self._woken = asyncio.Event()
        # identifies this process's wake-ups, so their echo does not cost a second empty claim
        self._wake_token = os.urandom(8).hex().encode()
        self._handler_tasks: set[asyncio.Future[Any]] = set()

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
            timeout=FLUSH_TIMEOUT_SECONDS,
            decode_responses=False,
            socket_timeout=self.block_ms / 1000 + 10.0,
            socket_connect_timeout=5.0,
        )
        self._redis = aioredis.Redis(connection_pool=pool)
        await self._redis.ping()
        self._pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
        await self._pubsub.subscribe(self._cancel_channel, self._wake_channel)
        self._listener = asyncio.create_task(self._listen(), name="redis-broker-listener")
        self._writer.start()

    async def stop(self) -> None:
        if self._redis is None:
            return
        with contextlib.suppress(Exception):
            await self._writer.flush()
        if self._handler_tasks:  # wake-ups and cancel handlers still in flight
            await asyncio.wait(set(self._handler_tasks), timeout=FLUSH_TIMEOUT_SECONDS)
        await self._writer.stop()
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._listener
            self._listener = None
        if self._pubsub is not None:
            with contextlib.suppress(Exception):
                await self._pubsub.aclose()
            self._pubsub = None
        await self._redis.aclose(close_connection_pool=True)
        self._redis = None
        self._writer.logs.clear()

    service = "redis"

    async def ping(self) -> None:
        if self._redis is None:
            raise Unavailable("Redis broker is not started")
        try:
            await asyncio.wait_for(self._redis.ping(), PING_TIMEOUT_SECONDS)
        except (RedisError, OSError, TimeoutError) as exc:
            raise Unavailable(f"Redis unavailable: {exc}") from exc

    # --- run event logs ------------------------------------------------------------------
    async def publish(self, run_id: str, event: str, data: bytes) -> int:
        return await self._writer.publish(run_id, event, data)

    async def finish(self, run_id: str) -> None:
        await self._end_log(run_id)

    async def _end_log(
        self,
        run_id: str,
        *,
        thread_id: str | None = None,
        done: ThreadNotice | None = None,
        wake: bool = False,
    ) -> None:
        """Flush, then in one pipeline: the `done` notice, the log's end entry, the outcome
        entry and a wake-up, in that order."""
        log = self._writer.logs.get(run_id) or await self._writer.open_log(run_id)
        await self._writer.flush()
        key = self._stream_key(run_id)
        if wake:
            self._woken.set()
        pipe = self.redis.pipeline(transaction=False)
        if thread_id is not None and done is not None:
            pipe.publish(self._thread_channel(thread_id), encode_notice(done))
        pipe.xadd(key, {b"end": b"1"}, id=f"{log.seq + 1}-0")
        pipe.expire(key, max(1, int(self.retention_seconds)))
        self._write_outcome(pipe, run_id, log.outcome_fields())
        if wake:
            pipe.publish(self._wake_channel, self._wake_token)
        await pipe.execute(raise_on_error=False)
        self._writer.logs.pop(run_id, None)

    def _write_outcome(self, pipe: Any, run_id: str, fields: dict[bytes, bytes]) -> None:
        """The outcome entry: a one-entry stream beside the log, so a `/wait` blocks on it
        alone and wakes once, instead of reading every event of the run."""
        key = self._outcome_key(run_id)
        pipe.xadd(key, fields)
        pipe.expire(key, max(1, int(self.retention_seconds)))

    async def _follow(self, streams: dict[Any, Any], count: int) -> Any:
        """A blocking XREAD. A connection that Redis closed (it restarted while a reader was
        blocked or the connection sat in the pool) is retried on a fresh one, briefly: reads
        by id are idempotent, so a `/wait` or stream in flight rides out a restart."""
        for attempt in range(_FOLLOW_RETRIES):
            try:
                return await self.redis.xread(streams, count=count, block=self.block_ms)
            except aioredis.ConnectionError:
                if attempt == _FOLLOW_RETRIES - 1:
                    raise
                await asyncio.sleep(0.1 * 2**attempt)
        return None

    async def outcome(self, run_id: str, *, follow: bool) -> RunOutcome | None:
        key = self._outcome_key(run_id)
        while True:
            entries: Any
            if follow:
                response: Any = await self._follow({key: "0-0"}, 1)
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
                response: Any = await self._follow({key: last_id}, _READ_COUNT)
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

    async def position(self, run_id: str) -> int:
        """Events still in a worker's write buffer count as not yet published."""
        last: Any = await self.redis.xrevrange(self._stream_key(run_id), count=1)
        if not last:
            return 0
        entry_id, fields = last[0]
        if b"p" in fields:
            return seq_of(entry_id)
        if fields.get(b"end") == b"1":  # the end entry is numbered after the last event
            return seq_of(entry_id) - 1
        return 0  # a log being reset

    async def is_finished(self, run_id: str) -> bool:
        last: Any = await self.redis.xrevrange(self._stream_key(run_id), count=1)
        return bool(last) and b"end" in last[0][1]

    async def reset(self, run_id: str) -> None:
        """Forget the log. A terminal entry first wakes and ends readers blocked on it (Redis
        serves blocked readers after each command, so they see it before the DEL)."""
        await self._writer.flush()
        self._writer.logs.pop(run_id, None)
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
            self._drop_cancel_handler(run_id, handler)

        return unsubscribe

    def _drop_cancel_handler(self, run_id: str, handler: CancelHandler) -> None:
        handlers = self._cancel_handlers.get(run_id)
        if handlers is not None:
            handlers.discard(handler)
            if not handlers:
                self._cancel_handlers.pop(run_id, None)

    # --- a run's start and end, batched ----------------------------------------------------
    async def begin_run(
        self,
        run_id: str,
        thread_id: str,
        handler: CancelHandler,
        started: ThreadNotice,
        *,
        first_attempt: bool = False,
        attempt: int = 1,
        floor: int = 0,
    ) -> Callable[[], Awaitable[None]]:
        """`listen_cancel` + opening the run's log + the `run_started` notice in one round trip.

        On a run's first attempt its log is known to be empty, so nothing needs reading before
        the first publish: the late-cancel check and the notice then ride with the run's first
        events (`EventWriter.ride_along`), alongside the graph's start instead of before it. The handler is
        registered before this returns either way, so no cancel published from now on is
        missed; one sent earlier is found by the check (its key is set before it is
        published)."""
        self._cancel_handlers.setdefault(run_id, set()).add(handler)
        opened = run_id in self._writer.logs
        if first_attempt and not opened:
            self._writer.logs[run_id] = RunLog(floor)
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
                results = await self._writer.ride_along(add)
            else:
                pipe = self.redis.pipeline(transaction=False)
                add(pipe)
                results = await pipe.execute()
            for result in results:
                if isinstance(result, Exception):
                    raise result
            if not opened and run_id not in self._writer.logs:
                last = results[1]
                # an empty log on a later attempt was lost (Redis restarted or evicted it):
                # number above every id an earlier attempt can have handed out
                start = max(attempt_floor(attempt), floor)
                self._writer.logs[run_id] = RunLog(seq_of(last[0][0]) if last else start)
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
            self._drop_cancel_handler(run_id, handler)

        return unsubscribe

    async def end_run(
        self, run_id: str, thread_id: str, done: ThreadNotice, *, wake: bool = True
    ) -> None:
        """`notify_thread` + `finish` + `wake_workers` (unless `wake` is false: nothing can
        be waiting for this run's thread) in one round trip, in that order (Redis runs a
        pipeline's commands in order, so subscribers still hear `run_done` before stream
        readers see the end)."""
        await self._end_log(run_id, thread_id=thread_id, done=done, wake=wake)

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
