"""The API shapes of checkpoints and interrupts (`threadloom/state_view.py`)."""

from __future__ import annotations

from langgraph.types import Interrupt

from threadloom.state_view import render_checkpoint, render_debug_checkpoint, render_interrupt


def test_checkpoint_names_a_checkpoint_or_is_none() -> None:
    assert render_checkpoint(None) is None
    assert render_checkpoint({"configurable": {"thread_id": "t", "checkpoint_ns": ""}}) is None
    assert render_checkpoint(
        {"configurable": {"thread_id": "t", "checkpoint_id": "c", "run_id": "r"}}
    ) == {"checkpoint_id": "c", "thread_id": "t", "checkpoint_ns": ""}
    sub = {"thread_id": "t", "checkpoint_ns": "child:1", "checkpoint_id": "c2"}
    sub["checkpoint_map"] = {"": "c1", "child:1": "c2"}  # type: ignore[assignment]
    assert render_checkpoint({"configurable": sub}) == sub


def test_interrupt_has_a_response_schema_only_when_given() -> None:
    assert render_interrupt(Interrupt(value="ok?", id="i1")) == {"id": "i1", "value": "ok?"}
    schema = {"type": "boolean"}
    given = render_interrupt(Interrupt(value="ok?", id="i2", response_schema=schema))
    assert given == {"id": "i2", "value": "ok?", "response_schema": schema}


def test_debug_checkpoint_gains_checkpoint_objects_and_task_checkpoints() -> None:
    config = {"configurable": {"thread_id": "t", "checkpoint_ns": "", "checkpoint_id": "c2"}}
    parent = {"configurable": {"thread_id": "t", "checkpoint_ns": "", "checkpoint_id": "c1"}}
    task_state = {"configurable": {"thread_id": "t", "checkpoint_ns": "child:1"}}
    payload = {
        "config": config,
        "parent_config": parent,
        "values": {},
        "tasks": [{"id": "a", "name": "child", "state": task_state}, {"id": "b", "name": "x"}],
    }
    out = render_debug_checkpoint(payload)
    assert out["config"] == config and out["parent_config"] == parent
    assert out["checkpoint"] == {"checkpoint_id": "c2", "thread_id": "t", "checkpoint_ns": ""}
    assert out["parent_checkpoint"]["checkpoint_id"] == "c1"
    assert out["tasks"] == [
        {"id": "a", "name": "child", "checkpoint": task_state["configurable"]},
        {"id": "b", "name": "x"},
    ]
    first = render_debug_checkpoint({**payload, "parent_config": None})
    assert first["parent_checkpoint"] is None
