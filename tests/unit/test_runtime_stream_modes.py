"""StreamTranslator: event names and the server-side `messages` accumulation."""

from __future__ import annotations

from langchain_core.messages import AIMessage, AIMessageChunk

from threadloom.runtime.stream_modes import StreamTranslator
from threadloom.serde import loads


def decoded(events: list[tuple[str, bytes]]) -> list[tuple[str, object]]:
    return [(name, loads(data)) for name, data in events]


def test_raw_modes_and_subgraph_names() -> None:
    t = StreamTranslator(["updates", "custom"])
    assert t.graph_modes == ["values", "updates", "custom"]
    assert decoded(t.translate((), "updates", {"a": {"x": 1}})) == [("updates", {"a": {"x": 1}})]
    assert decoded(t.translate(("sub:1", "inner:2"), "custom", 5)) == [("custom|sub:1|inner:2", 5)]
    assert t.translate((), "values", {"x": 1}) == []  # tracked, not requested
    assert t.last_values == {"x": 1}


def test_messages_accumulate_into_whole_messages() -> None:
    t = StreamTranslator(["messages", "values"])
    meta = {"langgraph_node": "call"}
    out = decoded(t.translate((), "messages", (AIMessageChunk(content="he", id="m"), meta)))
    assert out[0] == ("messages/metadata", {"m": {"metadata": meta}})
    assert out[1][0] == "messages/partial" and out[1][1][0]["content"] == "he"  # type: ignore[index]
    out = decoded(
        t.translate(
            ("sub:1",),
            "messages",
            (AIMessageChunk(content="llo", id="m", chunk_position="last"), meta),
        )
    )
    # no namespace on the name, the message so far as a whole message, no complete after it
    assert [n for n, _ in out] == ["messages/partial"]
    assert out[0][1][0]["content"] == "hello" and out[0][1][0]["type"] == "ai"  # type: ignore[index]
    assert decoded(t.translate((), "values", {"messages": []})) == [("values", {"messages": []})]
    # a whole message (not streamed) is complete at once
    out = decoded(t.translate((), "messages", (AIMessage(content="done", id="n"), meta)))
    assert [n for n, _ in out] == ["messages/metadata", "messages/complete"]


def test_messages_with_messages_tuple_sends_the_tuples_only() -> None:
    t = StreamTranslator(["messages", "messages-tuple"])
    out = decoded(t.translate((), "messages", (AIMessageChunk(content="x", id="m"), {"k": 1})))
    assert [n for n, _ in out] == ["messages"]


def test_messages_tuple_is_langgraph_messages_renamed() -> None:
    t = StreamTranslator(["messages-tuple"])
    out = decoded(t.translate((), "messages", (AIMessageChunk(content="x", id="m"), {"k": 1})))
    assert out[0][0] == "messages"
    assert out[0][1][0]["content"] == "x" and out[0][1][1] == {"k": 1}  # type: ignore[index]


def test_interrupt_seen_in_values() -> None:
    t = StreamTranslator(["values"])
    t.translate((), "values", {"__interrupt__": [{"value": 1, "id": "i"}]})
    assert t.saw_interrupt
