"""The messages a run produced, read from the thread's checkpoints.

Letta's `/v1/runs/{id}/messages`, its synchronous LettaResponse and its callback `result` need
"what this run added to the conversation". LangGraph keeps no run→message table, but every
checkpoint a run writes carries `metadata.run_id`: the run's messages are those in its latest
checkpoint that the checkpoint before its first one did not have.
"""

from __future__ import annotations

from typing import Any

from langchain_core.runnables import RunnableConfig

from threadloom.serde import to_jsonable
from threadloom.services.views.messages import new_messages
from threadloom.storage.base import Storage
from threadloom.storage.records import Run


def _messages_of(checkpoint: Any) -> list[Any]:
    values = (checkpoint or {}).get("channel_values") or {}
    messages = values.get("messages") if isinstance(values, dict) else None
    return list(messages) if isinstance(messages, list) else []


async def run_messages(storage: Storage, run: Run) -> list[dict[str, Any]]:
    """Messages added by `run` (JSON dicts), oldest first; [] if it wrote no checkpoint."""
    saver = storage.checkpointer
    config: RunnableConfig = {"configurable": {"thread_id": run.thread_id, "checkpoint_ns": ""}}
    tuples = [t async for t in saver.alist(config, filter={"run_id": run.run_id})]
    if not tuples:
        return []
    latest, oldest = tuples[0], tuples[-1]
    before: list[Any] = []
    if oldest.parent_config:
        parent = await saver.aget_tuple(oldest.parent_config)
        if parent is not None:
            before = _messages_of(parent.checkpoint)
    added = new_messages(before, _messages_of(latest.checkpoint))
    result = to_jsonable(added)
    return result if isinstance(result, list) else []
