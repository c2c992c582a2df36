"""Thread state through the graph: reading checkpoints, writing updates, history.

State is always read through the thread's graph (its channels and reducers give checkpoints
meaning), built with the server's checkpointer.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.types import StateSnapshot

from threadloom.errors import Conflict, InvalidInput, NotFound
from threadloom.runtime.broker import ThreadNotice
from threadloom.serde import dumps, to_jsonable
from threadloom.services.context import ServerContext
from threadloom.storage.records import Thread, ThreadSnapshot


def render_state(snapshot: StateSnapshot, thread_id: str) -> dict[str, Any]:
    """A LangGraph StateSnapshot as the API's ThreadState object."""
    cfg = snapshot.config.get("configurable", {}) if snapshot.config else {}
    parent_cfg = snapshot.parent_config.get("configurable", {}) if snapshot.parent_config else None
    tasks = []
    for task in snapshot.tasks:
        nested: dict[str, Any] | None = None
        task_checkpoint: dict[str, Any] | None = None
        if isinstance(task.state, StateSnapshot):
            nested = render_state(task.state, thread_id)
            task_checkpoint = nested["checkpoint"]
        elif task.state:
            task_checkpoint = dict(task.state.get("configurable", {}))
        tasks.append(
            {
                "id": task.id,
                "name": task.name,
                "path": to_jsonable(task.path) if task.path else [],
                "error": repr(task.error) if task.error is not None else None,
                "interrupts": [to_jsonable(i) for i in task.interrupts],
                "checkpoint": task_checkpoint,
                "state": nested,
                "result": to_jsonable(task.result) if task.result is not None else None,
            }
        )
    checkpoint = {
        "thread_id": cfg.get("thread_id", thread_id),
        "checkpoint_ns": cfg.get("checkpoint_ns", ""),
        "checkpoint_id": cfg.get("checkpoint_id"),
        "checkpoint_map": cfg.get("checkpoint_map"),
    }
    parent = (
        {
            "thread_id": parent_cfg.get("thread_id", thread_id),
            "checkpoint_ns": parent_cfg.get("checkpoint_ns", ""),
            "checkpoint_id": parent_cfg.get("checkpoint_id"),
            "checkpoint_map": parent_cfg.get("checkpoint_map"),
        }
        if parent_cfg
        else None
    )
    return {
        "values": to_jsonable(snapshot.values),
        "next": list(snapshot.next),
        "tasks": tasks,
        "metadata": to_jsonable(snapshot.metadata) if snapshot.metadata else {},
        "created_at": snapshot.created_at,
        "checkpoint": checkpoint,
        "parent_checkpoint": parent,
        "interrupts": [to_jsonable(i) for i in snapshot.interrupts],
        "checkpoint_id": checkpoint["checkpoint_id"],
        "parent_checkpoint_id": parent["checkpoint_id"] if parent else None,
    }


def empty_state(thread: Thread) -> dict[str, Any]:
    """State of a thread no graph has touched yet."""
    return {
        "values": to_jsonable(thread.values) if thread.values is not None else {},
        "next": [],
        "tasks": [],
        "metadata": {},
        "created_at": None,
        "checkpoint": {
            "thread_id": thread.thread_id,
            "checkpoint_ns": "",
            "checkpoint_id": None,
            "checkpoint_map": None,
        },
        "parent_checkpoint": None,
        "interrupts": [],
        "checkpoint_id": None,
        "parent_checkpoint_id": None,
    }


def snapshot_of(state: StateSnapshot, *, error: dict[str, Any] | None = None) -> ThreadSnapshot:
    """What a thread records about its latest checkpoint, for status and search."""
    interrupts: dict[str, Any] = {}
    for task in state.tasks:
        if task.interrupts:
            interrupts[task.id] = [to_jsonable(i) for i in task.interrupts]
    if error is not None:
        status = "error"
    elif state.next or interrupts:
        status = "interrupted"
    else:
        status = "idle"
    return ThreadSnapshot(
        status=status, values=to_jsonable(state.values), interrupts=interrupts, error=error
    )


def thread_config(thread_id: str, checkpoint: dict[str, Any] | None = None) -> RunnableConfig:
    configurable: dict[str, Any] = {"thread_id": thread_id, "checkpoint_ns": ""}
    if checkpoint:
        configurable.update({k: v for k, v in checkpoint.items() if v is not None})
        configurable["thread_id"] = thread_id
    return {"configurable": configurable}


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
    config = thread_config(thread.thread_id)
    async with ctx.registry.build(
        graph_id,
        config,
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
            return empty_state(thread)
        config = thread_config(thread.thread_id, checkpoint)
        if checkpoint and checkpoint.get("checkpoint_id"):
            found = await ctx.storage.checkpointer.aget_tuple(config)
            if found is None:
                raise NotFound(f"Checkpoint {checkpoint['checkpoint_id']} not found")
        state = await graph.aget_state(config, subgraphs=subgraphs)
        if not state.config and not checkpoint:
            return empty_state(thread)
        return render_state(state, thread.thread_id)


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
        try:
            next_config = await graph.aupdate_state(config, values, as_node=as_node)
        except Exception as exc:  # invalid node names, bad values for reducers
            raise InvalidInput(f"Cannot update state: {type(exc).__name__}: {exc}") from None
        state = await graph.aget_state(thread_config(thread.thread_id))
        await ctx.storage.threads.set_snapshot(thread.thread_id, snapshot_of(state))
    await ctx.broker.notify_thread(
        thread.thread_id,
        ThreadNotice(
            kind="state_update",
            run_id=None,
            data=dumps(
                {"state": render_state(state, thread.thread_id), "thread_id": thread.thread_id}
            ),
        ),
    )
    return {"checkpoint": dict(next_config.get("configurable", {}))}


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
        before_config = thread_config(thread.thread_id, before) if before else None
        return [
            render_state(state, thread.thread_id)
            async for state in graph.aget_state_history(
                config, limit=limit, before=before_config, filter=metadata or None
            )
        ]
