"""The thread protocol's event rules without a server: log entry names, subscription filters,
the translator's lifecycle and interrupts, and a reader that falls behind its bounded log."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import orjson
import pytest
from langgraph.types import Interrupt

from threadloom.errors import InvalidInput
from threadloom.runtime.local_broker import LocalBroker
from threadloom.runtime.protocol_events import ProtocolTranslator, entry_name, seq_floor
from threadloom.services.thread_events import (
    Lost,
    ProtocolEvent,
    _follow_run,
    parse_entry,
    parse_subscription,
)


def _event(name: str, seq: int = 1) -> ProtocolEvent:
    parsed = parse_entry(seq, name, b"{}")
    assert parsed is not None
    return parsed


def test_entry_names_carry_method_channel_and_namespace() -> None:
    event = _event(entry_name("custom:progress", ("child:1", "leaf:2")))
    assert (event.method, event.channel, event.namespace) == (
        b"custom",
        "custom:progress",
        ("child:1", "leaf:2"),
    )
    asked = _event(entry_name("input.requested", ()))
    assert (asked.method, asked.channel, asked.namespace) == (b"input.requested", "input", ())
    assert parse_entry(1, "metadata", b"{}") is None
    assert parse_entry(1, "values", b"{}") is None  # a v1 event of the same log


def test_subscription_channels_namespaces_and_depth() -> None:
    sub = parse_subscription({"channels": ["messages", "custom"], "namespaces": [[]], "depth": 1})
    assert sub.matches(_event(entry_name("messages", ())))
    assert sub.matches(_event(entry_name("messages", ("child:1",))))
    assert not sub.matches(_event(entry_name("messages", ("child:1", "leaf:2"))))
    assert sub.matches(_event(entry_name("custom:progress", ())))  # `custom` covers every name
    assert not sub.matches(_event(entry_name("values", ())))
    named = parse_subscription({"channels": ["custom:progress"]})
    assert named.matches(_event(entry_name("custom:progress", ())))
    assert not named.matches(_event(entry_name("custom:other", ())))
    # a prefix by graph name matches a `name:<task id>` segment; one with a task id only itself
    by_name = parse_subscription({"channels": ["values"], "namespaces": [["child"]], "depth": 0})
    assert by_name.matches(_event(entry_name("values", ("child:1",))))
    assert not by_name.matches(_event(entry_name("values", ())))
    by_task = parse_subscription({"channels": ["values"], "namespaces": [["child:1"]]})
    assert not by_task.matches(_event(entry_name("values", ("child:2",))))


@pytest.mark.parametrize(
    "body",
    [
        [],
        {},
        {"channels": []},
        {"channels": ["bogus"]},
        {"channels": ["custom:"]},
        {"channels": ["values"], "namespaces": ["root"]},
        {"channels": ["values"], "depth": True},
        {"channels": ["values"], "depth": -1},
    ],
)
def test_bad_subscriptions_are_refused(body: Any) -> None:
    with pytest.raises(InvalidInput):
        parse_subscription(body)


def _decoded(encoded: list[tuple[str, bytes]]) -> list[tuple[str, Any]]:
    return [(name, orjson.loads(data)["data"]) for name, data in encoded]


def test_translator_lifecycle_and_interrupts() -> None:
    tr = ProtocolTranslator("agent")
    assert _decoded(tr.start()) == [
        ("proto:lifecycle", {"event": "running", "graph_name": "agent"})
    ]
    child = ["child:1"]
    started = {"event": "started", "namespace": child, "graph_name": "child"}
    out = tr.translate({"method": "lifecycle", "params": {"namespace": [], "data": started}})
    assert [name for name, _ in out] == ["proto:lifecycle|child:1"]  # on the child's namespace
    done = {"event": "completed", "namespace": child}
    out = tr.translate({"method": "lifecycle", "params": {"namespace": [], "data": done}})
    assert _decoded(out)[0][1]["graph_name"] == "child"
    # whole messages are not content-block events: dropped
    whole = {"method": "messages", "params": {"namespace": [], "data": ({"content": "x"}, {})}}
    assert tr.translate(whole) == []
    block = {"event": "message-start", "role": "ai", "id": "m1"}
    out = tr.translate({"method": "messages", "params": {"namespace": [], "data": (block, {})}})
    assert _decoded(out) == [("proto:messages", block)]
    custom = tr.translate({"method": "custom", "params": {"namespace": [], "data": {"i": 1}}})
    assert _decoded(custom) == [("proto:custom", {"payload": {"i": 1}})]
    paused = Interrupt(value={"q": "ok?"}, id="int-1")
    values = {"namespace": [], "data": {"x": 1}, "interrupts": (paused,)}
    tr.translate({"method": "values", "params": values})
    assert tr.saw_interrupt and tr.last_values == {"x": 1}
    assert _decoded(tr.end("success", paused=True, error=None)) == [
        (
            "proto:input.requested",
            {"interrupt_id": "int-1", "payload": {"q": "ok?"}, "value": {"q": "ok?"}},
        ),
        ("proto:lifecycle", {"event": "interrupted", "graph_name": "agent"}),
    ]
    failed = _decoded(tr.end("error", paused=False, error={"message": "boom"}))
    assert failed == [
        ("proto:lifecycle", {"event": "failed", "graph_name": "agent", "error": "boom"})
    ]


def test_seq_floor_grows_with_time_and_stays_js_safe() -> None:
    assert seq_floor(1_000_000) == 1000
    assert seq_floor(2_000_000) > seq_floor(1_000_000) + 999
    assert seq_floor() < 2**53


async def _publish(broker: LocalBroker, run_id: str, count: int) -> None:
    for i in range(count):
        await broker.publish(run_id, entry_name("custom", ()), b'{"n":%d}' % i)


async def test_a_reader_behind_its_bounded_log_is_told_it_fell_behind() -> None:
    broker = LocalBroker(buffer_events=4, retention_seconds=60)
    ctx: Any = SimpleNamespace(broker=broker)
    await broker.begin_run("r1", "t1", lambda action: None, _notice(), floor=seq_floor())
    await broker.publish("r1", "metadata", b"{}")
    await _publish(broker, "r1", 2)
    reader = _follow_run(ctx, "r1", 0, True, resume=False)
    first = await anext(reader)
    assert not isinstance(first, Lost) and len(first) == 2
    await _publish(broker, "r1", 20)  # the reader did not keep up: the log dropped some
    lost = await anext(reader)
    assert isinstance(lost, Lost) and lost.since == first[-1].seq
    with pytest.raises(StopAsyncIteration):
        await anext(reader)
    # a resume from a position the log no longer holds is told the same
    resumed = _follow_run(ctx, "r1", first[-1].seq, False, resume=True)
    assert isinstance(await anext(resumed), Lost)
    # reading a run from its start (its `metadata`) or right after a kept seq is whole
    await broker.begin_run("r2", "t1", lambda action: None, _notice(), floor=seq_floor())
    await broker.publish("r2", "metadata", b"{}")
    await _publish(broker, "r2", 2)
    await broker.finish("r2")
    whole = [b async for b in _follow_run(ctx, "r2", 0, True, resume=True)]
    assert [len(b) for b in whole if not isinstance(b, Lost)] == [2]


def _notice() -> Any:
    from threadloom.runtime.broker import ThreadNotice

    return ThreadNotice("run_started", "r", b"{}")


async def test_the_executor_pipeline_matches_langgraph_v3() -> None:
    """`protocol_events.Mux` drives LangGraph's mux itself (runtime/protocol_events.py); it must
    yield what `astream_events(version="v3")` does with the same modes — a LangGraph upgrade
    that changes the private pieces it uses fails here."""
    import re

    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.config import get_stream_writer
    from langgraph.graph import START, StateGraph
    from langgraph.prebuilt._tool_call_transformer import ToolCallTransformer
    from langgraph.stream import (
        CheckpointsTransformer,
        CustomTransformer,
        TasksTransformer,
        UpdatesTransformer,
    )
    from typing_extensions import TypedDict

    from threadloom.runtime.protocol_events import Mux, graph_config

    class S(TypedDict, total=False):
        n: int

    def inner_step(state: S) -> S:
        get_stream_writer()({"at": "inner"})
        return {"n": state.get("n", 0) + 1}

    inner = StateGraph(S).add_node("step", inner_step).add_edge(START, "step").compile()
    outer = StateGraph(S).add_node("child", inner).add_edge(START, "child").compile()
    outer.checkpointer = InMemorySaver()

    def names(encoded: list[tuple[str, bytes]]) -> list[str]:
        return [re.sub(r":[0-9a-f-]{36}", ":<task>", n) for n, _ in encoded]

    mux = Mux(outer)
    ours: list[tuple[str, bytes]] = []
    tr = ProtocolTranslator("outer")
    config: Any = {"configurable": {"thread_id": "a"}}
    async for part in outer.astream(
        {"n": 1}, graph_config(config), stream_mode=mux.modes, subgraphs=True, version="v2"
    ):
        ours.extend(mux.entries(part, tr))
    for event in mux.close():
        ours.extend(tr.translate(event))

    upstream: list[tuple[str, bytes]] = []
    tr = ProtocolTranslator("outer")
    transformers = [
        UpdatesTransformer,
        CustomTransformer,
        TasksTransformer,
        CheckpointsTransformer,
        ToolCallTransformer,
    ]
    stream = await outer.astream_events(
        {"n": 1}, {"configurable": {"thread_id": "b"}}, version="v3", transformers=transformers
    )
    async with stream:
        async for event in stream:
            upstream.extend(tr.translate(event))
    assert names(ours) == names(upstream)
    assert "proto:lifecycle|child:<task>" in names(ours)
    assert "proto:custom|child:<task>" in names(ours)
