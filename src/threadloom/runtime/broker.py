"""The stream broker interface: per-run event logs, thread lifecycle notices and cancel signals.

Embedded mode uses an in-process implementation (`runtime.local_broker`); the cluster uses Redis
Streams and pub/sub. Every run has an append-only event log numbered from 1 (`seq`, the SSE `id:`
and Letta's `seq_id`). Readers follow a log by position, so subscribing "before the run is inserted"
is just reading from the start; a reader that falls behind the bounded log skips what was dropped
instead of making the server buffer without limit.
"""

from __future__ import annotations

import abc
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Literal

if TYPE_CHECKING:
    from threadloom.settings import Settings

CancelAction = Literal["interrupt", "rollback"]
CancelHandler = Callable[[CancelAction], Awaitable[None] | None]


ATTEMPT_SEQ_SPAN = 1 << 32
"""Seqs an attempt owns: an attempt that finds its run's log empty (Redis lost it, or the
embedded server restarted) numbers its events from `attempt_floor(attempt) + 1`, so they stay
above every id a client saw from an earlier attempt and a `Last-Event-ID` resume reads them
instead of skipping them. A log that survived keeps counting where it stopped."""


def attempt_floor(attempt: int) -> int:
    """The seq an attempt's events start after when its run's log is empty."""
    return max(0, attempt - 1) * ATTEMPT_SEQ_SPAN


@dataclass(slots=True)
class StreamEvent:
    """One entry of a run's event log; never changed once made (not `frozen`: one is built
    per event on the hot path, and a frozen dataclass's constructor costs ~4x a plain one)."""

    seq: int
    event: str  # SSE event name: "metadata", "values", "messages", "updates|ns", "error", ...
    data: bytes  # JSON-encoded payload


@dataclass(slots=True, frozen=True)
class ThreadNotice:
    """Lifecycle of a thread, for `GET /threads/{id}/stream`."""

    kind: Literal["run_started", "run_done", "state_update"]
    run_id: str | None
    data: bytes  # JSON payload (state_update: {"state": ..., "thread_id": ...})


@dataclass(slots=True, frozen=True)
class RunOutcome:
    """What `/wait` and `/join` answer from, read off a finished run log."""

    values: bytes | None  # data of the last `values` event
    error: bytes | None  # data of the last `error` event
    seen: bool  # the log held any event at all


class Broker(abc.ABC):
    """Everything the executor, the worker pool and the HTTP layer ask of a broker is declared
    here; a backend overrides the defaults where it can do better (Redis batches a run's
    start-up and end into one round trip each)."""

    publishes_inline: ClassVar[bool] = False
    """`publish_nowait` appends without awaiting (an in-process log)."""

    @abc.abstractmethod
    async def start(self) -> None: ...

    @abc.abstractmethod
    async def stop(self) -> None: ...

    service: ClassVar[str | None] = None
    """The backing service this broker talks to (`/ok?check_db=1` names it), if any."""

    async def ping(self) -> None:
        """Raise `Unavailable` if the backing service does not answer (in-process: never)."""
        return None

    # --- run event logs ------------------------------------------------------------------
    @abc.abstractmethod
    async def publish(self, run_id: str, event: str, data: bytes) -> int:
        """Append one event to the run's log; returns its seq."""

    def publish_nowait(self, run_id: str, event: str, data: bytes) -> int:
        """`publish` without the coroutine, for a broker whose `publishes_inline` is true (the
        executor's hot path calls it per event)."""
        raise TypeError(f"{type(self).__name__} cannot publish inline; await publish()")

    @abc.abstractmethod
    async def finish(self, run_id: str) -> None:
        """Mark the log complete: readers end once they have read everything. The log is kept
        for the retention period (replay after the end), then dropped."""

    @abc.abstractmethod
    def read(
        self, run_id: str, *, after: int = 0, follow: bool = True
    ) -> AsyncIterator[StreamEvent]:
        """Events with seq > `after`, then (if `follow`) live events until the log is finished.
        Reading a run nobody has published to yet waits for it (subscribe-before-insert)."""

    async def read_batches(
        self, run_id: str, *, after: int = 0, follow: bool = True
    ) -> AsyncIterator[list[StreamEvent]]:
        """Like `read`, but yields everything available at once, so a fast stream costs one
        socket write per batch instead of one per event. Backends may override for speed."""
        async for event in self.read(run_id, after=after, follow=follow):
            yield [event]

    @abc.abstractmethod
    async def position(self, run_id: str) -> int:
        """The seq of the last event published to the run's log (0 when none): reading after it
        is following the run from now on."""

    @abc.abstractmethod
    async def is_finished(self, run_id: str) -> bool: ...

    async def outcome(self, run_id: str, *, follow: bool) -> RunOutcome | None:
        """The run's last values and error once its log is finished; `follow` waits for that
        end. None when there is no finished log to read (never written, or expired). Backends
        may keep the outcome aside so a waiter need not read every event."""
        if not follow and not await self.is_finished(run_id):
            return None
        values = error = None
        seen = False
        async for batch in self.read_batches(run_id):
            for event in batch:
                seen = True
                if event.event == "values":
                    values = event.data
                elif event.event == "error":
                    error = event.data
        return RunOutcome(values, error, seen)

    @abc.abstractmethod
    async def reset(self, run_id: str) -> None:
        """Forget a run's log (a retried attempt keeps appending; rollback/delete forgets)."""

    # --- thread notices ------------------------------------------------------------------
    @abc.abstractmethod
    async def notify_thread(self, thread_id: str, notice: ThreadNotice) -> None: ...

    @abc.abstractmethod
    def thread_notices(self, thread_id: str) -> AsyncIterator[ThreadNotice]:
        """Live notices for a thread, until the caller stops iterating."""

    # --- cancel signals ------------------------------------------------------------------
    @abc.abstractmethod
    async def send_cancel(self, run_id: str, action: CancelAction) -> None:
        """Reach the worker executing `run_id`, wherever it is."""

    @abc.abstractmethod
    async def listen_cancel(
        self, run_id: str, handler: CancelHandler
    ) -> Callable[[], Awaitable[None]]:
        """Call `handler` when a cancel for `run_id` arrives; returns an unsubscribe coroutine fn."""

    # --- a run's start and end -------------------------------------------------------------
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
        """A run's start-up: listen for its cancels (`listen_cancel`; returns the unsubscribe)
        and tell its thread's subscribers (`started`). `first_attempt`: its log is known to be
        empty, which a broker may use to send less. `attempt`: a log found empty numbers this
        attempt's events from `attempt_floor(attempt) + 1`, or from `floor + 1` when that is
        higher (a protocol run's time-based numbering, runtime/protocol_events.py)."""
        unlisten = await self.listen_cancel(run_id, handler)
        await self.notify_thread(thread_id, started)
        return unlisten

    async def end_run(
        self, run_id: str, thread_id: str, done: ThreadNotice, *, wake: bool = True
    ) -> None:
        """A run's end, in this order: its thread's subscribers hear `done`, its log is
        finished (readers end), and the workers are woken unless `wake` is false (nothing can
        be waiting for this run's thread)."""
        await self.notify_thread(thread_id, done)
        await self.finish(run_id)
        if wake:
            await self.wake_workers()

    # --- queue wake-ups ------------------------------------------------------------------
    @abc.abstractmethod
    async def wake_workers(self) -> None:
        """A run became claimable (inserted, or a thread freed up)."""

    @abc.abstractmethod
    def wake_here(self) -> None:
        """Wake this process's own waiting workers only (a slot came free)."""

    @abc.abstractmethod
    async def wait_for_work(self, timeout: float | None) -> None:  # noqa: ASYNC109
        """Return when woken or after `timeout` seconds."""


def build_broker(settings: Settings) -> Broker:
    """The broker the settings ask for: Redis when `redis_url` is set, else in-process (the
    twin of `storage.create_storage`; backends imported lazily)."""
    if settings.redis_url:
        from threadloom.runtime.redis_broker import RedisBroker

        return RedisBroker(
            settings.redis_url,
            prefix=settings.redis_prefix,
            retention_seconds=settings.resumable_stream_ttl_seconds,
            buffer_events=settings.stream_buffer_events,
            max_connections=settings.redis_max_connections,
        )
    from threadloom.runtime.local_broker import LocalBroker

    return LocalBroker(
        buffer_events=settings.stream_buffer_events,
        retention_seconds=settings.resumable_stream_ttl_seconds,
    )
