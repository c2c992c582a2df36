"""Streams event for event as the reference server sends them: the `messages` mode's
accumulated messages, `id:` lines only for resumable runs, what a join replays."""

from __future__ import annotations

import asyncio

import httpx
from langgraph_sdk.client import LangGraphClient

HELLO = {"messages": [{"role": "user", "content": "hello"}]}


async def _collect(stream) -> list:  # type: ignore[no-untyped-def]
    return [part async for part in stream]


def _frames(body: str) -> list[dict[str, str]]:
    """SSE frames as {field: value}, heartbeats left out."""
    out = []
    for block in body.split("\r\n\r\n"):
        lines = [line for line in block.split("\r\n") if line and not line.startswith(":")]
        if lines:
            out.append(dict(line.split(": ", 1) for line in lines))
    return out


async def test_messages_mode_streams_the_message_so_far(client: LangGraphClient) -> None:
    """metadata, then messages/metadata for the new message, then partials carrying the whole
    message so far (as a finished message, not a chunk), and nothing after the last one."""
    for stateful in (False, True):
        tid = (await client.threads.create())["thread_id"] if stateful else None
        parts = await _collect(
            client.runs.stream(tid, "chatty", input=HELLO, stream_mode="messages")
        )
        assert [p.event for p in parts] == [
            "metadata",
            "messages/metadata",
            "messages/partial",
            "messages/partial",
            "messages/partial",
        ]
        partials = [p.data[0] for p in parts if p.event == "messages/partial"]
        assert [m["content"] for m in partials] == ["echo:", "echo: ", "echo: hello"]
        assert {m["type"] for m in partials} == {"ai"}
        assert not any("tool_call_chunks" in m or "chunk_position" in m for m in partials)
        (msg_id, meta) = next(iter(parts[1].data.items()))
        assert msg_id == partials[0]["id"] and meta["metadata"]["langgraph_node"] == "talk"


async def test_messages_mode_with_tool_calls(client: LangGraphClient) -> None:
    """A streamed tool call is in the partial's `tool_calls`; the tool's result, a whole
    message, comes as messages/complete after its own messages/metadata."""
    parts = await _collect(
        client.runs.stream(
            None,
            "agent",
            input={"messages": [{"role": "user", "content": "what is 2 + 3"}]},
            stream_mode="messages",
        )
    )
    events = [p.event for p in parts]
    assert events[:5] == [
        "metadata",
        "messages/metadata",
        "messages/partial",
        "messages/metadata",
        "messages/complete",
    ]
    call = parts[2].data[0]
    assert call["type"] == "ai" and "tool_call_chunks" not in call
    assert [c["name"] for c in call["tool_calls"]] == ["calculator"]
    assert call["tool_calls"][0]["args"] == {"expression": "2 + 3"}
    assert parts[4].data[0]["type"] == "tool" and parts[4].data[0]["content"] == "5"
    assert events.count("messages/complete") == 1
    assert parts[-1].data[0]["content"] == "The answer is 5."


async def test_messages_mode_in_a_subgraph_is_not_namespaced(client: LangGraphClient) -> None:
    parts = await _collect(
        client.runs.stream(
            None, "chatty_nested", input=HELLO, stream_mode="messages", stream_subgraphs=True
        )
    )
    assert [p.event for p in parts][:2] == ["metadata", "messages/metadata"]
    partials = [p.data[0]["content"] for p in parts if p.event == "messages/partial"]
    assert partials == ["echo:", "echo: ", "echo: hello"]
    assert len(parts) == 5


async def test_messages_and_messages_tuple_together_send_the_tuples(
    client: LangGraphClient,
) -> None:
    parts = await _collect(
        client.runs.stream(None, "chatty", input=HELLO, stream_mode=["messages", "messages-tuple"])
    )
    assert [p.event for p in parts] == ["metadata", "messages", "messages", "messages"]
    assert [p.data[0]["content"] for p in parts[1:]] == ["echo:", " ", "hello"]


async def test_event_ids_only_for_resumable_runs(http: httpx.AsyncClient) -> None:
    tid = (await http.post("/threads", json={})).json()["thread_id"]
    body = {"assistant_id": "echo", "input": HELLO, "stream_mode": ["values", "updates"]}
    for path in (f"/threads/{tid}/runs/stream", "/runs/stream"):
        plain = _frames((await http.post(path, json=body)).text)
        assert plain[0]["event"] == "metadata" and len(plain) == 4
        assert not any("id" in frame for frame in plain)
        resumable = _frames((await http.post(path, json={**body, "stream_resumable": True})).text)
        ids = [int(frame["id"]) for frame in resumable]
        assert len(ids) == 4 and ids == sorted(set(ids))


async def test_join_of_a_finished_run_without_last_event_id_is_empty(
    client: LangGraphClient, http: httpx.AsyncClient
) -> None:
    tid = (await client.threads.create())["thread_id"]
    for resumable in (False, True):
        run = await client.runs.create(tid, "echo", input=HELLO, stream_resumable=resumable)
        await client.runs.join(tid, run["run_id"])
        assert await _collect(client.runs.join_stream(tid, run["run_id"])) == []
        r = await http.get(f"/threads/{tid}/runs/{run['run_id']}/stream")
        assert r.status_code == 200 and r.text == ""


async def test_join_replays_only_a_resumable_runs_requested_modes(
    client: LangGraphClient,
) -> None:
    tid = (await client.threads.create())["thread_id"]
    run = await client.runs.create(
        tid,
        "slow",
        input={"seconds": 0.01},
        stream_mode=["custom", "values"],
        stream_resumable=True,
    )
    await client.runs.join(tid, run["run_id"])
    rid = run["run_id"]
    custom = await _collect(
        client.runs.join_stream(tid, rid, stream_mode="custom", last_event_id="-1")
    )
    assert [p.event for p in custom] == ["custom"] * 5 and all(p.id for p in custom)
    with_meta = await _collect(
        client.runs.join_stream(tid, rid, stream_mode=["metadata", "custom"], last_event_id="-1")
    )
    assert [p.event for p in with_meta] == ["metadata"] + ["custom"] * 5
    # a run that is not resumable keeps nothing to replay, as the reference
    plain = await client.runs.create(tid, "slow", input={"seconds": 0.01}, stream_mode="custom")
    await client.runs.join(tid, plain["run_id"])
    assert await _collect(client.runs.join_stream(tid, plain["run_id"], last_event_id="-1")) == []


async def test_join_of_a_running_run_follows_it_from_now(client: LangGraphClient) -> None:
    """Without Last-Event-ID a join sees what the run does from then on, so a stream the SDK
    reconnects (it has no ids to resume from) does not repeat what it already delivered."""
    tid = (await client.threads.create())["thread_id"]
    run = await client.runs.create(tid, "slow", input={"seconds": 0.3}, stream_mode="custom")
    for _ in range(100):  # wait until a tick or two went by
        state = await client.threads.get_state(tid)
        if (state["values"] or {}).get("steps", 0) >= 2:
            break
        await asyncio.sleep(0.05)
    parts = await _collect(client.runs.join_stream(tid, run["run_id"], stream_mode="custom"))
    ticks = [p.data["tick"] for p in parts if p.event == "custom"]
    assert ticks and ticks[0] >= 2 and ticks[-1] == 4
    assert not any(p.id for p in parts)
