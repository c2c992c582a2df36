"""RunExecutor on small inline graphs with the real SQLite storage and the LocalBroker."""

from __future__ import annotations

import asyncio
import operator
from pathlib import Path
from typing import Annotated, Any, TypedDict

import pytest
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import RunnableConfig
from langgraph.config import get_stream_writer
from langgraph.graph import END, START, MessagesState, StateGraph
from langgraph.types import interrupt

from tests.support.runtime import Env, events_of, open_env


class Items(TypedDict):
    items: Annotated[list[str], operator.add]


def appender(name: str, log: list[str] | None = None) -> Any:
    def node(state: Items) -> dict[str, Any]:
        if log is not None:
            log.append(name)
        get_stream_writer()({"node": name})
        return {"items": [name]}

    return node


def linear_graph(log: list[str] | None = None) -> StateGraph:
    g = StateGraph(Items)
    g.add_node("a", appender("a", log))
    g.add_node("b", appender("b", log))
    g.add_edge(START, "a")
    g.add_edge("a", "b")
    g.add_edge("b", END)
    return g


def approval_graph() -> StateGraph:
    def ask(state: Items) -> dict[str, Any]:
        answer = interrupt({"question": "ok?"})
        return {"items": [f"answer:{answer}"]}

    g = StateGraph(Items)
    g.add_node("a", appender("a"))
    g.add_node("ask", ask)
    g.add_edge(START, "a")
    g.add_edge("a", "ask")
    g.add_edge("ask", END)
    return g


class UsageModel(BaseChatModel):
    """A non-streaming chat model that reports token usage."""

    @property
    def _llm_type(self) -> str:
        return "usage-model"

    def _generate(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kwargs: Any
    ) -> ChatResult:
        message = AIMessage(
            content="counted",
            id="usage-msg",
            usage_metadata={
                "input_tokens": 7,
                "output_tokens": 3,
                "total_tokens": 10,
                "input_token_details": {"cache_read": 2},
            },
        )
        return ChatResult(generations=[ChatGeneration(message=message)])


def chat_graph() -> StateGraph:
    streaming = GenericFakeChatModel(messages=iter([AIMessage(content="hello big world", id="m1")]))
    counting = UsageModel()

    async def call(state: MessagesState) -> dict[str, Any]:
        first = await streaming.ainvoke(state["messages"])
        second = await counting.ainvoke(state["messages"])
        return {"messages": [first, second]}

    g = StateGraph(MessagesState)
    g.add_node("call", call)
    g.add_edge(START, "call")
    return g


def subgraph_graph() -> StateGraph:
    inner = StateGraph(Items)
    inner.add_node("inner_node", appender("inner"))
    inner.add_edge(START, "inner_node")
    g = StateGraph(Items)
    g.add_node("outer", inner.compile())
    g.add_edge(START, "outer")
    return g


def failing_graph(exc: Exception) -> StateGraph:
    def boom(state: Items) -> dict[str, Any]:
        raise exc

    g = StateGraph(Items)
    g.add_node("a", appender("a"))
    g.add_node("boom", boom)
    g.add_edge(START, "a")
    g.add_edge("a", "boom")
    return g


def slow_graph(started: asyncio.Event | None = None, seconds: float = 5.0) -> StateGraph:
    async def slow(state: Items) -> dict[str, Any]:
        if started is not None:
            started.set()
        await asyncio.sleep(seconds)
        return {"items": ["slow"]}

    g = StateGraph(Items)
    g.add_node("a", appender("a"))
    g.add_node("slow", slow)
    g.add_edge(START, "a")
    g.add_edge("a", "slow")
    return g


def loop_graph() -> StateGraph:
    g = StateGraph(Items)
    g.add_node("a", appender("a"))
    g.add_edge(START, "a")
    g.add_edge("a", "a")
    return g


@pytest.fixture
async def env(tmp_path: Path) -> Any:
    env = await open_env(tmp_path, {}, run_timeout_seconds=30)
    yield env
    await env.storage.close()


async def run_graph(env: Env, graph: Any, **kwargs: Any) -> tuple[Any, list[tuple[str, Any]]]:
    env.registry.graphs["g"] = graph
    assistant = await env.assistant("g")
    run = await env.enqueue(assistant, **kwargs)
    claimed = await env.claim_one(run.run_id)
    result = await env.executor.execute(claimed)
    return result, await events_of(env.broker, run.run_id)


async def test_values_default_and_final_records(env: Env) -> None:
    result, events = await run_graph(env, linear_graph(), input={"items": ["x"]})
    assert events[0] == ("metadata", {"run_id": result.run_id, "attempt": 1})
    assert [name for name, _ in events[1:]] == ["values", "values", "values"]
    assert events[-1][1] == {"items": ["x", "a", "b"]}
    assert result.status == "success" and result.stop_reason == "end_turn"
    assert result.values == {"items": ["x", "a", "b"]}
    run = await env.storage.runs.get(result.run_id)
    assert run is not None and run.status == "success" and run.stop_reason == "end_turn"
    thread = await env.storage.threads.get(result.thread_id)
    assert thread is not None and thread.status == "idle"
    assert thread.values == {"items": ["x", "a", "b"]}
    # checkpoints carry the run id (rollback deletes by it)
    config = {"configurable": {"thread_id": result.thread_id}}
    metas = [t.metadata async for t in env.storage.checkpointer.alist(config)]
    assert metas and all(m.get("run_id") == result.run_id for m in metas)
    assert await env.broker.is_finished(result.run_id)


async def test_updates_custom_debug_tasks_checkpoints(env: Env) -> None:
    modes = ["updates", "custom", "debug", "tasks", "checkpoints"]
    result, events = await run_graph(env, linear_graph(), input={"items": []}, stream_mode=modes)
    names = [name for name, _ in events]
    assert "values" not in names
    assert set(names) >= {"metadata", "updates", "custom", "debug", "tasks", "checkpoints"}
    updates = [data for name, data in events if name == "updates"]
    assert updates == [{"a": {"items": ["a"]}}, {"b": {"items": ["b"]}}]
    assert [data for name, data in events if name == "custom"] == [{"node": "a"}, {"node": "b"}]
    assert result.values == {"items": ["a", "b"]}  # tracked even when not streamed


async def test_messages_tuple_and_accumulated_messages(env: Env) -> None:
    result, events = await run_graph(
        env,
        chat_graph(),
        input={"messages": [{"role": "user", "content": "hi"}]},
        stream_mode=["messages-tuple"],
    )
    tuples = [data for name, data in events if name == "messages"]
    assert tuples and all(len(t) == 2 for t in tuples)
    assert tuples[0][0]["content"] == "hello" and tuples[0][1]["langgraph_node"] == "call"
    _, events = await run_graph(
        env,
        chat_graph(),
        input={"messages": [{"role": "user", "content": "hi"}]},
        stream_mode=["messages"],
    )
    names = [name for name, _ in events]
    metadata = [data for name, data in events if name == "messages/metadata"]
    assert [next(iter(m)) for m in metadata] == ["m1", "usage-msg"]
    partials = [data[0]["content"] for name, data in events if name == "messages/partial"]
    assert partials[-1] == "hello big world"
    assert {data[0]["type"] for name, data in events if name == "messages/partial"} == {"ai"}
    completes = [data[0] for name, data in events if name == "messages/complete"]
    assert [c["content"] for c in completes] == ["counted"]  # streamed messages get none
    assert names.index("messages/metadata") < names.index("messages/partial")

    run = await env.storage.runs.get(result.run_id)
    assert run is not None
    assert run.first_token_at is not None
    assert run.usage["input_tokens"] == 7 and run.usage["total_tokens"] == 10
    assert run.usage["input_token_details"] == {"cache_read": 2}
    assert [s["type"] for s in run.steps] == ["llm", "llm"]
    assert all(s["duration_ns"] >= 0 for s in run.steps)
    assert run.steps[1]["usage"]["output_tokens"] == 3
    assert run.model_snapshot is not None


async def test_events_mode_with_values(env: Env) -> None:
    result, events = await run_graph(
        env, linear_graph(), input={"items": []}, stream_mode=["events", "values"]
    )
    kinds = [data["event"] for name, data in events if name == "events"]
    assert "on_chain_start" in kinds and "on_chain_end" in kinds
    values = [data for name, data in events if name == "values"]
    assert values[-1] == {"items": ["a", "b"]}
    assert result.status == "success"


async def test_subgraph_event_names(env: Env) -> None:
    _, events = await run_graph(
        env, subgraph_graph(), input={"items": []}, stream_mode=["updates"], stream_subgraphs=True
    )
    names = [name for name, _ in events]
    assert "updates" in names
    sub = [n for n in names if n.startswith("updates|")]
    assert sub and sub[0].startswith("updates|outer:")


async def test_interrupt_pauses_thread_and_resume(env: Env) -> None:
    result, events = await run_graph(env, approval_graph(), input={"items": []})
    last_values = [data for name, data in events if name == "values"][-1]
    assert last_values["__interrupt__"][0]["value"] == {"question": "ok?"}
    assert "id" in last_values["__interrupt__"][0]
    assert result.status == "success" and result.stop_reason == "requires_approval"
    thread = await env.storage.threads.get(result.thread_id)
    assert thread is not None and thread.status == "interrupted"
    [(_task_id, interrupts)] = thread.interrupts.items()
    assert interrupts[0]["value"] == {"question": "ok?"}

    # resume with a command on the same thread
    assistant = await env.storage.assistants.get(
        (await env.storage.runs.get(result.run_id)).assistant_id  # type: ignore[union-attr]
    )
    assert assistant is not None
    run = await env.enqueue(assistant, thread_id=result.thread_id, command={"resume": "yes"})
    second = await env.executor.execute(await env.claim_one(run.run_id))
    assert second.stop_reason == "end_turn"
    assert second.values == {"items": ["a", "answer:yes"]}
    thread = await env.storage.threads.get(result.thread_id)
    assert thread is not None and thread.status == "idle" and thread.interrupts == {}


async def test_static_interrupt_before(env: Env) -> None:
    result, _ = await run_graph(env, linear_graph(), input={"items": []}, interrupt_before=["b"])
    assert result.stop_reason == "requires_approval"
    thread = await env.storage.threads.get(result.thread_id)
    assert thread is not None and thread.status == "interrupted"
    assert thread.values == {"items": ["a"]}


async def test_error_keeps_safe_message(env: Env) -> None:
    result, events = await run_graph(
        env, failing_graph(ValueError("bad input")), input={"items": []}
    )
    assert events[-1] == ("error", {"error": "ValueError", "message": "bad input"})
    assert result.status == "error" and result.stop_reason == "error"
    run = await env.storage.runs.get(result.run_id)
    assert run is not None and run.status == "error"
    assert run.error == {"error": "ValueError", "message": "bad input"}
    thread = await env.storage.threads.get(result.thread_id)
    assert thread is not None and thread.status == "error"
    assert thread.error == {"error": "ValueError", "message": "bad input"}
    assert thread.values == {"items": ["a"]}


async def test_error_hides_internal_message(env: Env) -> None:
    class SecretError(Exception):
        pass

    result, events = await run_graph(
        env, failing_graph(SecretError("password=hunter2")), input={"items": []}
    )
    assert events[-1] == (
        "error",
        {"error": "SecretError", "message": "An internal error occurred"},
    )
    assert result.status == "error"


async def test_recursion_limit_is_max_steps(env: Env) -> None:
    result, events = await run_graph(
        env, loop_graph(), input={"items": []}, config={"recursion_limit": 3}
    )
    assert result.status == "error" and result.stop_reason == "max_steps"
    assert events[-1][1]["error"] == "GraphRecursionError"


async def test_timeout(tmp_path: Path) -> None:
    env = await open_env(tmp_path, {"g": slow_graph()}, run_timeout_seconds=0.2)
    try:
        assistant = await env.assistant("g")
        run = await env.enqueue(assistant, input={"items": []})
        result = await env.executor.execute(await env.claim_one(run.run_id))
        assert result.status == "timeout" and result.stop_reason == "timeout"
        events = await events_of(env.broker, run.run_id)
        assert events[-1][0] == "error" and events[-1][1]["error"] == "TimeoutError"
        stored = await env.storage.runs.get(run.run_id)
        assert stored is not None and stored.status == "timeout"
    finally:
        await env.storage.close()


async def cancel_mid_run(env: Env, action: str) -> tuple[Any, float]:
    started = asyncio.Event()
    env.registry.graphs["g"] = slow_graph(started)
    assistant = await env.assistant("g")
    run = await env.enqueue(assistant, input={"items": []}, durability="sync")
    task = asyncio.ensure_future(env.executor.execute(await env.claim_one(run.run_id)))
    await asyncio.wait_for(started.wait(), 5)
    loop = asyncio.get_running_loop()
    sent = loop.time()
    await env.broker.send_cancel(run.run_id, action)  # type: ignore[arg-type]
    result = await asyncio.wait_for(task, 5)
    return result, loop.time() - sent


async def test_cancel_interrupt_keeps_checkpoints(env: Env) -> None:
    result, elapsed = await cancel_mid_run(env, "interrupt")
    assert elapsed < 0.5  # well within the design's 100 ms, with CI slack
    assert result.status == "interrupted" and result.stop_reason == "cancelled"
    run = await env.storage.runs.get(result.run_id)
    assert run is not None and run.status == "interrupted" and run.stop_reason == "cancelled"
    thread = await env.storage.threads.get(result.thread_id)
    assert thread is not None and thread.values == {"items": ["a"]}


async def test_cancel_rollback_deletes_run_and_checkpoints(env: Env) -> None:
    result, _ = await cancel_mid_run(env, "rollback")
    assert result.deleted
    assert await env.storage.runs.get(result.run_id) is None
    config = {"configurable": {"thread_id": result.thread_id}}
    assert [t async for t in env.storage.checkpointer.alist(config)] == []


async def test_cancel_requested_before_start(env: Env) -> None:
    env.registry.graphs["g"] = linear_graph()
    assistant = await env.assistant("g")
    run = await env.enqueue(assistant, input={"items": []})
    claimed = await env.claim_one(run.run_id)
    claimed.cancel_requested = {"action": "interrupt"}
    result = await env.executor.execute(claimed)
    assert result.status == "interrupted" and result.values is None


async def test_temporary_thread_is_deleted(env: Env) -> None:
    result, events = await run_graph(env, linear_graph(), input={"items": []}, temporary=True)
    assert result.status == "success"
    assert events[-1] == ("values", {"items": ["a", "b"]})
    assert await env.storage.threads.get(result.thread_id) is None
    config = {"configurable": {"thread_id": result.thread_id}}
    assert [t async for t in env.storage.checkpointer.alist(config)] == []


async def test_unknown_assistant_graph_fails_cleanly(env: Env) -> None:
    assistant = await env.assistant("missing-graph")
    run = await env.enqueue(assistant, input={})
    result = await env.executor.execute(await env.claim_one(run.run_id))
    assert result.status == "error"
    events = await events_of(env.broker, run.run_id)
    assert events[-1][0] == "error"
    stored = await env.storage.runs.get(run.run_id)
    assert stored is not None and stored.status == "error"


async def test_resume_after_crash_uses_checkpoint(env: Env) -> None:
    log: list[str] = []
    gate = asyncio.Event()
    crash_once = {"armed": True}

    async def hang_then_work(state: Items) -> dict[str, Any]:
        log.append("b")
        if crash_once["armed"]:
            crash_once["armed"] = False
            gate.set()
            await asyncio.sleep(30)  # the "process" dies here
        return {"items": ["b"]}

    g = StateGraph(Items)
    g.add_node("a", appender("a", log))
    g.add_node("b", hang_then_work)
    g.add_edge(START, "a")
    g.add_edge("a", "b")
    env.registry.graphs["g"] = g
    assistant = await env.assistant("g")
    run = await env.enqueue(assistant, input={"items": ["start"]}, durability="sync")

    first = asyncio.ensure_future(env.executor.execute(await env.claim_one(run.run_id)))
    await asyncio.wait_for(gate.wait(), 5)
    first.cancel()  # worker shutdown / crash: the run is not finished
    with pytest.raises(asyncio.CancelledError):
        await first
    stored = await env.storage.runs.get(run.run_id)
    assert stored is not None and stored.status == "running"
    assert await env.storage.runs.requeue([run.run_id]) == 1

    second_claim = await env.claim_one(run.run_id)
    assert second_claim.attempt == 2
    result = await env.executor.execute(second_claim)
    assert result.status == "success"
    assert log == ["a", "b", "b"]  # `a` ran once; the original input was not re-applied
    assert result.values == {"items": ["start", "a", "b"]}
    events = await events_of(env.broker, run.run_id)
    assert [d["attempt"] for n, d in events if n == "metadata"] == [1, 2]


async def test_exhausted_attempts_fail(env: Env) -> None:
    env.registry.graphs["g"] = linear_graph()
    assistant = await env.assistant("g")
    run = await env.enqueue(assistant, input={"items": []})
    claimed = await env.claim_one(run.run_id)
    result = await env.executor.fail(
        claimed, {"error": "RuntimeError", "message": "Run exceeded 3 attempts"}
    )
    assert result.status == "error"
    stored = await env.storage.runs.get(run.run_id)
    assert stored is not None and stored.error == {
        "error": "RuntimeError",
        "message": "Run exceeded 3 attempts",
    }
    thread = await env.storage.threads.get(run.thread_id)
    assert thread is not None and thread.status == "error"


async def test_config_layering_and_enrichment(env: Env) -> None:
    seen: dict[str, Any] = {}

    def node(state: Items, config: RunnableConfig) -> dict[str, Any]:
        seen.update(config)
        return {"items": ["n"]}

    g = StateGraph(Items)
    g.add_node("n", node)
    g.add_edge(START, "n")
    env.registry.graphs["g"] = g
    assistant = await env.assistant(
        "g", config={"tags": ["assistant"], "configurable": {"a": 1, "b": 1}}
    )
    run = await env.enqueue(
        assistant,
        input={"items": []},
        config={"tags": ["run"], "configurable": {"b": 2}},
    )
    await env.executor.execute(await env.claim_one(run.run_id))
    configurable = seen["configurable"]
    assert configurable["a"] == 1 and configurable["b"] == 2
    assert configurable["run_id"] == run.run_id and configurable["graph_id"] == "g"
    assert configurable["assistant_id"] == assistant.assistant_id
    assert {"assistant", "run"} <= set(seen["tags"])
    assert seen["metadata"]["run_attempt"] == 1


async def test_context_passed_to_graph_with_context_schema(env: Env) -> None:
    from dataclasses import dataclass

    from langgraph.runtime import Runtime

    @dataclass
    class Ctx:
        user: str = "nobody"

    def node(state: Items, runtime: Runtime[Ctx]) -> dict[str, Any]:
        return {"items": [runtime.context.user]}

    g = StateGraph(Items, context_schema=Ctx)
    g.add_node("n", node)
    g.add_edge(START, "n")
    result, _ = await run_graph(env, g, input={"items": []}, context={"user": "ada"})
    assert result.status == "success", result.error
    assert result.values == {"items": ["ada"]}


async def test_events_only_mode(env: Env) -> None:
    result, events = await run_graph(env, linear_graph(), input={"items": []}, stream_mode="events")
    names = {name for name, _ in events}
    assert names == {"metadata", "events"}
    assert result.values == {"items": ["a", "b"]}
