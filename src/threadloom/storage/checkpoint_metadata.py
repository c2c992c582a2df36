"""What every checkpoint's metadata says about its thread, on every backend.

LangGraph copies the run's config metadata and plain `configurable` values into a checkpoint's
metadata, but leaves `thread_id` out. The Agent Server's checkpoints carry it (clients filter
and display history by it), so the savers of both backends add it here; copying a thread
rewrites it (`copy_thread_checkpoints`).
"""

from __future__ import annotations

from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    BaseCheckpointSaver,
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
)


def with_thread_id(config: RunnableConfig, metadata: CheckpointMetadata) -> CheckpointMetadata:
    """`metadata` with the thread id of the checkpoint `config` writes to."""
    thread_id = (config.get("configurable") or {}).get("thread_id")
    if not thread_id:
        return metadata
    enriched: dict[str, Any] = {**metadata, "thread_id": str(thread_id)}
    return enriched  # type: ignore[return-value]


class ThreadIdMetadata(BaseCheckpointSaver[Any]):
    """Mixed in ahead of a saver class: checkpoints it writes carry `metadata.thread_id`."""

    def put(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        return super().put(config, checkpoint, with_thread_id(config, metadata), new_versions)

    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        return await super().aput(
            config, checkpoint, with_thread_id(config, metadata), new_versions
        )
