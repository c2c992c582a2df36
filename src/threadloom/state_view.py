"""LangGraph state as the Agent Server API shows it: checkpoints, interrupts, snapshots.

One place for the shapes every route and stream carrying them uses (thread state, history,
`debug` stream checkpoints, a thread's `interrupts`), shared by the services and the runtime.
"""

from __future__ import annotations

from typing import Any

from langgraph.types import StateSnapshot

from threadloom.serde import to_jsonable


def render_checkpoint(config: Any) -> dict[str, Any] | None:
    """A RunnableConfig as the API's Checkpoint `{checkpoint_id, thread_id, checkpoint_ns,
    checkpoint_map?}`, or None when it names no checkpoint (a thread with none yet)."""
    if not isinstance(config, dict):
        return None
    configurable = config.get("configurable") or {}
    if not configurable.get("thread_id") or not configurable.get("checkpoint_id"):
        return None
    checkpoint: dict[str, Any] = {
        "checkpoint_id": configurable["checkpoint_id"],
        "thread_id": str(configurable["thread_id"]),
        "checkpoint_ns": configurable.get("checkpoint_ns") or "",
    }
    if "checkpoint_map" in configurable:
        checkpoint["checkpoint_map"] = to_jsonable(configurable["checkpoint_map"])
    return checkpoint


def render_interrupt(interrupt: Any) -> dict[str, Any]:
    """An Interrupt as `{id, value}`, with `response_schema` only when the graph gave one."""
    data = to_jsonable(interrupt)
    if not isinstance(data, dict):
        return {"id": None, "value": data}
    out: dict[str, Any] = {"id": data.get("id"), "value": data.get("value")}
    if data.get("response_schema") is not None:
        out["response_schema"] = data["response_schema"]
    return out


def render_state(snapshot: StateSnapshot) -> dict[str, Any]:
    """A LangGraph StateSnapshot as the API's ThreadState object."""
    tasks = []
    for task in snapshot.tasks:
        nested: dict[str, Any] | None = None
        task_checkpoint: dict[str, Any] | None = None
        if isinstance(task.state, StateSnapshot):
            nested = render_state(task.state)
        elif task.state:
            task_checkpoint = to_jsonable(task.state.get("configurable", {}))
        tasks.append(
            {
                "id": task.id,
                "name": task.name,
                "path": to_jsonable(task.path) if task.path else [],
                "error": repr(task.error) if task.error is not None else None,
                "interrupts": [render_interrupt(i) for i in task.interrupts],
                "checkpoint": task_checkpoint,
                "state": nested,
                "result": to_jsonable(task.result) if task.result is not None else None,
            }
        )
    checkpoint = render_checkpoint(snapshot.config)
    parent = render_checkpoint(snapshot.parent_config)
    metadata = to_jsonable(snapshot.metadata) if snapshot.metadata is not None else None
    if isinstance(metadata, dict) and metadata.get("checkpoint_ns") == "":
        del metadata["checkpoint_ns"]
    return {
        "values": to_jsonable(snapshot.values),
        "next": list(snapshot.next),
        "tasks": tasks,
        "metadata": metadata,
        "created_at": snapshot.created_at,
        "checkpoint": checkpoint,
        "parent_checkpoint": parent,
        "interrupts": [render_interrupt(i) for i in snapshot.interrupts],
        # deprecated, still read by older clients
        "checkpoint_id": checkpoint["checkpoint_id"] if checkpoint else None,
        "parent_checkpoint_id": parent["checkpoint_id"] if parent else None,
    }


def empty_state() -> dict[str, Any]:
    """State of a thread no graph has checkpointed yet."""
    return {
        "values": {},
        "next": [],
        "tasks": [],
        "metadata": None,
        "created_at": None,
        "checkpoint": None,
        "parent_checkpoint": None,
        "interrupts": [],
        "checkpoint_id": None,
        "parent_checkpoint_id": None,
    }


def render_debug_checkpoint(payload: Any) -> Any:
    """A `debug` stream `checkpoint` payload: LangGraph's `config`/`parent_config` plus the API's
    `checkpoint`/`parent_checkpoint` objects, and each task's `state` config as `checkpoint`."""
    if not isinstance(payload, dict):
        return payload
    tasks = []
    for task in payload.get("tasks") or []:
        state = task.get("state") if isinstance(task, dict) else None
        if isinstance(state, dict) and state.get("configurable"):
            task = {k: v for k, v in task.items() if k != "state"}
            task["checkpoint"] = state["configurable"]
        tasks.append(task)
    return {
        **payload,
        "checkpoint": render_checkpoint(payload.get("config")),
        "parent_checkpoint": render_checkpoint(payload.get("parent_config")),
        "tasks": tasks,
    }
