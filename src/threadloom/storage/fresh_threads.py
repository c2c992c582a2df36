"""What a run tells its checkpoint saver about its thread: fresh, no read needed.

LangGraph opens every run by reading the thread's latest checkpoint (`aget_tuple`). A stateless
run's temporary thread is created in the same statement as its run, and nothing else knows its
id, so on the run's first attempt that read always finds nothing — on PostgreSQL it is a round
trip (two process wake-ups) for every stateless run. The executor marks such a run's thread as
fresh for the duration of the attempt (`storage.thread_hints.fresh`); savers built with
`FreshThreadSaver` answer `aget_tuple` for it with None until the first write to the thread, and
from then on read as usual.

Checkpoint writes held back for a run (`storage/held_writes.py`) are sent before any read of
its thread through these savers.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
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

from threadloom.storage.thread_hints import ThreadHints


class FreshThreadSaver(BaseCheckpointSaver[Any]):
    """Mixed in ahead of a saver class: its async reads and writes honour the `hints` the
    executor gives (fresh threads), and its reads see the writes held back for a temporary
    thread (`held_writes`; the saver decides what to hold)."""

    hints: ThreadHints

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.hints = ThreadHints()

    async def aget_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        if self.hints.known_empty(config):
            return None
        await self.hints.before_read(config)
        return await super().aget_tuple(config)

    async def alist(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[CheckpointTuple]:
        await self.hints.before_read(config)
        async for item in super().alist(config, filter=filter, before=before, limit=limit):
            yield item

    async def aget_delta_channel_history(
        self, *, config: RunnableConfig, channels: Sequence[str]
    ) -> Mapping[str, DeltaChannelHistory]:
        await self.hints.before_read(config)
        return await super().aget_delta_channel_history(config=config, channels=channels)

    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        self.hints.written(config)
        return await super().aput(config, checkpoint, metadata, new_versions)

    async def aput_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        self.hints.written(config)
        await super().aput_writes(config, writes, task_id, task_path)
