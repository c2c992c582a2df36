"""A run's metadata and timestamps as the reference gives them (compared side by side with
`langgraph dev` 0.16.7): the run carries its assistant's, its thread's and its config's metadata
under its own, its checkpoints carry the same (so history filters by thread metadata work), and
timestamps are `…+00:00` everywhere."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Any

from langgraph_sdk.client import LangGraphClient

HELLO: dict[str, Any] = {"messages": [{"role": "user", "content": "hi"}]}


def _without_ids(metadata: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in metadata.items() if k != "assistant_id"}


async def test_a_run_carries_its_assistants_threads_and_configs_metadata(
    client: LangGraphClient,
) -> None:
    assistant = await client.assistants.create("echo", metadata={"c": 3, "shared": "assistant"})
    tid = (await client.threads.create(metadata={"a": 1, "shared": "thread"}))["thread_id"]
    await client.runs.wait(
        tid,
        assistant["assistant_id"],
        input=HELLO,
        metadata={"b": 2},
        config={"metadata": {"d": 4, "shared": "config"}},
    )
    expected = {"a": 1, "b": 2, "c": 3, "d": 4, "graph_id": "echo", "shared": "config"}
    (run,) = await client.runs.list(tid)
    assert run["metadata"]["assistant_id"] == assistant["assistant_id"]
    assert _without_ids(run["metadata"]) == expected

    state = await client.threads.get_state(tid)
    assert {k: state["metadata"].get(k) for k in expected} == expected
    # the thread's own metadata is not overwritten by the run's
    thread = await client.threads.get(tid)
    assert _without_ids(thread["metadata"]) == {"a": 1, "graph_id": "echo", "shared": "thread"}
    # checkpoints can be found by the thread's metadata
    assert len(await client.threads.get_history(tid, metadata={"a": 1})) >= 2
    assert await client.threads.get_history(tid, metadata={"a": 2}) == []


async def test_a_thread_the_run_creates_adds_nothing_to_the_runs_metadata(
    client: LangGraphClient,
) -> None:
    stateless = await client.runs.create(None, "echo", input=HELLO, metadata={"b": 2})
    assert _without_ids(stateless["metadata"]) == {"b": 2, "created_by": "system"}
    created = await client.runs.create(
        str(uuid.uuid4()), "echo", input=HELLO, metadata={"b": 2}, if_not_exists="create"
    )
    assert _without_ids(created["metadata"]) == {"b": 2, "created_by": "system"}
    # on an existing thread the thread's metadata (graph_id stamped by the run) comes along
    tid = (await client.threads.create())["thread_id"]
    on_thread = await client.runs.create(tid, "echo", input=HELLO, metadata={"b": 2})
    assert _without_ids(on_thread["metadata"]) == {
        "b": 2,
        "created_by": "system",
        "graph_id": "echo",
    }
    await client.runs.join(tid, on_thread["run_id"])


_ISO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?\+00:00")


def _stamps(obj: dict[str, Any], *keys: str) -> list[str]:
    return [obj[k] for k in keys if obj.get(k) is not None]


async def test_timestamps_are_rendered_as_python_isoformat(client: LangGraphClient) -> None:
    # `…Z` (pydantic's spelling) breaks `datetime.fromisoformat` before Python 3.11
    thread = await client.threads.create()
    tid = thread["thread_id"]
    await client.runs.wait(tid, "echo", input=HELLO)
    (run,) = await client.runs.list(tid)
    (assistant, *_) = await client.assistants.search(graph_id="echo")
    stamps = [
        *_stamps(thread, "created_at", "updated_at", "state_updated_at"),
        *_stamps(await client.threads.get(tid), "created_at", "updated_at", "state_updated_at"),
        *_stamps(run, "created_at", "updated_at", "started_at", "ended_at"),
        *_stamps(assistant, "created_at", "updated_at"),
        *_stamps(await client.threads.get_state(tid), "created_at"),
    ]
    assert len(stamps) >= 11
    for stamp in stamps:
        assert _ISO.fullmatch(stamp), stamp
        assert datetime.fromisoformat(stamp).utcoffset() is not None
