"""Streaming through the official SDK: every mode, subgraphs, interrupts, errors, joins."""

from __future__ import annotations

import asyncio
import uuid

import httpx
from langgraph_sdk.client import LangGraphClient

HI = {"messages": [{"role": "user", "content": "hi"}]}


async def _collect(stream) -> list:  # type: ignore[no-untyped-def]
    return [part async for part in stream]


async def test_values_stream_metadata_first(client: LangGraphClient) -> None:
    thread = await client.threads.create()
    parts = await _collect(client.runs.stream(thread["thread_id"], "echo", input=HI))
    assert parts[0].event == "metadata"
    assert set(parts[0].data) >= {"run_id", "attempt"} and parts[0].data["attempt"] == 1
    values = [p.data for p in parts if p.event == "values"]
    assert values[-1]["messages"][-1]["content"] == "echo: hi"
    assert not any(p.id for p in parts)  # ids only for resumable runs


async def test_all_modes(client: LangGraphClient) -> None:
    modes = ["values", "updates", "custom", "debug", "tasks", "checkpoints", "messages-tuple"]
    parts = await _collect(
        client.runs.stream(None, "slow", input={"seconds": 0.001}, stream_mode=modes)
    )
    events = {p.event for p in parts}
    assert {"metadata", "values", "updates", "custom", "debug", "tasks", "checkpoints"} <= events
    assert [p.data for p in parts if p.event == "custom"][:2] == [{"tick": 0}, {"tick": 1}]
    assert any(p.data == {"tick": {"steps": 1}} for p in parts if p.event == "updates")


async def test_agent_messages_tuple_tokens(client: LangGraphClient) -> None:
    thread = await client.threads.create()
    parts = await _collect(
        client.runs.stream(
            thread["thread_id"],
            "agent",
            input={"messages": [{"role": "user", "content": "Tell me a story"}]},
            stream_mode="messages-tuple",
        )
    )
    tokens = [p.data for p in parts if p.event == "messages"]
    assert len(tokens) > 3  # streamed token by token
    chunk, metadata = tokens[0]
    assert chunk["type"] == "AIMessageChunk" and "langgraph_node" in metadata


async def test_messages_partial_and_complete(client: LangGraphClient) -> None:
    parts = await _collect(
        client.runs.stream(
            None,
            "agent",
            input={"messages": [{"role": "user", "content": "Tell me a story"}]},
            stream_mode="messages",
        )
    )
    events = [p.event for p in parts]
    assert "messages/metadata" in events
    assert events.count("messages/partial") > 2
    partials = [p.data for p in parts if p.event == "messages/partial"]
    # partials accumulate: each one is at least as long as the one before
    lengths = [len(p[0]["content"]) for p in partials]
    assert lengths == sorted(lengths)


async def test_events_mode(client: LangGraphClient) -> None:
    parts = await _collect(client.runs.stream(None, "echo", input=HI, stream_mode="events"))
    kinds = {p.data["event"] for p in parts if p.event == "events"}
    assert {"on_chain_start", "on_chain_end"} <= kinds


async def test_subgraph_events_are_namespaced(client: LangGraphClient) -> None:
    parts = await _collect(
        client.runs.stream(
            None, "nested", input={"value": 1}, stream_mode="updates", stream_subgraphs=True
        )
    )
    names = [p.event for p in parts]
    assert any(name.startswith("updates|child:") for name in names)
    assert "updates" in names


async def test_interrupt_surfaces_in_stream(client: LangGraphClient) -> None:
    thread = await client.threads.create()
    parts = await _collect(
        client.runs.stream(
            thread["thread_id"],
            "approval",
            input={"request": "x"},
            stream_mode=["values", "updates"],
        )
    )
    interrupts = [
        p.data["__interrupt__"]
        for p in parts
        if p.event in ("values", "updates") and "__interrupt__" in p.data
    ]
    assert interrupts and interrupts[0][0]["value"] == {"question": "approve x?"}


async def test_error_event(client: LangGraphClient) -> None:
    parts = await _collect(client.runs.stream(None, "failing", input=HI))
    errors = [p.data for p in parts if p.event == "error"]
    assert errors == [{"error": "ValueError", "message": "the graph failed on purpose"}]


async def test_join_stream_replays_after_last_event_id(client: LangGraphClient) -> None:
    thread = await client.threads.create()
    tid = thread["thread_id"]
    run = await client.runs.create(
        tid,
        "slow",
        input={"seconds": 0.05},
        stream_mode=["custom", "values"],
        stream_resumable=True,
    )
    full = await _collect(client.runs.join_stream(tid, run["run_id"], last_event_id="-1"))
    assert full[0].event == "metadata"
    ids = [int(p.id) for p in full]
    assert ids == sorted(ids)
    middle = full[len(full) // 2]
    rest = await _collect(client.runs.join_stream(tid, run["run_id"], last_event_id=middle.id))
    assert [p.id for p in rest] == [p.id for p in full if int(p.id) > int(middle.id)]
    only_custom = await _collect(
        client.runs.join_stream(tid, run["run_id"], last_event_id="-1", stream_mode="custom")
    )
    assert {p.event for p in only_custom} == {"custom"}  # `metadata` only when asked for


async def test_a_cut_stateless_stream_resumes_at_its_location(
    client: LangGraphClient, http: httpx.AsyncClient
) -> None:
    """A stateless `/runs/stream` points `Location` at `/runs/{run_id}/stream`, where the SDK
    reconnects with `Last-Event-ID` after a cut: the rest of the events are there, also once
    the run has ended and gone with its thread (from the events kept for replay)."""
    created: list[dict] = []
    seen = []
    async for part in client.runs.stream(
        None,
        "slow",
        input={"seconds": 0.05},
        stream_mode="custom",
        stream_resumable=True,
        on_disconnect="continue",
        on_run_created=created.append,
    ):
        seen.append(part)
        if part.event == "custom":
            break  # the connection is cut here
    rid = created[0]["run_id"]
    location = f"/runs/{rid}/stream"
    rest = await _collect(
        client.http.stream(location, "GET", headers={"Last-Event-ID": seen[-1].id})
    )
    assert [p.data["tick"] for p in rest if p.event == "custom"] == [1, 2, 3, 4]
    # that stream followed the run to its end, so the run is gone with its thread now
    # (test_runs.py: a stateless run is gone once its end is heard)
    replay = await _collect(client.http.stream(location, "GET", headers={"Last-Event-ID": "-1"}))
    assert [p.data["tick"] for p in replay if p.event == "custom"] == [0, 1, 2, 3, 4]
    r = await http.get(f"/runs/{uuid.uuid4()}/stream")
    assert r.status_code == 404 and r.json()["detail"].startswith("Run ")
    assert (await http.get("/runs/not-a-run/stream")).status_code == 422


async def test_join_stream_mode_forms(http: httpx.AsyncClient, client: LangGraphClient) -> None:
    thread = await client.threads.create()
    tid = thread["thread_id"]
    run = await client.runs.create(
        tid,
        "slow",
        input={"seconds": 0.01},
        stream_mode=["custom", "values"],
        stream_resumable=True,
    )
    await client.runs.join(tid, run["run_id"])
    url = f"/threads/{tid}/runs/{run['run_id']}/stream"
    for params in (
        {"stream_mode": "custom"},
        {"stream_mode": '["custom"]'},
        [("stream_mode", "custom"), ("stream_mode", "metadata")],
    ):
        r = await http.get(url, params=params, headers={"Last-Event-ID": "-"})
        assert r.status_code == 200, r.text
        assert "event: custom" in r.text and "event: values" not in r.text


async def test_stream_headers(http: httpx.AsyncClient) -> None:
    tid = (await http.post("/threads", json={})).json()["thread_id"]
    async with http.stream(
        "POST", f"/threads/{tid}/runs/stream", json={"assistant_id": "echo", "input": HI}
    ) as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        rid = r.headers["content-location"].rsplit("/", 1)[-1]
        assert r.headers["location"] == f"/threads/{tid}/runs/{rid}/stream"
        body = b"".join([chunk async for chunk in r.aiter_bytes()])
    assert body.startswith(b"event: metadata\r\ndata: ")
    async with http.stream("POST", "/runs/stream", json={"assistant_id": "echo", "input": HI}) as r:
        assert r.headers["location"].startswith("/runs/") and r.headers["location"].endswith(
            "/stream"
        )


async def test_thread_stream_sees_runs_and_state_updates(client: LangGraphClient) -> None:
    thread = await client.threads.create()
    tid = thread["thread_id"]
    seen: list = []

    async def listen() -> None:
        async for part in await client.threads.join_stream(
            tid, stream_mode=["run_modes", "state_update"]
        ):
            seen.append(part)
            if part.event == "state_update":
                return

    listener = asyncio.create_task(listen())
    await asyncio.sleep(0.3)
    run = await client.runs.create(tid, "echo", input=HI)
    await client.runs.join(tid, run["run_id"])
    await client.threads.update_state(
        tid, {"messages": [{"role": "user", "content": "later"}]}, as_node="reply"
    )
    await asyncio.wait_for(listener, 10)
    events = [p.event for p in seen]
    assert "values" in events
    assert any(p.event == "metadata" and p.data.get("status") == "run_done" for p in seen)
    assert events[-1] == "state_update"


async def test_stream_v2_format(client: LangGraphClient) -> None:
    parts = [
        p
        async for p in client.runs.stream(
            None, "echo", input=HI, stream_mode="values", version="v2"
        )
    ]
    assert any(
        getattr(p, "type", None) == "values" or (isinstance(p, dict) and p.get("type") == "values")
        for p in parts
    )


async def test_unknown_run_stream(http: httpx.AsyncClient) -> None:
    tid = (await http.post("/threads", json={})).json()["thread_id"]
    r = await http.get(f"/threads/{tid}/runs/{uuid.uuid4()}/stream")
    assert r.status_code == 404
