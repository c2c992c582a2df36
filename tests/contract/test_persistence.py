"""The backend's LangGraph checkpointer and store, checkpoint housekeeping, and restarts."""

from __future__ import annotations

import asyncio
import operator
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypedDict

from langgraph.graph import END, START, StateGraph

from tests.contract.conftest import make_run
from threadloom.storage.base import Storage
from threadloom.storage.records import ThreadSnapshot


class State(TypedDict):
    items: Annotated[list[str], operator.add]


def _graph(storage: Storage) -> Any:
    builder = StateGraph(State)
    builder.add_node("step", lambda s: {"items": ["x"]})
    builder.add_edge(START, "step")
    builder.add_edge("step", END)
    return builder.compile(checkpointer=storage.checkpointer)


def _config(thread_id: str, run_id: str) -> dict[str, Any]:
    return {
        "configurable": {"thread_id": thread_id, "run_id": run_id},
        "metadata": {"run_id": run_id},
    }


async def _history(storage: Storage, thread_id: str) -> list[Any]:
    return [c async for c in storage.checkpointer.alist({"configurable": {"thread_id": thread_id}})]


async def test_checkpointer_and_store_work(storage: Storage) -> None:
    graph = _graph(storage)
    out = await graph.ainvoke({"items": ["a"]}, _config("t1", "r1"))
    assert out == {"items": ["a", "x"]}
    state = await graph.aget_state({"configurable": {"thread_id": "t1"}})
    assert state.values == {"items": ["a", "x"]}
    await storage.store.aput(("users", "u1"), "k", {"v": 1})
    item = await storage.store.aget(("users", "u1"), "k")
    assert item is not None and item.value == {"v": 1}


async def test_delete_run_checkpoints(storage: Storage) -> None:
    graph = _graph(storage)
    await graph.ainvoke({"items": ["a"]}, _config("t1", "r1"))
    before = len(await _history(storage, "t1"))
    await graph.ainvoke({"items": ["b"]}, _config("t1", "r2"))
    assert len(await _history(storage, "t1")) > before
    await storage.delete_run_checkpoints("t1", "r2")
    history = await _history(storage, "t1")
    assert len(history) == before
    assert all(c.metadata.get("run_id") == "r1" for c in history)
    state = await graph.aget_state({"configurable": {"thread_id": "t1"}})
    assert state.values == {"items": ["a", "x"]}


async def test_copy_prune_delete_checkpoints(storage: Storage) -> None:
    graph = _graph(storage)
    await graph.ainvoke({"items": ["a"]}, _config("t1", "r1"))
    await graph.ainvoke({"items": ["b"]}, _config("t1", "r2"))
    n = len(await _history(storage, "t1"))
    await storage.copy_thread_checkpoints("t1", "t2")
    assert len(await _history(storage, "t2")) == n
    copied = await graph.aget_state({"configurable": {"thread_id": "t2"}})
    assert copied.values == {"items": ["a", "x", "b", "x"]}
    await storage.prune_thread_checkpoints("t2")
    assert len(await _history(storage, "t2")) == 1
    pruned = await graph.aget_state({"configurable": {"thread_id": "t2"}})
    assert pruned.values == copied.values
    assert len(await _history(storage, "t1")) == n  # the source is untouched
    await storage.delete_thread_checkpoints("t1")
    assert await _history(storage, "t1") == []
    out = await graph.ainvoke({"items": ["c"]}, _config("t2", "r3"))
    assert out == {"items": ["a", "x", "b", "x", "c", "x"]}


async def test_interleaved_writers(storage: Storage) -> None:
    """Checkpoints, store items and runs written at once never trip over each other."""
    graph = _graph(storage)

    async def graph_writer(i: int) -> None:
        await graph.ainvoke({"items": [str(i)]}, _config(f"g{i}", f"r{i}"))

    async def store_writer(i: int) -> None:
        await storage.store.aput(("ns",), f"k{i}", {"i": i})

    async def run_writer(i: int) -> None:
        run = (await storage.runs.create_run(make_run(f"t{i}"), if_not_exists="create")).run
        await storage.runs.claim(worker_id="w", limit=2, lease_seconds=30)
        await storage.runs.finish(
            run.run_id,
            status="success",
            stop_reason=None,
            error=None,
            thread=ThreadSnapshot("idle", {"i": i}, {}),
        )

    await asyncio.gather(
        *(f(i) for i in range(15) for f in (graph_writer, store_writer, run_writer))
    )
    assert len(await storage.store.asearch(("ns",), limit=100)) == 15
    assert await storage.threads.count() == 15
    page = await storage.threads.search(limit=100)
    assert {t.status for t in page.items} == {"idle"}


async def test_restart_keeps_everything(
    storage: Storage, reopen: Callable[[], Awaitable[Storage]]
) -> None:
    await storage.assistants.create(
        assistant_id="a1",
        graph_id="agent",
        config={},
        context={},
        metadata={"m": 1},
        name="A",
        description=None,
    )
    await storage.assistants.update("a1", name="B")
    await storage.threads.create(thread_id="t1", metadata={"owner": "me"})
    pending = (await storage.runs.create_run(make_run("t1"))).run
    await _graph(storage).ainvoke({"items": ["a"]}, _config("t1", pending.run_id))
    await storage.store.aput(("ns",), "k", {"v": 1})
    await storage.close()

    again = await reopen()
    await again.open()
    try:
        await again.ping()
        a = await again.assistants.get("a1")
        assert a is not None and a.version == 2 and a.name == "B"
        assert len(await again.assistants.versions("a1")) == 2
        thread = await again.threads.get("t1")
        assert thread is not None and thread.metadata == {"owner": "me"} and thread.status == "busy"
        run = await again.runs.get(pending.run_id)
        assert run is not None and run.status == "pending" and run.created_at == pending.created_at
        claimed = await again.runs.claim(worker_id="w", limit=1, lease_seconds=30)
        assert [r.run_id for r in claimed] == [pending.run_id]
        state = await _graph(again).aget_state({"configurable": {"thread_id": "t1"}})
        assert state.values == {"items": ["a", "x"]}
        item = await again.store.aget(("ns",), "k")
        assert item is not None and item.value == {"v": 1}
    finally:
        await again.close()
        await storage.open()  # the fixture closes it


async def test_finishing_a_temporary_run_deletes_its_thread_and_checkpoints(
    storage: Storage,
) -> None:
    """Stateless runs (on_completion=delete): thread, run and checkpoints go in one step."""
    run = (await storage.runs.create_run(make_run("temp"), if_not_exists="create")).run
    (claimed,) = await storage.runs.claim(worker_id="w", limit=1, lease_seconds=30)
    assert claimed.run_id == run.run_id
    await _graph(storage).ainvoke({"items": ["a"]}, _config("temp", run.run_id))
    await _graph(storage).ainvoke({"items": ["a"]}, _config("kept", "other"))
    assert await _history(storage, "temp")
    done = await storage.runs.finish(
        run.run_id,
        status="success",
        stop_reason="end_turn",
        error=None,
        thread=None,
        delete_thread=True,
    )
    assert done is not None and done.status == "success"
    assert await storage.threads.get("temp") is None
    assert await storage.runs.get(run.run_id) is None
    assert await _history(storage, "temp") == []
    assert await _history(storage, "kept")  # other threads' checkpoints stay


async def test_fresh_thread_skips_only_the_first_read(storage: Storage) -> None:
    """A run's brand-new thread is not read before its first write; every read after that,
    and every other thread, goes to the database as usual."""
    graph = _graph(storage)
    await graph.ainvoke({"items": ["old"]}, _config("other", "r0"))
    with storage.thread_hints.fresh("t1"):
        assert await storage.checkpointer.aget_tuple({"configurable": {"thread_id": "t1"}}) is None
        first = await graph.ainvoke({"items": ["a"]}, _config("t1", "r1"))
        second = await graph.ainvoke({"items": ["b"]}, _config("t1", "r2"))
        other = await graph.aget_state({"configurable": {"thread_id": "other"}})
    assert first == {"items": ["a", "x"]}
    assert second == {"items": ["a", "x", "b", "x"]}  # read what the first run wrote
    assert other.values == {"items": ["old", "x"]}
