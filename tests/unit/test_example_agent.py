"""The bundled example project, loaded the way the server loads it, run end to end in-process."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import AIMessage, AIMessageChunk, ToolMessage
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command

from threadloom.graphs import GraphRegistry, load_project
from threadloom.graphs.schemas import (
    SCHEMA_KEYS,
    adrawable_graph,
    asubgraph_schemas,
    drawable_graph,
    graph_schemas,
    subgraph_schemas,
)

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture(scope="module")
def registry() -> GraphRegistry:
    return GraphRegistry.from_project(load_project(EXAMPLES / "langgraph.json"))


async def agent(registry: GraphRegistry) -> Any:
    async with registry.build("agent", checkpointer=InMemorySaver(), store=None) as graph:
        return graph


def thread(name: str) -> dict[str, Any]:
    return {"configurable": {"thread_id": name}}


def ask(text: str) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": text}]}


def test_project_graphs(registry: GraphRegistry) -> None:
    assert registry.graph_ids[:2] == ["agent", "echo"]
    assert "approval" in (registry.description("agent") or "")


async def test_plain_reply(registry: GraphRegistry) -> None:
    graph = await agent(registry)
    result = await graph.ainvoke(ask("hello"), thread("plain"))
    reply = result["messages"][-1]
    assert isinstance(reply, AIMessage) and reply.text.startswith("Hello!")
    assert not reply.tool_calls


async def test_tools_are_called_and_answer_is_deterministic(registry: GraphRegistry) -> None:
    graph = await agent(registry)
    result = await graph.ainvoke(ask("what is 6 * 7 and the weather in Oslo?"), thread("tools"))
    messages = result["messages"]
    calls = messages[1].tool_calls
    assert [c["name"] for c in calls] == ["calculator", "get_weather"]
    assert calls[0]["args"] == {"expression": "6 * 7"} and calls[1]["args"] == {"city": "Oslo"}
    tool_results = [m for m in messages if isinstance(m, ToolMessage)]
    assert tool_results[0].text == "42"
    final = messages[-1]
    assert final.text.startswith("The answer is 42.") and "Oslo" in final.text
    again = await graph.ainvoke(ask("what is 6 * 7 and the weather in Oslo?"), thread("tools2"))
    assert [m.text for m in again["messages"]] == [m.text for m in messages]


async def test_usage_metadata_on_every_ai_message(registry: GraphRegistry) -> None:
    graph = await agent(registry)
    result = await graph.ainvoke(ask("what is 2 + 2"), thread("usage"))
    ai = [m for m in result["messages"] if isinstance(m, AIMessage)]
    assert len(ai) == 2
    for message in ai:
        usage = message.usage_metadata
        assert usage is not None and usage["input_tokens"] > 0 and usage["output_tokens"] > 0
        assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]


async def test_sensitive_tool_interrupts_then_resumes(registry: GraphRegistry) -> None:
    graph = await agent(registry)
    config = thread("approve")
    paused = await graph.ainvoke(ask("send an email to bob@example.com"), config)
    (pending,) = paused["__interrupt__"]
    assert pending.value["tool_calls"][0]["name"] == "send_email"
    state = await graph.aget_state(config)
    assert state.next == ("approve",)

    done = await graph.ainvoke(Command(resume={"approved": True}), config)
    assert "__interrupt__" not in done
    assert "email to bob@example.com sent" in done["messages"][-2].text
    assert done["messages"][-1].text.startswith("Done:")
    assert (await graph.aget_state(config)).next == ()


async def test_refusal_skips_the_tool(registry: GraphRegistry) -> None:
    graph = await agent(registry)
    config = thread("refuse")
    await graph.ainvoke(ask("please email the report to ann@example.com"), config)
    done = await graph.ainvoke(Command(resume="no"), config)
    assert not any("sent" in m.text for m in done["messages"] if isinstance(m, ToolMessage))
    assert "did not run send_email" in done["messages"][-1].text


async def test_messages_stream_yields_token_chunks(registry: GraphRegistry) -> None:
    graph = await agent(registry)
    chunks: list[AIMessageChunk] = []
    async for message, metadata in graph.astream(
        ask("hello"), thread("stream"), stream_mode="messages"
    ):
        assert metadata["langgraph_node"] == "agent"
        assert isinstance(message, AIMessageChunk)
        chunks.append(message)
    assert len([c for c in chunks if c.content]) > 5
    assert len({c.id for c in chunks}) == 1
    total = chunks[0]
    for chunk in chunks[1:]:
        total = total + chunk
    assert total.text.startswith("Hello! I can do arithmetic")
    assert total.usage_metadata and total.usage_metadata["output_tokens"] > 5


async def test_streamed_tool_calls_are_whole(registry: GraphRegistry) -> None:
    graph = await agent(registry)
    final = None
    async for message, _ in graph.astream(
        ask("weather in Rome"), thread("stc"), stream_mode="messages"
    ):
        if isinstance(message, AIMessageChunk) and message.tool_call_chunks:
            final = message
    assert final is not None and final.tool_calls[0]["args"] == {"city": "Rome"}


async def test_echo_graph(registry: GraphRegistry) -> None:
    async with registry.build("echo", checkpointer=InMemorySaver(), store=None) as graph:
        result = await graph.ainvoke(ask("hi"), thread("echo"), context={"prefix": "bot"})
    assert result["messages"][-1].text == "bot: hi" and result["turns"] == 1


# --- schemas and drawing (what Studio fetches) ------------------------------------------------


def test_agent_schemas(registry: GraphRegistry) -> None:
    graph = registry.entry("agent").graph
    schemas = graph_schemas(graph)
    assert set(schemas) == set(SCHEMA_KEYS)
    for key in ("input_schema", "output_schema", "state_schema"):
        assert "messages" in schemas[key]["properties"]
    assert schemas["context_schema"] is None
    assert isinstance(schemas["config_schema"], dict)


def test_echo_schemas_include_context_and_subgraph(registry: GraphRegistry) -> None:
    graph = registry.entry("echo").graph
    schemas = graph_schemas(graph)
    assert schemas["context_schema"]["properties"]["prefix"]["default"] == "echo"
    assert {"messages", "delay", "turns"} <= set(schemas["state_schema"]["properties"])
    subs = subgraph_schemas(graph)
    assert list(subs) == ["respond"]
    assert subs["respond"]["context_schema"] is not None
    assert subgraph_schemas(graph, namespace="nope") == {}


async def test_async_subgraph_schemas(registry: GraphRegistry) -> None:
    graph = registry.entry("echo").graph
    assert list(await asubgraph_schemas(graph, recurse=True)) == ["respond"]


def test_drawable_agent(registry: GraphRegistry) -> None:
    drawn = drawable_graph(registry.entry("agent").graph)
    ids = {n["id"] for n in drawn["nodes"]}
    assert {"__start__", "agent", "tools", "approve", "__end__"} <= ids
    for node in drawn["nodes"]:
        if node["id"] not in ("__start__", "__end__"):
            assert node["type"] == "runnable" and node["data"]["name"] == node["id"]
    for edge in drawn["edges"]:
        assert isinstance(edge["conditional"], bool) and {"source", "target"} <= set(edge)
    assert any(e["source"] == "agent" and e["conditional"] for e in drawn["edges"])
    assert any(e["source"] == "approve" and e["target"] == "tools" for e in drawn["edges"])


async def test_drawable_xray_shows_subgraph_nodes(registry: GraphRegistry) -> None:
    graph = registry.entry("echo").graph
    flat = {n["id"] for n in drawable_graph(graph)["nodes"]}
    deep = {n["id"] for n in (await adrawable_graph(graph, xray=True))["nodes"]}
    assert "respond" in flat and "respond:reply" in deep


def test_schema_failure_becomes_none(caplog: pytest.LogCaptureFixture) -> None:
    class Broken:
        name = "broken"

        def get_input_jsonschema(self) -> dict[str, Any]:
            raise TypeError("nope")

        def get_output_jsonschema(self) -> dict[str, Any]:
            return {"type": "object"}

    schemas = graph_schemas(Broken())
    assert schemas["input_schema"] is None and schemas["output_schema"] == {"type": "object"}
    assert "cannot build its input schema" in caplog.text
