"""LangGraph's SQLite saver (the store is in store.py), with its async methods run inline on the event loop.

SQLite on a local WAL file answers in tens of microseconds. Shipping each call to a worker
thread (aiosqlite) costs more than the query: a queue hop each way and GIL ping-pong with the
event loop, which profiling showed as most of a trivial run's storage time. So the embedded
backend calls SQLite directly from the loop thread. Nothing awaits while a statement or
transaction is open, so the saver, the store and Threadloom's own tables can share one
connection without a lock dance.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
    DeltaChannelHistory,
)
from langgraph.checkpoint.sqlite import SqliteSaver

from threadloom.storage import fresh_threads
from threadloom.storage.checkpoint_metadata import ThreadIdMetadata


class _InlineCalls(SqliteSaver):
    """`SqliteSaver` whose async API calls the sync one directly (no thread hop)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lock = threading.RLock()  # type: ignore[assignment]  # re-entrant: calls may nest

    async def aget_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        return self.get_tuple(config)

    async def alist(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[CheckpointTuple]:
        # materialised first: the sync generator holds the connection lock while it iterates,
        # and the consumer may touch the database between items
        for item in list(self.list(config, filter=filter, before=before, limit=limit)):
            yield item

    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        return self.put(config, checkpoint, metadata, new_versions)

    async def aput_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        self.put_writes(config, writes, task_id, task_path)

    async def adelete_thread(self, thread_id: str) -> None:
        self.delete_thread(thread_id)

    async def aget_delta_channel_history(
        self, *, config: RunnableConfig, channels: Sequence[str]
    ) -> Mapping[str, DeltaChannelHistory]:
        return self.get_delta_channel_history(config=config, channels=channels)


class InlineSqliteSaver(ThreadIdMetadata, fresh_threads.FreshThreadSaver, _InlineCalls):
    """The embedded checkpointer: inline calls, no read of a fresh thread
    (`storage/fresh_threads.py`), `metadata.thread_id` on every checkpoint."""
