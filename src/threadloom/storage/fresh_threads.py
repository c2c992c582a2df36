"""What a run tells its checkpoint saver about its thread: fresh (no read needed) or temporary.

LangGraph opens every run by reading the thread's latest checkpoint (`aget_tuple`). A stateless
run's temporary thread is created in the same statement as its run, and nothing else knows its
id, so on the run's first attempt that read always finds nothing — on PostgreSQL it is a round
trip (two process wake-ups) for every stateless run. The executor marks such a run's thread as
fresh for the duration of the attempt (`fresh_thread`); savers built with `FreshThreadSaver`
answer `aget_tuple` for it with None until the first write to the thread, and from then on read
as usual. A temporary thread (`temporary_thread`, every attempt of a stateless run) is deleted
with its run; savers may write its checkpoints without waiting for the disk.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
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


_temporary: ContextVar[str | None] = ContextVar("threadloom_temporary_thread", default=None)


def temporary_thread(thread_id: str) -> AbstractContextManager[None]:
    """Within this context, `thread_id` is a stateless run's temporary thread: deleted with its
    run, so a saver need not wait for the disk when it writes checkpoints to it (see
    `storage/postgres/saver.py`)."""
    return _scoped(_temporary, thread_id)


def is_temporary(config: Any) -> bool:
    thread = _temporary.get()
    return thread is not None and (config.get("configurable") or {}).get("thread_id") == thread


class FreshThreadSaver(BaseCheckpointSaver[Any]):
    """Mixed in ahead of a saver class: its async reads and writes honour `fresh_thread`."""

    async def aget_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        if known_empty(config):
            return None
        return await super().aget_tuple(config)

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
