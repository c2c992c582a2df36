"""GraphRegistry: server persistence attached, static graphs reused, factories called per use."""

from __future__ import annotations

import logging
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from uuid import UUID, uuid5

import pytest
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.store.memory import InMemoryStore

from threadloom.errors import NotFound
from threadloom.graphs import GraphLoadError, GraphRegistry, system_assistant_id
from threadloom.graphs.project import parse_project

HEADER = """
import contextlib
from typing import TypedDict
from langgraph.graph import StateGraph, START
from langgraph.checkpoint.memory import InMemorySaver

class State(TypedDict):
    n: int

def inc(state: State) -> dict:
    return {"n": state["n"] + 1}

builder = StateGraph(State)
builder.add_node("inc", inc)
builder.add_edge(START, "inc")
CALLS = []
"""

FACTORIES = """
static = builder.compile(name="counter")
own_checkpointer = builder.compile(checkpointer=InMemorySaver())
uncompiled = builder

def sync_factory(config):
    CALLS.append(("sync", config.get("configurable", {}).get("x")))
    return builder.compile()

async def async_factory(config, runtime):
    CALLS.append(("async", runtime.access_context, runtime.store, runtime.user))
    return builder

@contextlib.contextmanager
def cm_factory(config):
    CALLS.append("enter")
    yield builder.compile()
    CALLS.append("exit")

@contextlib.asynccontextmanager
async def acm_factory(runtime):
    CALLS.append(("aenter", runtime.access_context, getattr(runtime, "context", None)))
    try:
        yield builder.compile(name="from-acm")
    finally:
        CALLS.append("aexit")

def bad_factory(config):
    return 42

def failing_factory(config):
    raise RuntimeError("boom")
"""

NAMES = [
    "static",
    "own_checkpointer",
    "uncompiled",
    "sync_factory",
    "async_factory",
    "cm_factory",
    "acm_factory",
    "bad_factory",
    "failing_factory",
]


@pytest.fixture
def registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[GraphRegistry]:
    monkeypatch.setattr(sys, "path", list(sys.path))
    before = set(sys.modules)
    (tmp_path / "graphs.py").write_text(textwrap.dedent(HEADER + FACTORIES))
    project = parse_project(
        {"graphs": {n: {"path": f"./graphs.py:{n}", "description": f"the {n}"} for n in NAMES}},
        base_dir=tmp_path,
    )
    yield GraphRegistry.from_project(project)
    for name in set(sys.modules) - before:
        if str(tmp_path) in (getattr(sys.modules[name], "__file__", None) or ""):
            del sys.modules[name]  # only the test's own files: library modules must stay


def calls(registry: GraphRegistry) -> list[object]:
    result: list[object] = registry.entry("static").module.CALLS
    return result


def test_lookup(registry: GraphRegistry) -> None:
    assert registry.graph_ids == NAMES
    assert registry.has("static") and "static" in registry and not registry.has("nope")
    assert registry.description("cm_factory") == "the cm_factory"
    assert registry.is_factory("sync_factory") and not registry.is_factory("uncompiled")
    with pytest.raises(NotFound, match="nope"):
        registry.description("nope")


def test_system_assistant_id() -> None:
    expected = str(uuid5(UUID("6ba7b821-9dad-11d1-80b4-00c04fd430c8"), "agent"))
    assert system_assistant_id("agent") == expected
    assert expected == "fe096781-5601-53d2-b2f6-0d3403f7e9ca"  # what LangGraph's server uses


def test_reverse_system_assistant_lookup(registry: GraphRegistry) -> None:
    aid = registry.system_assistant_id("static")
    assert registry.graph_id_for_system_assistant(aid) == "static"
    assert registry.graph_id_for_system_assistant(UUID(aid)) == "static"
    assert registry.graph_id_for_system_assistant(str(uuid5(UUID(int=0), "x"))) is None


async def test_display_name(registry: GraphRegistry) -> None:
    assert registry.display_name("static") == "counter"
    assert registry.display_name("uncompiled") == "uncompiled"  # default "LangGraph"
    assert registry.display_name("acm_factory") == "acm_factory"  # sync: factories not called
    assert await registry.adisplay_name("static") == "counter"
    assert await registry.adisplay_name("acm_factory") == "from-acm"
    assert registry.display_name("acm_factory") == "from-acm"  # remembered
    assert await registry.adisplay_name("failing_factory") == "failing_factory"


def test_registry_from_project_object(tmp_path: Path, registry: GraphRegistry) -> None:
    project = parse_project({"graphs": {"s": "./graphs.py:static"}}, base_dir=tmp_path)
    assert GraphRegistry(project).graph_ids == ["s"]


async def test_build_attaches_server_checkpointer_and_store(registry: GraphRegistry) -> None:
    saver, store = InMemorySaver(), InMemoryStore()
    async with registry.build("static", {}, checkpointer=saver, store=store) as graph:
        assert graph.checkpointer is saver and graph.store is store
        config = {"configurable": {"thread_id": "t1"}}
        assert await graph.ainvoke({"n": 1}, config) == {"n": 2}
    assert saver.get_tuple({"configurable": {"thread_id": "t1"}}) is not None
    original = registry.entry("static").graph
    assert original is not None and original.checkpointer is None  # shared original untouched


async def test_static_graph_build_is_cached_and_cheap(registry: GraphRegistry) -> None:
    saver = InMemorySaver()
    async with registry.build("static", checkpointer=saver, store=None) as first:
        pass
    async with registry.build("static", checkpointer=saver, store=None) as second:
        pass
    assert first is second
    other = InMemorySaver()
    async with registry.build("static", checkpointer=other, store=None) as third:
        assert third.checkpointer is other
    started = time.perf_counter()
    for _ in range(1000):
        async with registry.build("static", checkpointer=other, store=None):
            pass
    assert (time.perf_counter() - started) / 1000 < 50e-6


async def test_user_checkpointer_replaced_with_one_warning(
    registry: GraphRegistry, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="threadloom"):
        for _ in range(2):
            saver = InMemorySaver()  # a new one each time: a cache miss, yet one warning
            async with registry.build("own_checkpointer", checkpointer=saver, store=None) as g:
                assert g.checkpointer is saver
    assert caplog.text.count("own checkpointer") == 1


async def test_none_leaves_graph_as_is(registry: GraphRegistry) -> None:
    async with registry.build("static", checkpointer=None, store=None) as graph:
        assert graph is registry.entry("static").graph


async def test_sync_factory_gets_config(registry: GraphRegistry) -> None:
    saver = InMemorySaver()
    config = {"configurable": {"x": 7, "thread_id": "t"}}
    async with registry.build("sync_factory", config, checkpointer=saver, store=None) as graph:
        assert graph.checkpointer is saver
        assert await graph.ainvoke({"n": 0}, config) == {"n": 1}
    assert ("sync", 7) in calls(registry)


async def test_async_factory_gets_runtime(registry: GraphRegistry) -> None:
    store = InMemoryStore()
    user = object()
    async with registry.build(
        "async_factory",
        {},
        checkpointer=InMemorySaver(),
        store=store,
        access_context="threads.read",
        user=user,
    ) as graph:
        assert graph.store is store  # returned a StateGraph: compiled, then attached
    assert ("async", "threads.read", store, user) in calls(registry)


async def test_runtime_is_langgraph_sdk_server_runtime(registry: GraphRegistry) -> None:
    from langgraph_sdk.runtime import _ExecutionRuntime, _ReadRuntime

    from threadloom.graphs.registry import make_runtime

    run = make_runtime("threads.create_run", store=None, context={"a": 1})
    assert isinstance(run, _ExecutionRuntime) and run.execution_runtime is run
    read = make_runtime("assistants.read", store=None)
    assert isinstance(read, _ReadRuntime) and read.execution_runtime is None


async def test_context_manager_factories_are_closed(registry: GraphRegistry) -> None:
    async with registry.build("cm_factory", {}, checkpointer=InMemorySaver(), store=None):
        assert calls(registry)[-1] == "enter"
    assert calls(registry)[-1] == "exit"
    async with registry.build(
        "acm_factory", {}, checkpointer=InMemorySaver(), store=None, context={"k": 1}
    ) as graph:
        assert graph.name == "from-acm"
        assert calls(registry)[-1] == ("aenter", "threads.create_run", {"k": 1})
    assert calls(registry)[-1] == "aexit"


async def test_context_manager_closed_on_error(registry: GraphRegistry) -> None:
    with pytest.raises(ValueError, match="inside"):
        async with registry.build("acm_factory", {}, checkpointer=None, store=None):
            raise ValueError("inside")
    assert calls(registry)[-1] == "aexit"


async def test_bad_factories(registry: GraphRegistry) -> None:
    with pytest.raises(GraphLoadError, match="returned int"):
        async with registry.build("bad_factory", {}, checkpointer=None, store=None):
            pass
    with pytest.raises(GraphLoadError, match="RuntimeError: boom"):
        async with registry.build("failing_factory", {}, checkpointer=None, store=None):
            pass
