"""Thread state through the graph: reading checkpoints, writing updates, history.

State is always read through the thread's graph (its channels and reducers give checkpoints
meaning), built with the server's checkpointer.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.errors import InvalidUpdateError
from langgraph.types import StateSnapshot

from threadloom.errors import Conflict, InvalidInput, NotFound
from threadloom.runtime.broker import ThreadNotice
from threadloom.runtime.run_config import merge_configs
from threadloom.serde import dumps, to_jsonable
from threadloom.services.context import ServerContext
from threadloom.state_view import empty_state, render_interrupt, render_state
from threadloom.storage.records import Thread, ThreadSnapshot, ThreadStatus


def snapshot_of(state: StateSnapshot, *, error: dict[str, Any] | None = None) -> ThreadSnapshot:
    """What a thread records about its latest checkpoint, for status and search."""
    interrupts: dict[str, Any] = {}
    for task in state.tasks:
        if task.interrupts:
            interrupts[task.id] = [render_interrupt(i) for i in task.interrupts]
    status: ThreadStatus
    if error is not None:
        status = "error"
    elif state.next or interrupts:
        status = "interrupted"
    else:
        status = "idle"
    return ThreadSnapshot(
        status=status, values=to_jsonable(state.values), interrupts=interrupts, error=error
    )


_CHECKPOINT_KEYS = ("checkpoint_id", "checkpoint_ns", "checkpoint_map")


def thread_config(thread_id: str, checkpoint: dict[str, Any] | None = None) -> RunnableConfig:
    configurable: dict[str, Any] = {"thread_id": thread_id, "checkpoint_ns": ""}
    if checkpoint:
        configurable.update({k: v for k, v in checkpoint.items() if v is not None})
        configurable["thread_id"] = thread_id
    return {"configurable": configurable}


def before_config(thread_id: str, before: dict[str, Any] | None) -> RunnableConfig | None:
    """History's `before`: a Checkpoint (`{checkpoint_id, ...}`) or a RunnableConfig
    (`{"configurable": {checkpoint_id, ...}}`, what the SDK's docs show) naming a checkpoint."""
    if not before:
        return None
    configurable = before.get("configurable")
    source = configurable if isinstance(configurable, dict) else before
    checkpoint = {k: source[k] for k in _CHECKPOINT_KEYS if source.get(k) is not None}
    return thread_config(thread_id, checkpoint) if checkpoint else None


async def _build_config(ctx: ServerContext, thread: Thread, graph_id: str) -> dict[str, Any]:
    """What a thread's graph is built with outside a run: for a factory, the config of the
    assistant that last ran on the thread and the thread's own, as its runs were built."""
    base: list[dict[str, Any] | None] = []
    if ctx.registry.is_factory(graph_id):
        assistant_id = thread.metadata.get("assistant_id")
        # the server's own read (which graph the thread runs), not the caller's: unguarded
        assistant = await ctx.storage.assistants.get_for_run(assistant_id) if assistant_id else None
        if assistant is not None and assistant.graph_id == graph_id:
            base.append(assistant.config)
        base.append(thread.config)
    config = merge_configs(*base, dict(thread_config(thread.thread_id)))
    config["configurable"]["graph_id"] = graph_id
    for key in _CHECKPOINT_KEYS:
        if key != "checkpoint_ns":
            config["configurable"].pop(key, None)
    return config


@asynccontextmanager
async def thread_graph(
    ctx: ServerContext, thread: Thread, access: str, *, required: bool = False
) -> AsyncIterator[Any]:
    """The graph that owns a thread's checkpoints (`metadata.graph_id`), or None."""
    graph_id = thread.metadata.get("graph_id")
    if not graph_id or not ctx.registry.has(graph_id):
        if required:
            raise InvalidInput(
                f"Thread {thread.thread_id} has no graph yet: run it once, or create it with "
                "metadata.graph_id, before updating its state"
            )
        yield None
        return
    async with ctx.registry.build(
        graph_id,
        await _build_config(ctx, thread, graph_id),
        checkpointer=ctx.storage.checkpointer,
        store=ctx.storage.store,
        access_context=access,
    ) as graph:
        yield graph


async def get_state(
    ctx: ServerContext,
    thread: Thread,
    *,
    checkpoint: dict[str, Any] | None = None,
    subgraphs: bool = False,
) -> dict[str, Any]:
    async with thread_graph(ctx, thread, "threads.read") as graph:
        if graph is None:
            if checkpoint and checkpoint.get("checkpoint_id"):
                raise NotFound(f"Checkpoint {checkpoint['checkpoint_id']} not found")
            return empty_state()
        config = thread_config(thread.thread_id, checkpoint)
        if checkpoint and checkpoint.get("checkpoint_id"):
            found = await ctx.storage.checkpointer.aget_tuple(config)
            if found is None:
                raise NotFound(f"Checkpoint {checkpoint['checkpoint_id']} not found")
        state = await graph.aget_state(config, subgraphs=subgraphs)
        if not state.config and not checkpoint:
            return empty_state()
        return render_state(state)


async def update_state(
    ctx: ServerContext,
    thread: Thread,
    *,
    values: Any,
    as_node: str | None,
    checkpoint: dict[str, Any] | None,
) -> dict[str, Any]:
    if await ctx.storage.runs.inflight(thread.thread_id):
        raise Conflict(
            f"Thread {thread.thread_id} has inflight runs; its state cannot be updated now"
        )
    async with thread_graph(ctx, thread, "threads.update", required=True) as graph:
        config = thread_config(thread.thread_id, checkpoint)
        # the update's checkpoint metadata names the graph, as a run's do
        config["configurable"]["graph_id"] = thread.metadata["graph_id"]
        try:
            next_config = await graph.aupdate_state(config, values, as_node=as_node)
        except InvalidUpdateError as exc:  # an unknown node, an ambiguous update
            raise InvalidInput(str(exc)) from None
        except Exception as exc:  # bad values for reducers
            raise InvalidInput(f"Cannot update state: {type(exc).__name__}: {exc}") from None
        state = await graph.aget_state(thread_config(thread.thread_id))
        await ctx.storage.threads.set_snapshot(thread.thread_id, snapshot_of(state))
    await ctx.broker.notify_thread(
        thread.thread_id,
        ThreadNotice(
            kind="state_update",
            run_id=None,
            data=dumps({"state": render_state(state), "thread_id": thread.thread_id}),
        ),
    )
    written = to_jsonable(next_config.get("configurable", {}))
    # `configurable` and `checkpoint_id` are deprecated forms older clients still read
    return {
        "checkpoint": written,
        "configurable": written,
        "checkpoint_id": written.get("checkpoint_id"),
    }


async def bulk_update(ctx: ServerContext, thread: Thread, supersteps: list[Any]) -> None:
    """Seed a new thread's state with supersteps of updates (thread create `supersteps`)."""
    from langgraph.types import Command, StateUpdate

    async with thread_graph(ctx, thread, "threads.update", required=True) as graph:
        steps = []
        for step in supersteps:
            updates = []
            for item in step["updates"]:
                values = item.get("values")
                if item.get("command") is not None:
                    values = Command(**item["command"])
                updates.append(StateUpdate(values, item.get("as_node")))
            steps.append(updates)
        try:
            await graph.abulk_update_state(thread_config(thread.thread_id), steps)
        except Exception as exc:
            raise InvalidInput(f"Cannot apply supersteps: {type(exc).__name__}: {exc}") from None
        state = await graph.aget_state(thread_config(thread.thread_id))
        await ctx.storage.threads.set_snapshot(thread.thread_id, snapshot_of(state))


async def history(
    ctx: ServerContext,
    thread: Thread,
    *,
    limit: int,
    before: dict[str, Any] | None,
    metadata: dict[str, Any] | None,
    checkpoint: dict[str, Any] | None,
) -> list[dict[str, Any]]:
    if limit <= 0:  # LangGraph's savers read a limit of 0 as "no limit"
        return []
    async with thread_graph(ctx, thread, "threads.read") as graph:
        if graph is None:
            return []
        config = thread_config(thread.thread_id, checkpoint)
        return [
            render_state(state)
            async for state in graph.aget_state_history(
                config,
                limit=limit,
                before=before_config(thread.thread_id, before),
                filter=metadata or None,
            )
        ]
