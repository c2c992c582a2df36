"""What a run tells its checkpoint saver about its thread: fresh, no read needed.

LangGraph opens every run by reading the thread's latest checkpoint (`aget_tuple`). A stateless
run's temporary thread is created in the same statement as its run, and nothing else knows its
id, so on the run's first attempt that read always finds nothing — on PostgreSQL it is a round
trip (two process wake-ups) for every stateless run. The executor marks such a run's thread as
fresh for the duration of the attempt (`fresh_thread`); savers built with `FreshThreadSaver`
answer `aget_tuple` for it with None until the first write to the thread, and from then on read
as usual.

Checkpoint writes held back for a run (`storage/held_writes.py`) are sent before any read of
its thread through these savers.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from contextlib import contextmanager
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

from threadloom.storage import held_writes

_fresh: ContextVar[set[str] | None] = ContextVar("threadloom_fresh_threads", default=None)


@contextmanager
def fresh_thread(thread_id: str) -> Iterator[None]:
    """Within this context (and the tasks it starts), `thread_id` has no checkpoints until the
    first write to it."""
    token = _fresh.set({thread_id})
    try:
        yield
    finally:
        _fresh.reset(token)


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


class FreshThreadSaver(BaseCheckpointSaver[Any]):
    """Mixed in ahead of a saver class: its async reads and writes honour `fresh_thread`, and
    its reads see the writes held back for the run (`held_writes`; the saver decides what to
    hold)."""

    async def aget_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        if known_empty(config):
            return None
        await held_writes.before_read(config)
        return await super().aget_tuple(config)

    async def alist(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[CheckpointTuple]:
        await held_writes.before_read(config)
        async for item in super().alist(config, filter=filter, before=before, limit=limit):
            yield item

    async def aget_delta_channel_history(
        self, *, config: RunnableConfig, channels: Sequence[str]
    ) -> Mapping[str, DeltaChannelHistory]:
        await held_writes.before_read(config)
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
