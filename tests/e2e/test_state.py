"""Thread state, history and checkpoints as the Agent Server shows them, through the SDK.

Every view that carries a checkpoint (state, state at a checkpoint, history, update_state's
answer, `debug` stream events, subgraph state) names it with the same object, and every
checkpoint's metadata names its thread, run, graph and assistant.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from langgraph_sdk.client import LangGraphClient
from langgraph_sdk.errors import BadRequestError, UnprocessableEntityError

CHECKPOINT_KEYS = {"checkpoint_id", "thread_id", "checkpoint_ns"}


def assert_checkpoint(checkpoint: Any, thread_id: str) -> None:
    assert isinstance(checkpoint, dict) and set(checkpoint) == CHECKPOINT_KEYS, checkpoint
    assert checkpoint["thread_id"] == thread_id
    assert checkpoint["checkpoint_ns"] == ""
    assert checkpoint["checkpoint_id"]


async def test_state_of_a_thread_without_checkpoints(client: LangGraphClient) -> None:
    plain = await client.threads.create()
    with_graph = await client.threads.create(graph_id="appender")
    for thread in (plain, with_graph):
        state = await client.threads.get_state(thread["thread_id"])
        assert state["values"] == {} and state["next"] == [] and state["tasks"] == []
        assert state["interrupts"] == []
        assert state["checkpoint"] is None and state["parent_checkpoint"] is None
        assert state["metadata"] is None and state["created_at"] is None
        assert await client.threads.get_history(thread["thread_id"]) == []


async def test_checkpoints_and_their_metadata_in_every_state_view(
    client: LangGraphClient,
) -> None:
    tid = (await client.threads.create())["thread_id"]
    run = await client.runs.create(tid, "appender", input={"items": ["a"]})
    await client.runs.join(tid, run["run_id"])

    state = await client.threads.get_state(tid)
    assert_checkpoint(state["checkpoint"], tid)
    assert_checkpoint(state["parent_checkpoint"], tid)
    assert state["checkpoint_id"] == state["checkpoint"]["checkpoint_id"]
    metadata = state["metadata"]
    assert metadata["thread_id"] == tid and metadata["run_id"] == run["run_id"]
    assert metadata["graph_id"] == "appender"
    assert metadata["assistant_id"] == run["assistant_id"]
    assert metadata["source"] == "loop" and isinstance(metadata["step"], int)

    history = await client.threads.get_history(tid, limit=10)
    assert history[0]["checkpoint"] == state["checkpoint"]
    for entry in history:
        assert_checkpoint(entry["checkpoint"], tid)
        assert entry["metadata"]["thread_id"] == tid
        assert entry["metadata"]["run_id"] == run["run_id"]
    assert history[-1]["parent_checkpoint"] is None  # the thread's first checkpoint

    older = history[1]["checkpoint"]
    for at in (
        await client.threads.get_state(tid, checkpoint_id=older["checkpoint_id"]),
        await client.threads.get_state(tid, checkpoint=older),
    ):
        assert at["checkpoint"]["checkpoint_id"] == older["checkpoint_id"]
        assert at["checkpoint"]["thread_id"] == tid
        assert_checkpoint(at["parent_checkpoint"], tid)
        assert at["metadata"]["thread_id"] == tid

    answer = await client.threads.update_state(tid, {"items": ["z"]})
    assert_checkpoint(answer["checkpoint"], tid)
    updated = await client.threads.get_state(tid)
    assert updated["checkpoint"] == answer["checkpoint"]
    assert updated["parent_checkpoint"] == state["checkpoint"]
    assert updated["metadata"]["source"] == "update"
    assert updated["metadata"]["thread_id"] == tid
    assert updated["metadata"]["graph_id"] == "appender"


async def test_copy_moves_checkpoints_to_the_new_thread(client: LangGraphClient) -> None:
    tid = (await client.threads.create())["thread_id"]
    await client.runs.wait(tid, "appender", input={"items": ["a"]})
    await client.threads.update_state(tid, {"items": ["b"]})
    copy = (await client.threads.copy(tid))["thread_id"]

    state = await client.threads.get_state(copy)
    assert_checkpoint(state["checkpoint"], copy)
    assert_checkpoint(state["parent_checkpoint"], copy)
    history = await client.threads.get_history(copy, limit=20)
    assert len(history) == len(await client.threads.get_history(tid, limit=20))
    for entry in history:
        assert entry["checkpoint"]["thread_id"] == copy
        assert entry["metadata"]["thread_id"] == copy
    # the original keeps its own
    assert (await client.threads.get_state(tid))["metadata"]["thread_id"] == tid


async def test_history_before_a_checkpoint(
    client: LangGraphClient, http: httpx.AsyncClient
) -> None:
    tid = (await client.threads.create())["thread_id"]
    await client.runs.wait(tid, "appender", input={"items": ["a"]})
    await client.runs.wait(tid, "appender", input={"items": ["b"]})
    history = await client.threads.get_history(tid, limit=20)
    ids = [h["checkpoint"]["checkpoint_id"] for h in history]
    pivot = history[2]["checkpoint"]
    older = ids[3:]
    assert older

    as_config = await client.threads.get_history(tid, limit=20, before={"configurable": pivot})
    assert [h["checkpoint"]["checkpoint_id"] for h in as_config] == older
    as_id = await client.threads.get_history(tid, limit=20, before=pivot["checkpoint_id"])
    assert [h["checkpoint"]["checkpoint_id"] for h in as_id] == older
    r = await http.get(
        f"/threads/{tid}/history", params={"limit": 20, "before": pivot["checkpoint_id"]}
    )
    assert [h["checkpoint"]["checkpoint_id"] for h in r.json()] == older
    # without a limit, both forms give the latest checkpoint only
    r = await http.get(f"/threads/{tid}/history")
    assert [h["checkpoint"]["checkpoint_id"] for h in r.json()] == ids[:1]
    r = await http.post(f"/threads/{tid}/history", json={})
    assert [h["checkpoint"]["checkpoint_id"] for h in r.json()] == ids[:1]
    limited = await client.threads.get_history(tid, limit=1, before={"configurable": pivot})
    assert [h["checkpoint"]["checkpoint_id"] for h in limited] == older[:1]


async def test_run_from_a_malformed_checkpoint_id(
    client: LangGraphClient, http: httpx.AsyncClient
) -> None:
    tid = (await client.threads.create())["thread_id"]
    with pytest.raises(httpx.HTTPStatusError) as caught:
        await client.runs.wait(tid, "appender", input={"items": ["a"]}, checkpoint_id="nope")
    assert caught.value.response.status_code == 422
    with pytest.raises(UnprocessableEntityError):
        await client.runs.create(tid, "appender", input={"items": ["a"]}, checkpoint_id="nope")
    for path in ("runs", "runs/wait", "runs/stream"):
        r = await http.post(
            f"/threads/{tid}/{path}",
            json={"assistant_id": "appender", "input": {}, "checkpoint_id": "not-a-checkpoint"},
        )
        assert r.status_code == 422 and r.json() == {"detail": "Invalid checkpoint ID"}
    assert await client.runs.list(tid) == []  # nothing was created

    # a well-formed id runs (from the thread's start when no such checkpoint exists)
    await client.runs.wait(tid, "appender", input={"items": ["a"]})
    first = (await client.threads.get_history(tid, limit=20))[-1]["checkpoint"]["checkpoint_id"]
    result = await client.runs.wait(tid, "appender", input={"items": ["b"]}, checkpoint_id=first)
    assert result == {"items": ["b", "after-1"]}


async def test_debug_stream_checkpoints_carry_checkpoint_objects(
    client: LangGraphClient,
) -> None:
    tid = (await client.threads.create())["thread_id"]
    payloads: list[dict[str, Any]] = []
    async for part in client.runs.stream(
        tid, "nested_ask", input={}, stream_mode="debug", stream_subgraphs=True
    ):
        if part.event.startswith("debug") and part.data["type"] == "checkpoint":
            payloads.append(part.data["payload"])
    roots = [p for p in payloads if p["config"]["configurable"]["checkpoint_ns"] == ""]
    subs = [p for p in payloads if p["config"]["configurable"]["checkpoint_ns"] != ""]
    assert roots and subs
    for payload in payloads:
        ours = payload["config"]["configurable"]
        assert payload["checkpoint"]["checkpoint_id"] == ours["checkpoint_id"]
        assert payload["checkpoint"]["thread_id"] == tid
        assert payload["checkpoint"]["checkpoint_ns"] == ours["checkpoint_ns"]
        parent = payload.get("parent_config")
        if parent:
            assert (
                payload["parent_checkpoint"]["checkpoint_id"]
                == (parent["configurable"]["checkpoint_id"])
            )
        else:
            assert payload["parent_checkpoint"] is None
    assert roots[0]["parent_checkpoint"] is None
    assert subs[0]["checkpoint"]["checkpoint_ns"].startswith("child:")
    assert "checkpoint_map" in subs[0]["checkpoint"]
    # the last root checkpoint names the latest state
    state = await client.threads.get_state(tid)
    assert roots[-1]["checkpoint"] == state["checkpoint"]


async def test_subgraph_state_and_interrupts(client: LangGraphClient) -> None:
    tid = (await client.threads.create())["thread_id"]
    await client.runs.wait(tid, "nested_ask", input={})

    flat = await client.threads.get_state(tid)
    (task,) = flat["tasks"]
    assert task["name"] == "child" and task["state"] is None
    assert task["checkpoint"]["thread_id"] == tid
    assert task["checkpoint"]["checkpoint_ns"].startswith("child:")
    assert flat["interrupts"] == [{"id": flat["interrupts"][0]["id"], "value": "answer?"}]
    assert task["interrupts"] == flat["interrupts"]

    deep = await client.threads.get_state(tid, subgraphs=True)
    sub = deep["tasks"][0]["state"]
    assert deep["tasks"][0]["checkpoint"] is None
    assert sub["checkpoint"]["thread_id"] == tid
    assert sub["checkpoint"]["checkpoint_ns"].startswith("child:")
    assert sub["checkpoint"]["checkpoint_map"][""] == deep["checkpoint"]["checkpoint_id"]
    assert sub["metadata"]["thread_id"] == tid
    assert sub["next"] == ["ask"]

    thread = await client.threads.get(tid)
    assert thread["status"] == "interrupted"
    assert list(thread["interrupts"].values()) == [flat["interrupts"]]


async def test_update_state_as_a_node_only_the_assistant_config_builds(
    client: LangGraphClient,
) -> None:
    assistant = await client.assistants.create(
        "reviewed", config={"configurable": {"reviewer": "bob"}}
    )
    tid = (await client.threads.create())["thread_id"]
    result = await client.runs.wait(tid, assistant["assistant_id"], input={"text": "memo"})
    assert result == {"text": "draft of memo", "reviewed_by": "bob"}

    answer = await client.threads.update_state(tid, {"reviewed_by": "carol"}, as_node="bob")
    assert_checkpoint(answer["checkpoint"], tid)
    state = await client.threads.get_state(tid)
    assert state["values"] == {"text": "draft of memo", "reviewed_by": "carol"}
    assert state["metadata"]["source"] == "update" and state["next"] == []
    history = await client.threads.get_history(tid, limit=20, metadata={"source": "update"})
    assert len(history) == 1

    # under the graph's default config the node does not exist: a clear 400
    plain = (await client.threads.create())["thread_id"]
    await client.runs.wait(plain, "reviewed", input={"text": "memo"})
    with pytest.raises(BadRequestError) as caught:
        await client.threads.update_state(plain, {"reviewed_by": "carol"}, as_node="bob")
    assert "bob" in str(caught.value.body)
