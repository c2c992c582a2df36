"""The thread protocol (v3) through the official clients: `client.threads.stream(...)` (async
and sync, SSE and WebSocket), `RemoteGraph`'s v3 path, and the raw wire for replay, reconnect,
error codes and subscriptions that outlive runs. Both shapes (the cluster replays from Redis).
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import orjson
import pytest
from langgraph.pregel.remote import RemoteGraph
from langgraph_sdk import get_client, get_sync_client
from langgraph_sdk.client import LangGraphClient
from websockets.asyncio.client import connect

from tests.support.server import ServerProcess

MATH = {"messages": [{"role": "user", "content": "what is 2 + 3"}]}
EMAIL = {"messages": [{"role": "user", "content": "send an email to bob"}]}
TRANSPORTS = ["sse", "websocket"]


def _ws_url(server: ServerProcess, thread_id: str) -> str:
    return server.url.replace("http://", "ws://") + f"/threads/{thread_id}/stream/events"


async def _sse_events(
    http: httpx.AsyncClient,
    thread_id: str,
    body: dict[str, Any],
    *,
    until: Any = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """Protocol events from one SSE request, until `until(event)` or `limit` events."""
    out: list[dict[str, Any]] = []
    async with http.stream("POST", f"/threads/{thread_id}/stream/events", json=body) as resp:
        assert resp.status_code == 200, await resp.aread()
        assert resp.headers["content-type"].startswith("text/event-stream")
        async for line in resp.aiter_lines():
            if not line.startswith("data: "):
                continue
            event = orjson.loads(line[6:])
            out.append(event)
            if (until is not None and until(event)) or (limit is not None and len(out) >= limit):
                break
    return out


def _root_end(event: dict[str, Any]) -> bool:
    return (
        event.get("method") == "lifecycle"
        and event["params"]["namespace"] == []
        and event["params"]["data"]["event"] in ("completed", "failed", "interrupted")
    )


async def _command(
    http: httpx.AsyncClient, thread_id: str, method: str, params: dict[str, Any]
) -> dict[str, Any]:
    resp = await http.post(
        f"/threads/{thread_id}/commands", json={"id": 1, "method": method, "params": params}
    )
    assert resp.status_code == 200, resp.text
    return resp.json()


# --- the SDK's thread stream -----------------------------------------------------------------
@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_sdk_stream_tokens_tool_calls_and_output(
    client: LangGraphClient, transport: str
) -> None:
    async with client.threads.stream(assistant_id="agent", transport=transport) as thread:  # type: ignore[arg-type]
        result = await thread.run.start(input=MATH)
        assert uuid.UUID(result["run_id"])

        async def tokens() -> list[list[str]]:
            streams = [m async for m in thread.messages]
            return [[t async for t in m.text] for m in streams]

        async def tools() -> list[tuple[str, Any, Any]]:
            calls = [c async for c in thread.tool_calls]
            return [(c.name, c.input, await c.output) for c in calls]

        messages, calls = await asyncio.wait_for(asyncio.gather(tokens(), tools()), 30)
        # the tool-calling turn streams no text; the answer streams word by word
        assert messages == [[], ["The ", "answer ", "is ", "5."]]
        assert [(name, args) for name, args, _ in calls] == [
            ("calculator", {"expression": "2 + 3"})
        ]
        assert calls[0][2]["content"] == "5"
        output = await asyncio.wait_for(thread.output, 30)
        assert output["messages"][-1]["content"][0]["text"] == "The answer is 5."
    state = await client.threads.get_state(thread.thread_id)
    assert state["values"]["messages"][-1]["content"][0]["text"] == "The answer is 5."


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_interrupt_answered_in_band(client: LangGraphClient, transport: str) -> None:
    async with client.threads.stream(assistant_id="agent", transport=transport) as thread:  # type: ignore[arg-type]
        await thread.run.start(input=EMAIL)
        snapshots = [v async for v in thread.values]  # ends when the run pauses
        assert snapshots and thread.interrupted
        (pending,) = thread.interrupts
        assert pending["value"]["question"] == "Approve these tool calls?"
        assert pending["namespace"] == []
        await thread.run.respond({"approved": True})
        output = await asyncio.wait_for(thread.output, 30)
    assert "sent" in output["messages"][-1]["content"][0]["text"]
    runs = await client.runs.list(thread.thread_id)
    assert len(runs) == 2 and all(r["status"] == "success" for r in runs)
    # a resume is the ordinary run: the command went through create_run
    resumed = max(runs, key=lambda r: r["created_at"])
    assert resumed["kwargs"]["command"]["resume"] == {pending["interrupt_id"]: {"approved": True}}


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_subgraph_discovered_at_depth_one(client: LangGraphClient, transport: str) -> None:
    async with client.threads.stream(assistant_id="nested", transport=transport) as thread:  # type: ignore[arg-type]
        await thread.run.start(input={"value": 3})

        async def children() -> list[tuple[str | None, list[str]]]:
            return [(h.graph_name, h.namespace) async for h in thread.subgraphs]

        async def values() -> list[Any]:
            return [v async for v in thread.values]

        found, snapshots = await asyncio.wait_for(asyncio.gather(children(), values()), 30)
    assert [name for name, _ in found] == ["child"]
    assert len(found[0][1]) == 1 and found[0][1][0].startswith("child:")
    assert snapshots[-1] == {"value": 7}


def test_sync_client_streams(server: ServerProcess) -> None:
    client = get_sync_client(url=server.url, api_key=None)
    with client.threads.stream(assistant_id="agent") as thread:
        thread.run.start(input=MATH)
        streams = list(thread.messages)
        texts = [str(m.text) for m in streams]
        assert texts[-1] == "The answer is 5."
        assert thread.output["messages"][-1]["content"][0]["text"] == "The answer is 5."


async def test_remote_graph_v3(server: ServerProcess) -> None:
    remote = RemoteGraph("agent", url=server.url, api_key=None)
    async with await remote.astream_events(MATH, version="v3") as run:
        output = await asyncio.wait_for(run.output(), 30)
    assert output["messages"][-1]["content"][0]["text"] == "The answer is 5."


# --- the wire ---------------------------------------------------------------------------------
async def test_sse_frames_and_replay_after_since(http: httpx.AsyncClient) -> None:
    thread_id = str(uuid.uuid4())
    started = await _command(http, thread_id, "run.start", {"assistant_id": "agent", "input": MATH})
    assert started["type"] == "success" and started["meta"] == {"applied_through_seq": 0}
    every = ["values", "updates", "messages", "tools", "lifecycle", "input", "tasks", "custom"]
    full = await _sse_events(http, thread_id, {"channels": every}, until=_root_end)
    assert full[0]["params"]["data"] == {"event": "running", "graph_name": "agent"}
    assert full[-1]["params"]["data"] == {"event": "completed", "graph_name": "agent"}
    seqs = [e["seq"] for e in full]
    assert seqs == sorted(set(seqs))
    assert all(e["event_id"] == str(e["seq"]) and e["type"] == "event" for e in full)
    deltas = [
        e["params"]["data"]["delta"]["text"]
        for e in full
        if e["method"] == "messages" and e["params"]["data"]["event"] == "content-block-delta"
    ]
    assert "".join(deltas) == "The answer is 5."
    # a dropped connection resumes after the last seq it saw: nothing lost, nothing repeated
    cut = len(full) // 2
    rest = await _sse_events(
        http, thread_id, {"channels": every, "since": full[cut - 1]["seq"]}, until=_root_end
    )
    assert full[:cut] + rest == full


async def test_replay_spans_runs_and_filters_by_channel(http: httpx.AsyncClient) -> None:
    thread_id = str(uuid.uuid4())
    await _command(http, thread_id, "run.start", {"assistant_id": "echo", "input": MATH})
    first = await _sse_events(http, thread_id, {"channels": ["lifecycle"]}, until=_root_end)
    await _command(http, thread_id, "run.start", {"assistant_id": "echo", "input": MATH})
    second = await _sse_events(
        http, thread_id, {"channels": ["lifecycle"], "since": first[-1]["seq"]}, until=_root_end
    )
    assert [e["params"]["data"]["event"] for e in first + second] == [
        "running",
        "completed",
        "running",
        "completed",
    ]
    assert second[0]["seq"] > first[-1]["seq"]  # the thread's seq grows across runs


async def test_namespace_depth_filters(http: httpx.AsyncClient) -> None:
    thread_id = str(uuid.uuid4())
    await _command(http, thread_id, "run.start", {"assistant_id": "nested", "input": {"value": 1}})
    body: dict[str, Any] = {"channels": ["values", "lifecycle"], "namespaces": [[]]}
    deep = await _sse_events(http, thread_id, {**body, "depth": 1}, until=_root_end)
    root = await _sse_events(http, thread_id, {**body, "depth": 0}, until=_root_end)
    assert {len(e["params"]["namespace"]) for e in deep} == {0, 1}
    assert {len(e["params"]["namespace"]) for e in root} == {0}
    child = [e for e in deep if e["params"]["namespace"]]
    started = [e for e in child if e["method"] == "lifecycle"]
    assert [e["params"]["data"]["event"] for e in started] == ["started", "completed"]
    assert all(e["params"]["data"]["graph_name"] == "child" for e in started)
    # a namespace prefix by graph name matches the child's `child:<task>` segment
    only_child = await _sse_events(
        http,
        thread_id,
        {"channels": ["values"], "namespaces": [["child"]]},
        until=lambda e: e["params"]["data"] == {"value": 2},
    )
    assert only_child and all(e["params"]["namespace"][0].startswith("child:") for e in only_child)


async def test_custom_channels(http: httpx.AsyncClient) -> None:
    thread_id = str(uuid.uuid4())
    await _command(http, thread_id, "run.start", {"assistant_id": "streamer", "input": {"n": 3}})
    events = await _sse_events(http, thread_id, {"channels": ["custom"]}, limit=3)
    assert [e["method"] for e in events] == ["custom"] * 3
    assert [e["params"]["data"]["payload"] for e in events] == [{"i": 0}, {"i": 1}, {"i": 2}]


async def test_command_errors(http: httpx.AsyncClient) -> None:
    thread_id = str(uuid.uuid4())
    unknown = await _command(http, thread_id, "state.fork", {})
    assert unknown == {
        "type": "error",
        "id": 1,
        "error": "unknown_command",
        "message": "Unknown protocol command: state.fork",
    }
    missing = await _command(http, thread_id, "run.start", {})
    assert missing["error"] == "invalid_argument"
    no_assistant = await _command(http, thread_id, "run.start", {"assistant_id": "nope"})
    assert no_assistant["error"] == "invalid_argument"
    tree = await _command(http, thread_id, "agent.getTree", {})
    assert tree["error"] == "no_such_run"
    respond = await _command(
        http, thread_id, "input.respond", {"namespace": [], "interrupt_id": "x", "response": 1}
    )
    assert respond["error"] == "no_such_run"
    over_http = await _command(http, thread_id, "subscription.subscribe", {"channels": ["values"]})
    assert over_http["error"] == "not_supported"
    bad_json = await http.post(f"/threads/{thread_id}/commands", content=b"{")
    assert bad_json.status_code == 400 and bad_json.json() == {"detail": "Invalid JSON body"}
    no_id = await http.post(f"/threads/{thread_id}/commands", json={"method": "run.start"})
    assert no_id.status_code == 400 and no_id.json()["error"] == "invalid_argument"
    for body in (
        {},
        {"channels": []},
        {"channels": ["bogus"]},
        {"channels": ["values"], "depth": -1},
    ):
        resp = await http.post(f"/threads/{thread_id}/stream/events", json=body)
        assert resp.status_code == 400 and "detail" in resp.json(), body
    for method in ("agent.getTree", "run.start"):
        bad_id = await _command(http, "not-a-uuid", method, {"assistant_id": "echo"})
        assert bad_id["error"] == "invalid_argument", bad_id
    # nothing above made a thread
    assert (await http.get(f"/threads/{thread_id}")).status_code == 404


async def test_agent_tree_and_unknown_interrupt(http: httpx.AsyncClient) -> None:
    thread_id = str(uuid.uuid4())
    started = await _command(
        http, thread_id, "run.start", {"assistant_id": "slow", "input": {"seconds": 0.3}}
    )
    await _sse_events(http, thread_id, {"channels": ["lifecycle"]}, limit=1)
    tree = await _command(http, thread_id, "agent.getTree", {})
    assert tree["type"] == "success"
    assert tree["result"]["tree"]["namespace"] == []
    assert tree["result"]["tree"]["graph_name"] == "slow"
    assert tree["result"]["tree"]["status"] == "running"
    await _sse_events(http, thread_id, {"channels": ["lifecycle"]}, until=_root_end)
    done = await _command(http, thread_id, "agent.getTree", {"run_id": started["result"]["run_id"]})
    assert done["result"]["tree"]["status"] == "completed"

    paused = str(uuid.uuid4())
    await _command(http, paused, "run.start", {"assistant_id": "agent", "input": EMAIL})
    events = await _sse_events(http, paused, {"channels": ["lifecycle", "input"]}, until=_root_end)
    assert events[-1]["params"]["data"]["event"] == "interrupted"
    (request,) = [e for e in events if e["method"] == "input.requested"]
    assert request["params"]["data"]["payload"]["question"] == "Approve these tool calls?"
    wrong = await _command(
        http, paused, "input.respond", {"namespace": [], "interrupt_id": "nope", "response": "yes"}
    )
    assert wrong["error"] == "no_such_interrupt"


# --- the WebSocket ----------------------------------------------------------------------------
async def _recv(ws: Any) -> dict[str, Any]:
    return orjson.loads(await asyncio.wait_for(ws.recv(), 30))


async def test_ws_subscriptions_outlive_runs(server: ServerProcess) -> None:
    thread_id = str(uuid.uuid4())
    async with connect(_ws_url(server, thread_id)) as ws:
        await ws.send(
            orjson.dumps(
                {
                    "id": 1,
                    "method": "subscription.subscribe",
                    "params": {"channels": ["lifecycle"], "namespaces": [[]], "depth": 0},
                }
            ).decode()
        )
        subscribed = await _recv(ws)
        assert subscribed["type"] == "success" and subscribed["id"] == 1
        assert subscribed["result"]["subscription_id"]
        phases: list[str] = []
        for command_id in (2, 3):  # two runs, started in-band
            await ws.send(
                orjson.dumps(
                    {
                        "id": command_id,
                        "method": "run.start",
                        "params": {"assistant_id": "echo", "input": MATH},
                    }
                ).decode()
            )
            while True:
                message = await _recv(ws)
                if message.get("type") == "success":
                    assert message["id"] == command_id and message["result"]["run_id"]
                    continue
                phases.append(message["params"]["data"]["event"])
                if phases[-1] == "completed":
                    break
        assert phases == ["running", "completed", "running", "completed"]
        await ws.send(
            orjson.dumps(
                {
                    "id": 4,
                    "method": "subscription.unsubscribe",
                    "params": {"subscription_id": "nope"},
                }
            ).decode()
        )
        assert (await _recv(ws))["error"] == "no_such_subscription"
        await ws.send(b"not json".decode())
        assert (await _recv(ws))["error"] == "invalid_argument"


async def test_ws_reconnect_replays_what_was_missed(
    server: ServerProcess, http: httpx.AsyncClient
) -> None:
    thread_id = str(uuid.uuid4())
    await _command(http, thread_id, "run.start", {"assistant_id": "agent", "input": MATH})
    full = await _sse_events(
        http, thread_id, {"channels": ["messages", "lifecycle"]}, until=_root_end
    )
    seen: list[dict[str, Any]] = []
    async with connect(_ws_url(server, thread_id)) as ws:
        await ws.send(
            orjson.dumps(
                {
                    "id": 1,
                    "method": "subscription.subscribe",
                    "params": {"channels": ["messages", "lifecycle"]},
                }
            ).decode()
        )
        sub_id = (await _recv(ws))["result"]["subscription_id"]
        for _ in range(4):
            seen.append(await _recv(ws))
    # the connection dropped; a new one restores the subscription by id and gets the rest
    async with connect(_ws_url(server, thread_id)) as ws:
        await ws.send(
            orjson.dumps(
                {
                    "id": 1,
                    "method": "subscription.reconnect",
                    "params": {"last_event_id": str(seen[-1]["seq"]), "subscriptions": [sub_id]},
                }
            ).decode()
        )
        assert (await _recv(ws))["result"]["restored"] is True
        while not seen or not _root_end(seen[-1]):
            seen.append(await _recv(ws))
    assert seen == full


async def test_ws_auth_applies_to_the_handshake(auth_server: ServerProcess) -> None:
    from websockets.exceptions import InvalidStatus

    thread_id = str(uuid.uuid4())
    with pytest.raises(InvalidStatus) as refused:
        async with connect(_ws_url(auth_server, thread_id)):
            pass
    assert refused.value.response.status_code == 401
    token = {"Authorization": "Bearer token-a"}
    alice = get_client(url=auth_server.url, api_key=None, headers=token)
    # the SDK's WebSocket handshake carries the stream's headers, not the client's defaults
    async with alice.threads.stream(
        assistant_id="echo", transport="websocket", headers=token
    ) as thread:
        await thread.run.start(input=MATH)
        output = await asyncio.wait_for(thread.output, 30)
    assert output["messages"][-1]["content"]
    # another user can neither read alice's thread's events nor open its WebSocket
    bob = {"Authorization": "Bearer token-b"}
    async with httpx.AsyncClient(base_url=auth_server.url, timeout=30, headers=bob) as http:
        resp = await http.post(
            f"/threads/{thread.thread_id}/stream/events", json={"channels": ["values"]}
        )
        assert resp.status_code == 404
        respond = await _command(
            http, thread.thread_id, "run.start", {"assistant_id": "echo", "input": MATH}
        )
        assert respond["type"] == "error"
    with pytest.raises(InvalidStatus) as hidden:
        async with connect(_ws_url(auth_server, thread.thread_id), additional_headers=bob):
            pass
    assert hidden.value.response.status_code == 404
