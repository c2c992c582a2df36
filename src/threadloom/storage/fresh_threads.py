"""What a run tells its checkpoint saver about its thread: fresh (no read needed) or temporary.

LangGraph opens every run by reading the thread's latest checkpoint (`aget_tuple`). A stateless
run's temporary thread is created in the same statement as its run, and nothing else knows its
id, so on the run's first attempt that read always finds nothing — on PostgreSQL it is a round
trip (two process wake-ups) for every stateless run. The executor marks such a run's thread as
fresh for the duration of the attempt (`fresh_thread`); savers built with `FreshThreadSaver`
answer `aget_tuple` for it with None until the first write to the thread, and from then on read
as usual.

A temporary thread (`temporary_thread`, every attempt of a stateless run) is deleted with its
run. Its checkpoints exist only so that a run taken over after a crash resumes where it was; a
saver may write them without waiting for the disk, and may hold them back for a short while
(`TemporaryThread.write`): a run that ends within that time never writes them at all, and a
longer one has them written at most `hold_for` seconds late — LangGraph's "async" durability,
bounded in time. On PostgreSQL those writes were most of a short stateless run's database work.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from contextvars import ContextVar
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    BaseCheckpointSaver,
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
    DeltaChannelHistory,
)

_fresh: ContextVar[set[str] | None] = ContextVar("threadloom_fresh_threads", default=None)


@contextmanager
def _scoped(var: ContextVar[Any], value: Any) -> Iterator[None]:
    """`var` holds `value` within this context and the tasks started in it."""
    token = var.set(value)
    try:
        yield
    finally:
        var.reset(token)


def fresh_thread(thread_id: str) -> AbstractContextManager[None]:
    """Within this context (and the tasks it starts), `thread_id` has no checkpoints until the
    first write to it."""
    return _scoped(_fresh, {thread_id})


def known_empty(config: Any) -> bool:
    """True when a read of the latest checkpoint for `config` would find nothing."""
    fresh = _fresh.get()
    if not fresh:
        return False
    configurable = config.get("configurable") or {}
    return configurable.get("thread_id") in fresh and not configurable.get("checkpoint_id")


def written(config: Any) -> None:
    """A write to the thread: reads go to the database from now on."""
    fresh = _fresh.get()
    if fresh:
        fresh.discard((config.get("configurable") or {}).get("thread_id"))


Send = Callable[[], Awaitable[None]]


class TemporaryThread:
    """A stateless run's thread during one attempt, and the checkpoint writes held back for it.

    With `hold_for` > 0 a write waits up to that long and then goes out with whatever else was
    held, in the order the run made them; a read of the thread sends them first; `discard()`
    at the run's end drops what is still held (the thread is deleted with the run). A write that
    fails in the background fails the run's next checkpoint write or read, as it would have
    failed the write itself, so an outage still re-queues the run."""

    def __init__(self, thread_id: str, hold_for: float = 0.0) -> None:
        self.thread_id = thread_id
        self.hold_for = hold_for
        self._held: list[Send] = []
        self._timer: asyncio.TimerHandle | None = None
        self._sending = asyncio.Lock()
        self._background: asyncio.Task[None] | None = None  # a strong ref keeps it running
        self._failed: BaseException | None = None

    @property
    def pending(self) -> bool:
        """Writes are held or on their way."""
        return bool(self._held) or self._sending.locked()

    async def write(self, send: Send) -> None:
        """`send` now, or hold it (it must carry its values already serialised)."""
        if self._failed is not None:
            raise self._failed
        if self.hold_for <= 0:
            await send()
            return
        self._held.append(send)
        if self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self.hold_for, self._due)

    def _due(self) -> None:
        self._timer = None
        self._background = asyncio.ensure_future(self._flush_in_background())

    async def _flush_in_background(self) -> None:
        try:
            await self.flush()
        except Exception as exc:  # surfaces on the run's next checkpoint write or read
            self._failed = exc

    async def flush(self) -> None:
        """Send everything held, in order."""
        if self._failed is not None:
            raise self._failed
        async with self._sending:
            while self._held:
                await self._held.pop(0)()

    async def discard(self) -> None:
        """The attempt is over: drop what is held, and wait for a send already under way so
        nothing lands after the run's terminal write deletes the thread."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._held.clear()
        async with self._sending:
            pass


_temporary: ContextVar[TemporaryThread | None] = ContextVar(
    "threadloom_temporary_thread", default=None
)


@contextmanager
def temporary_thread(thread_id: str, hold_for: float = 0.0) -> Iterator[TemporaryThread]:
    """Within this context, `thread_id` is a stateless run's temporary thread: deleted with its
    run, so a saver need not wait for the disk when it writes checkpoints to it (see
    `storage/postgres/saver.py`), and may hold them back for `hold_for` seconds."""
    thread = TemporaryThread(thread_id, hold_for)
    with _scoped(_temporary, thread):
        yield thread


def temporary(config: Any) -> TemporaryThread | None:
    """The temporary thread `config` addresses, if it is one."""
    thread = _temporary.get()
    if thread is None or (config.get("configurable") or {}).get("thread_id") != thread.thread_id:
        return None
    return thread


def is_temporary(config: Any) -> bool:
    return temporary(config) is not None


async def _before_read(config: Any) -> None:
    """Held writes reach the database before anything reads the thread (`None`: any thread)."""
    thread = _temporary.get()
    if thread is None or not thread.pending:
        return
    if config is None or temporary(config) is not None:
        await thread.flush()


class FreshThreadSaver(BaseCheckpointSaver[Any]):
    """Mixed in ahead of a saver class: its async reads and writes honour `fresh_thread`, and
    its reads see the writes a `TemporaryThread` holds (the saver decides what to hold)."""

    async def aget_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        if known_empty(config):
            return None
        await _before_read(config)
        return await super().aget_tuple(config)

    async def alist(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[CheckpointTuple]:
        await _before_read(config)
        async for item in super().alist(config, filter=filter, before=before, limit=limit):
            yield item

    async def aget_delta_channel_history(
        self, *, config: RunnableConfig, channels: Sequence[str]
    ) -> Mapping[str, DeltaChannelHistory]:
        await _before_read(config)
        return await super().aget_delta_channel_history(config=config, channels=channels)

    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        written(config)
        return await super().aput(config, checkpoint, metadata, new_versions)

    async def aput_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        written(config)
        await super().aput_writes(config, writes, task_id, task_path)
