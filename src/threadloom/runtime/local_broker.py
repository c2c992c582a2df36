"""In-process broker for embedded mode: run event logs, thread notices, cancel signals, wake-ups.

Everything lives on one event loop, so no locks are needed: a publish appends to a list and
resolves one shared future that parked readers await (each through a shield: a reader that is
cancelled must not cancel the future the others wait on). Readers follow a log by sequence number, so
a slow reader never makes the log grow beyond its window — it skips what was dropped instead.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable

from threadloom.runtime.broker import (
    Broker,
    CancelAction,
    CancelHandler,
    StreamEvent,
    ThreadNotice,
    attempt_floor,
)

logger = logging.getLogger(__name__)


class _RunLog:
    """One run's append-only log. `events[0]` has seq `offset + 1`.

    The list is compacted once it holds twice the window, so appends stay amortised O(1) and
    readers can slice by index (a deque would make positional reads O(n)).
    """

    __slots__ = ("events", "finished", "next_seq", "offset", "readers", "waiter")

    def __init__(self) -> None:
        self.events: list[StreamEvent] = []
        self.offset = 0
        self.next_seq = 1
        self.finished = False
        self.readers = 0
        self.waiter: asyncio.Future[None] | None = None

    def wake(self) -> None:
        waiter = self.waiter
        if waiter is not None:
            self.waiter = None
            if not waiter.done():
                waiter.set_result(None)


class _NoticeQueue:
    """A bounded per-subscriber queue: when full the oldest notice is dropped."""

    __slots__ = ("items", "waiter")

    def __init__(self, maxlen: int) -> None:
        self.items: deque[ThreadNotice] = deque(maxlen=maxlen)
        self.waiter: asyncio.Future[None] | None = None

    def push(self, notice: ThreadNotice) -> None:
        self.items.append(notice)
        waiter = self.waiter
        if waiter is not None:
            self.waiter = None
            if not waiter.done():
                waiter.set_result(None)


class LocalBroker(Broker):
    """The embedded-mode Broker. Must be used from a single event loop."""

    def __init__(
        self, buffer_events: int, retention_seconds: float, *, notice_buffer: int = 1000
    ) -> None:
        if buffer_events < 1:
            raise ValueError("buffer_events must be >= 1")
        self._window = buffer_events
        self._retention = max(0.0, retention_seconds)
        self._notice_buffer = notice_buffer
        self._logs: dict[str, _RunLog] = {}
        self._drop_timers: dict[str, asyncio.TimerHandle] = {}
        self._subscribers: dict[str, set[_NoticeQueue]] = {}
        self._cancel_handlers: dict[str, list[CancelHandler]] = {}
        # the last cancel sent per run, so a worker that starts listening late still sees it
        self._cancel_signals: dict[str, CancelAction] = {}
        self._signal_timers: dict[str, asyncio.TimerHandle] = {}
        self._work = asyncio.Event()

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        """End every reader and forget everything (server shutdown)."""
        for handle in (*self._drop_timers.values(), *self._signal_timers.values()):
            handle.cancel()
        self._drop_timers.clear()
        self._signal_timers.clear()
        for log in self._logs.values():
            log.finished = True
            log.wake()
        self._logs.clear()
        self._cancel_handlers.clear()
        self._cancel_signals.clear()

    # --- run event logs ------------------------------------------------------------------
    def _log(self, run_id: str) -> _RunLog:
        log = self._logs.get(run_id)
        if log is None:
            log = self._logs[run_id] = _RunLog()
        return log

    async def publish(self, run_id: str, event: str, data: bytes) -> int:
        return self.publish_nowait(run_id, event, data)

    publishes_inline = True

    def publish_nowait(self, run_id: str, event: str, data: bytes) -> int:
        """`publish` without the coroutine: the executor's hot path calls this directly."""
        log = self._logs.get(run_id)
        if log is None:
            log = self._logs[run_id] = _RunLog()
        seq = log.next_seq
        log.next_seq = seq + 1
        events = log.events
        events.append(StreamEvent(seq, event, data))
        if len(events) >= 2 * self._window:
            drop = len(events) - self._window
            del events[:drop]
            log.offset += drop
        if log.waiter is not None:
            log.wake()
        return seq

    async def finish(self, run_id: str) -> None:
        log = self._log(run_id)
        log.finished = True
        log.wake()
        old = self._drop_timers.pop(run_id, None)
        if old is not None:
            old.cancel()
        loop = asyncio.get_running_loop()
        self._drop_timers[run_id] = loop.call_later(self._retention, self._drop, run_id, log)

    def _drop(self, run_id: str, log: _RunLog) -> None:
        self._drop_timers.pop(run_id, None)
        if self._logs.get(run_id) is log:
            del self._logs[run_id]

    async def read(
        self, run_id: str, *, after: int = 0, follow: bool = True
    ) -> AsyncIterator[StreamEvent]:
        async for batch in self.read_batches(run_id, after=after, follow=follow):
            for event in batch:
                yield event

    async def read_batches(
        self, run_id: str, *, after: int = 0, follow: bool = True
    ) -> AsyncIterator[list[StreamEvent]]:
        """Everything past the reader's position in one list, then park until more comes."""
        log = self._logs.get(run_id)
        if log is None:
            if not follow:
                return
            log = self._logs[run_id] = _RunLog()
        log.readers += 1
        pos = max(after, 0)
        window = self._window
        loop = asyncio.get_running_loop()
        try:
            while True:
                last = log.next_seq - 1
                if pos < last:
                    # a reader behind the window continues from the oldest event kept
                    start = max(pos, last - window, log.offset) - log.offset
                    batch = log.events[start:]
                    pos = last
                    if batch:
                        yield batch
                    continue
                if log.finished or not follow:
                    return
                waiter = log.waiter
                if waiter is None:
                    waiter = log.waiter = loop.create_future()
                # every reader of the log parks on this one future: shielded, so a reader
                # that is cancelled (its client went away) does not cancel it for the others
                await asyncio.shield(waiter)
        finally:
            log.readers -= 1
            # a subscriber that gave up before anything was published must not leak its log
            if (
                log.readers == 0
                and not log.finished
                and log.next_seq == 1
                and self._logs.get(run_id) is log
            ):
                del self._logs[run_id]

    async def position(self, run_id: str) -> int:
        log = self._logs.get(run_id)
        return 0 if log is None else log.next_seq - 1

    async def is_finished(self, run_id: str) -> bool:
        log = self._logs.get(run_id)
        return log is not None and log.finished

    async def reset(self, run_id: str) -> None:
        log = self._logs.pop(run_id, None)
        timer = self._drop_timers.pop(run_id, None)
        if timer is not None:
            timer.cancel()
        if log is not None:
            log.finished = True
            log.wake()

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
        log = self._log(run_id)
        floor = max(attempt_floor(attempt), floor)
        if not log.events and log.next_seq - 1 < floor:  # the log died with a previous process
            log.offset = floor
            log.next_seq = floor + 1
        return await super().begin_run(
            run_id, thread_id, handler, started, first_attempt=first_attempt, attempt=attempt
        )

    # --- thread notices ------------------------------------------------------------------
    async def notify_thread(self, thread_id: str, notice: ThreadNotice) -> None:
        subs = self._subscribers.get(thread_id)
        if subs:
            for queue in subs:
                queue.push(notice)

    async def thread_notices(self, thread_id: str) -> AsyncIterator[ThreadNotice]:
        queue = _NoticeQueue(self._notice_buffer)
        self._subscribers.setdefault(thread_id, set()).add(queue)
        loop = asyncio.get_running_loop()
        try:
            while True:
                while queue.items:
                    yield queue.items.popleft()
                queue.waiter = loop.create_future()
                await queue.waiter
        finally:
            subs = self._subscribers.get(thread_id)
            if subs is not None:
                subs.discard(queue)
                if not subs:
                    del self._subscribers[thread_id]

    # --- cancel signals ------------------------------------------------------------------
    async def send_cancel(self, run_id: str, action: CancelAction) -> None:
        self._cancel_signals[run_id] = action
        old = self._signal_timers.pop(run_id, None)
        if old is not None:
            old.cancel()
        loop = asyncio.get_running_loop()
        self._signal_timers[run_id] = loop.call_later(
            max(self._retention, 60.0), self._forget_signal, run_id
        )
        for handler in list(self._cancel_handlers.get(run_id, ())):
            await _call(handler, action)

    def _forget_signal(self, run_id: str) -> None:
        self._signal_timers.pop(run_id, None)
        self._cancel_signals.pop(run_id, None)

    async def listen_cancel(
        self, run_id: str, handler: CancelHandler
    ) -> Callable[[], Awaitable[None]]:
        handlers = self._cancel_handlers.setdefault(run_id, [])
        handlers.append(handler)

        async def unsubscribe() -> None:
            current = self._cancel_handlers.get(run_id)
            if current is not None:
                if handler in current:
                    current.remove(handler)
                if not current:
                    del self._cancel_handlers[run_id]

        pending = self._cancel_signals.get(run_id)
        if pending is not None:
            await _call(handler, pending)
        return unsubscribe

    # --- queue wake-ups ------------------------------------------------------------------
    async def wake_workers(self) -> None:
        self._work.set()

    def wake_here(self) -> None:
        self._work.set()

    async def wait_for_work(self, timeout: float | None) -> None:  # noqa: ASYNC109
        if not self._work.is_set():
            if timeout is not None and timeout <= 0:
                return
            try:
                async with asyncio.timeout(timeout):
                    await self._work.wait()
            except TimeoutError:
                return
        self._work.clear()


async def _call(handler: CancelHandler, action: CancelAction) -> None:
    """Run a cancel handler, sync or async; a failing handler must not break the sender."""
    try:
        result = handler(action)
        if inspect.isawaitable(result):
            await result
    except Exception:
        logger.exception("cancel handler failed")
