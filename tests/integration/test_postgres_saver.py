"""Threadloom's PostgreSQL checkpointer writes exactly the rows LangGraph's own would.

`PooledPostgresSaver` replaces `AsyncPostgresSaver`'s writes (one statement per checkpoint and
per task's writes, instead of a pipeline); anything reading the tables — LangGraph's saver, an
older Threadloom, a user's own tooling — must not be able to tell. Each case here makes the
same call through both savers, on two threads of one schema, and compares the rows.
"""

from __future__ import annotations

import asyncio
import contextlib
import operator
from collections.abc import AsyncIterator, Iterator
from typing import Annotated, Any, TypedDict

import pytest
from langgraph.checkpoint.base import empty_checkpoint
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from langgraph.checkpoint.serde.types import _DeltaSnapshot
from langgraph.graph import START, StateGraph
from langgraph.types import Interrupt
from psycopg import AsyncCursor

from tests.support.pg import drop_schema, random_name, require_postgres
from threadloom.storage.checkpoint_metadata import ThreadIdMetadata
from threadloom.storage.postgres import PostgresStorage

# LangGraph's reserved write channels (the keys of WRITES_IDX_MAP)
ERROR, INTERRUPT, RESUME = "__error__", "__interrupt__", "__resume__"

TABLES = {
    # metadata.thread_id names each row's own thread (the two sides write to two threads)
    "checkpoints": "checkpoint_ns, checkpoint_id, parent_checkpoint_id, checkpoint, "
    "metadata - 'thread_id', metadata ->> 'thread_id' = thread_id",
    "checkpoint_blobs": "checkpoint_ns, channel, version, type, blob",
    "checkpoint_writes": "checkpoint_ns, checkpoint_id, task_id, task_path, idx, channel, "
    "type, blob",
}


@pytest.fixture
async def storage() -> AsyncIterator[PostgresStorage]:
    url = require_postgres()
    schema = random_name("tlsaver")
    storage = PostgresStorage(url, schema=schema, pool_max=4)
    await storage.open()
    try:
        yield storage
    finally:
        await storage.close()
        await drop_schema(url, schema)


async def rows(storage: PostgresStorage, thread_id: str) -> dict[str, list[tuple[Any, ...]]]:
    out = {}
    async with storage.checkpointer.conn.connection() as conn:  # type: ignore[union-attr]
        for table, columns in TABLES.items():
            cur = conn.cursor(row_factory=lambda _c: tuple)  # type: ignore[arg-type,return-value]
            await cur.execute(
                f"SELECT {columns} FROM {table} WHERE thread_id = %s ORDER BY {columns}",
                (thread_id,),
            )
            out[table] = await cur.fetchall()
    return out


def config(thread_id: str, checkpoint_id: str | None = None) -> dict[str, Any]:
    configurable: dict[str, Any] = {"thread_id": thread_id, "checkpoint_ns": ""}
    if checkpoint_id:
        configurable["checkpoint_id"] = checkpoint_id
    return {"configurable": configurable, "metadata": {"run_id": "r1"}}


@pytest.fixture(params=["durable", "temporary"])
def mode(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Threadloom's writes to an ordinary thread, and to a stateless run's temporary thread
    (committed without waiting for the disk: the statements must still write the same rows,
    and only that thread's statements may relax)."""
    seen: list[str] = []
    original = AsyncCursor.execute

    async def spy(self: Any, query: Any, params: Any = None, **kwargs: Any) -> Any:
        seen.append(str(query))
        return await original(self, query, params, **kwargs)

    monkeypatch.setattr(AsyncCursor, "execute", spy)
    yield request.param
    ours = [q for q in seen if "INSERT INTO checkpoint" in q and "%(thread_id)s" in q]
    relaxed = [q for q in seen if "synchronous_commit" in q]
    assert ours
    assert relaxed == (ours if request.param == "temporary" else [])


class _Upstream(ThreadIdMetadata, AsyncPostgresSaver):
    """LangGraph's saver, given the metadata Threadloom's adds to every checkpoint
    (`storage/checkpoint_metadata.py`): the rows must match from there on."""


async def both(storage: PostgresStorage, call: Any, mode: str = "durable") -> None:
    """`call(saver, thread_id)` through LangGraph's saver and through Threadloom's."""
    ours = storage.checkpointer
    upstream = _Upstream(ours.conn, serde=ours.serde)  # type: ignore[arg-type]
    await call(upstream, "upstream")
    with (
        storage.thread_hints.temporary("ours") if mode == "temporary" else contextlib.nullcontext()
    ):
        await call(ours, "ours")


def checkpoint(values: dict[str, Any], versions: dict[str, Any], id_: str) -> Any:
    cp = empty_checkpoint()
    cp["id"] = id_
    cp["ts"] = "2026-11-23T00:00:00+00:00"
    cp["channel_values"] = values
    cp["channel_versions"] = versions
    return cp


async def test_checkpoints_with_and_without_blobs_match_upstream(
    storage: PostgresStorage, mode: str
) -> None:
    versions = {"items": "00002.1", "n": "00002.2", "s": "00001.3", "snap": "00001.4"}
    mixed = {
        "items": ["a", {"b": 2}],  # not a primitive: a blob
        "n": 3,  # primitives stay inline
        "s": "text",
        "none": None,
        "snap": _DeltaSnapshot(["x", "y"]),  # a blob, with a marker left inline
    }

    async def call(saver: Any, thread_id: str) -> None:
        first = await saver.aput(
            config(thread_id), checkpoint({"n": 1}, {"n": "00001.1"}, "1"), {}, {"n": "00001.1"}
        )
        assert first["configurable"] == {
            "thread_id": thread_id,
            "checkpoint_ns": "",
            "checkpoint_id": "1",
        }
        await saver.aput(
            config(thread_id, "1"),
            checkpoint(mixed, versions, "2"),
            {"source": "loop", "step": 1, "writes": {"node": {"n": 3}}},
            versions,
        )
        # written again (a retried put): the checkpoint row is replaced, blobs kept
        await saver.aput(
            config(thread_id, "1"),
            checkpoint({**mixed, "n": 4}, versions, "2"),
            {"source": "loop", "step": 1},
            versions,
        )

    await both(storage, call, mode)
    upstream, ours = await rows(storage, "upstream"), await rows(storage, "ours")
    assert {row[1] for row in ours["checkpoint_blobs"]} == {"items", "snap"}
    assert ours == upstream
    read_up = await storage.checkpointer.aget_tuple(config("upstream"))
    read_ours = await storage.checkpointer.aget_tuple(config("ours"))
    assert read_up is not None and read_ours is not None
    assert read_ours.checkpoint == read_up.checkpoint
    assert read_ours.checkpoint["channel_values"]["items"] == ["a", {"b": 2}]
    assert read_ours.metadata == {**read_up.metadata, "thread_id": "ours"}


async def test_task_writes_match_upstream(storage: PostgresStorage, mode: str) -> None:
    async def call(saver: Any, thread_id: str) -> None:
        await saver.aput(
            config(thread_id), checkpoint({"n": 1}, {"n": "00001.1"}, "1"), {}, {"n": "00001.1"}
        )
        cfg = config(thread_id, "1")
        await saver.aput_writes(cfg, [("items", ["a"]), ("n", 2), ("items", None)], "task-a")
        # the same ordinary writes again: the first ones stay
        await saver.aput_writes(cfg, [("items", ["changed"])], "task-a")
        # special channels replace earlier writes at their index; of two in one call the last
        await saver.aput_writes(cfg, [(ERROR, ValueError("first"))], "task-b", "~path")
        await saver.aput_writes(cfg, [(ERROR, ValueError("second"))], "task-b", "~path")
        interrupts = [(INTERRUPT, [Interrupt(value="one")]), (INTERRUPT, [Interrupt("two")])]
        await saver.aput_writes(cfg, interrupts, "task-c")
        await saver.aput_writes(cfg, [(RESUME, "yes")], "task-c")
        await saver.aput_writes(cfg, [], "task-d")

    await both(storage, call, mode)
    upstream, ours = await rows(storage, "upstream"), await rows(storage, "ours")
    assert len(ours["checkpoint_writes"]) == 6
    assert ours == upstream
    read_up = await storage.checkpointer.aget_tuple(config("upstream", "1"))
    read_ours = await storage.checkpointer.aget_tuple(config("ours", "1"))
    assert read_up is not None and read_ours is not None
    assert repr(read_ours.pending_writes) == repr(read_up.pending_writes)


def _two_step_graph(saver: Any) -> Any:

    class State(TypedDict):
        items: Annotated[list[str], operator.add]

    return (
        StateGraph(State)
        .add_node("a", lambda s: {"items": ["a"]})
        .add_node("b", lambda s: {"items": ["b"]})
        .add_edge(START, "a")
        .add_edge("a", "b")
        .compile(checkpointer=saver)
    )


def _counts(found: dict[str, list[Any]]) -> dict[str, int]:
    return {table: len(values) for table, values in found.items()}


async def test_a_temporary_threads_held_writes(storage: PostgresStorage) -> None:
    """A stateless run's checkpoints may be held back: none reach the database while held,
    all of them (the same rows as written at once) before anything reads the thread or once
    the delay is up, and none if the run ends and drops them."""
    graph = _two_step_graph(storage.checkpointer)

    def cfg(thread_id: str) -> Any:
        return {"configurable": {"thread_id": thread_id}}

    with storage.thread_hints.temporary("direct"):  # no delay: written at once
        await graph.ainvoke({"items": ["x"]}, cfg("direct"))
    written = _counts(await rows(storage, "direct"))
    assert all(written.values())

    with storage.thread_hints.temporary("read", hold_for=60):
        await graph.ainvoke({"items": ["x"]}, cfg("read"))
        assert _counts(await rows(storage, "read")) == dict.fromkeys(TABLES, 0)
        state = await graph.aget_state(cfg("read"))  # a read sends what is held first
        assert state.values == {"items": ["x", "a", "b"]}
    assert _counts(await rows(storage, "read")) == written

    with storage.thread_hints.temporary("dropped", hold_for=60) as dropped:
        await graph.ainvoke({"items": ["x"]}, cfg("dropped"))
        await dropped.discard()
        assert (await graph.aget_state(cfg("dropped"))).values == {}
    assert _counts(await rows(storage, "dropped")) == dict.fromkeys(TABLES, 0)

    with storage.thread_hints.temporary("late", hold_for=0.05):
        await graph.ainvoke({"items": ["x"]}, cfg("late"))
        for _ in range(200):  # sent on their own once the delay is up
            if _counts(await rows(storage, "late")) == written:
                break
            await asyncio.sleep(0.02)
    assert _counts(await rows(storage, "late")) == written
