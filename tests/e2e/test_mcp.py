"""`/mcp` driven by the official `mcp` SDK's Streamable HTTP client, and by raw HTTP for what
the client never shows (statuses of GET/DELETE, notifications, framing errors)."""

from __future__ import annotations

import ast
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import mcp.types as mcp_types
import pytest
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

from tests.support.server import ServerProcess

JSON_AND_SSE = {"Accept": "application/json, text/event-stream"}


@asynccontextmanager
async def mcp_session(server: ServerProcess) -> AsyncIterator[ClientSession]:
    async with (
        streamable_http_client(f"{server.url}/mcp") as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        yield session


async def all_tools(session: ClientSession) -> list[mcp_types.Tool]:
    """Every page of tools/list (other tests add assistants to the shared server)."""
    tools: list[mcp_types.Tool] = []
    cursor: str | None = None
    while True:
        params = mcp_types.PaginatedRequestParams(cursor=cursor) if cursor else None
        page = await session.list_tools(params=params)
        tools.extend(page.tools)
        if page.next_cursor is None:
            return tools
        cursor = page.next_cursor


def text_of(result: mcp_types.CallToolResult) -> str:
    (block,) = result.content
    assert isinstance(block, mcp_types.TextContent)
    return block.text


async def test_lists_every_assistant_as_a_tool(server: ServerProcess) -> None:
    async with mcp_session(server) as session:
        tools = {t.name: t for t in await all_tools(session)}
    agent = tools["agent"]
    assert agent.title == "agent"
    assert agent.description == "Tool based on the agent assistant"
    # a list of LangChain messages becomes the one user message a model can fill in
    assert agent.input_schema["type"] == "object"
    assert agent.input_schema["properties"]["messages"]["type"] == "string"
    assert "$defs" not in agent.input_schema
    assert tools["streamer"].description == "Emits many custom events"
    assert set(tools["runs_shaped"].input_schema["properties"]) >= {"question"}


async def test_calls_the_example_agent(server: ServerProcess) -> None:
    async with mcp_session(server) as session:
        result = await session.call_tool("agent", {"messages": "What is 12 * 7?"})
    assert not result.is_error
    output = ast.literal_eval(text_of(result))  # the run's values, as Python's repr
    messages = output["messages"]
    assert messages[0] == {**messages[0], "type": "human", "content": "What is 12 * 7?"}
    assert any(m["type"] == "tool" and m["content"] == "84" for m in messages)
    assert messages[-1]["type"] == "ai" and "84" in messages[-1]["content"]


async def test_a_failing_graph_is_an_error_result(server: ServerProcess) -> None:
    async with mcp_session(server) as session:
        result = await session.call_tool("failing", {"messages": "hi"})
    assert result.is_error
    assert text_of(result) == "ValueError"


async def test_unknown_and_duplicate_names(server: ServerProcess, http: httpx.AsyncClient) -> None:
    tag = uuid.uuid4().hex[:8]
    for name in (f"dup {tag}", f"dup_{tag}"):  # one tool name, dup_<tag>, for both
        created = await http.post("/assistants", json={"graph_id": "echo", "name": name})
        assert created.status_code == 200, created.text
    async with mcp_session(server) as session:
        names = [t.name for t in await all_tools(session)]
        assert names.count(f"dup_{tag}") == 1
        with pytest.raises(MCPError) as unknown:
            await session.call_tool(f"nope_{tag}", {})
        with pytest.raises(MCPError) as ambiguous:
            await session.call_tool(f"dup_{tag}", {"messages": "hi"})
    assert unknown.value.error.code == mcp_types.INVALID_PARAMS
    assert unknown.value.error.message == f"Unknown tool: nope_{tag}"
    assert ambiguous.value.error.message == "Multiple tools found with the same name."


async def _rpc(http: httpx.AsyncClient, message: Any, **headers: str) -> httpx.Response:
    return await http.post("/mcp", json=message, headers={**JSON_AND_SSE, **headers})


async def test_protocol_answers(http: httpx.AsyncClient) -> None:
    init = await _rpc(
        http,
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {"protocolVersion": "2025-03-26"},
        },
    )
    assert init.status_code == 200
    assert init.headers["content-type"] == "application/json"
    assert init.json()["result"]["protocolVersion"] == "2025-03-26"
    assert init.json()["result"]["capabilities"] == {"tools": {"listChanged": False}}
    newer = await _rpc(
        http,
        {
            "jsonrpc": "2.0",
            "id": 2,
            "method": "initialize",
            "params": {"protocolVersion": "2999-01-01"},
        },
    )
    assert newer.json()["result"]["protocolVersion"] == "2025-11-25"
    ping = await _rpc(http, {"jsonrpc": "2.0", "id": "p", "method": "ping"})
    assert ping.json() == {"jsonrpc": "2.0", "id": "p", "result": {}}
    unknown = await _rpc(http, {"jsonrpc": "2.0", "id": 3, "method": "resources/list"})
    assert unknown.json()["error"] == {
        "code": -32601,
        "message": "Method not found: resources/list",
    }

    note = await _rpc(http, {"jsonrpc": "2.0", "method": "notifications/initialized"})
    assert (note.status_code, note.content) == (202, b"")
    reply = await _rpc(http, {"jsonrpc": "2.0", "id": 9, "result": {}})
    assert reply.status_code == 202
    assert (await http.get("/mcp")).status_code == 405
    assert (await http.delete("/mcp")).status_code == 404  # no sessions to end

    # framing errors: 400 with a reason, never a 500
    html = await http.post(
        "/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "ping"}, headers={"Accept": "text/html"}
    )
    assert html.status_code == 400 and "Accept header" in html.json()["detail"]
    broken = await http.post("/mcp", content=b'{"jsonrpc"', headers=JSON_AND_SSE)
    assert broken.status_code == 400 and broken.json()["detail"] == "Invalid JSON"
    for bad in ([1], {"id": 1, "method": "ping"}, {"jsonrpc": "2.0"}):
        answer = await _rpc(http, bad)
        assert answer.status_code == 400, bad
        assert answer.json()["detail"]
    bad_params = await _rpc(
        http, {"jsonrpc": "2.0", "id": 4, "method": "tools/call", "params": [1]}
    )
    assert bad_params.json()["error"]["code"] == -32602
    bad_args = await _rpc(
        http,
        {
            "jsonrpc": "2.0",
            "id": 5,
            "method": "tools/call",
            "params": {"name": "echo", "arguments": {"messages": "hi"}, "context": "not-an-object"},
        },
    )
    assert bad_args.json()["error"]["code"] == -32602
