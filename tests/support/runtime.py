"""Shared helpers for the runtime tests: a real SQLite storage, a LocalBroker, and a tiny graph
registry with the same `build` signature as `threadloom.graphs.GraphRegistry`."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from langgraph.graph import StateGraph

from threadloom.runtime.broker import StreamEvent
from threadloom.runtime.executor import RunExecutor
from threadloom.runtime.local_broker import LocalBroker
from threadloom.serde import loads, utcnow
from threadloom.settings import Settings
from threadloom.storage import create_storage
from threadloom.storage.base import Storage
from threadloom.storage.records import Assistant, Run


class FakeRegistry:
    """graph_id → StateGraph builder (or factory), compiled with the server's persistence."""

    def __init__(self, graphs: dict[str, StateGraph | Callable[[], StateGraph]]) -> None:
        self.graphs = graphs
        self.builds: list[str] = []
        self._compiled: dict[tuple[int, int], Any] = {}

    @asynccontextmanager
    async def build(
        self,
        graph_id: str,
        config: Any = None,
        *,
        checkpointer: Any,
        store: Any,
        access_context: str = "threads.create_run",
        user: Any = None,
        context: Any = None,
    ) -> AsyncIterator[Any]:
        self.builds.append(graph_id)
        entry = self.graphs[graph_id]
        if not isinstance(entry, StateGraph):  # a factory: built per run
            yield entry().compile(checkpointer=checkpointer, store=store)
            return
        key = (id(entry), id(checkpointer))  # like the real registry: compile once, reuse
        graph = self._compiled.get(key)
        if graph is None:
            graph = self._compiled[key] = entry.compile(checkpointer=checkpointer, store=store)
        yield graph


@dataclass
class Env:
    storage: Storage
    broker: LocalBroker
    registry: FakeRegistry
    settings: Settings

    @property
    def executor(self) -> RunExecutor:
        return RunExecutor(self.storage, self.broker, self.registry, self.settings)

    async def assistant(self, graph_id: str, config: dict[str, Any] | None = None) -> Assistant:
        return await self.storage.assistants.create(
            assistant_id=str(uuid.uuid4()),
            graph_id=graph_id,
            config=config or {},
            context={},
            metadata={},
            name=graph_id,
            description=None,
        )

    async def enqueue(
        self,
        assistant: Assistant,
        *,
        thread_id: str | None = None,
        temporary: bool = False,
        **kwargs: Any,
    ) -> Run:
        now = utcnow()
        run = Run(
            run_id=str(uuid.uuid4()),
            thread_id=thread_id or str(uuid.uuid4()),
            assistant_id=assistant.assistant_id,
            status="pending",
            multitask_strategy="enqueue",
            metadata={},
            kwargs=kwargs,
            created_at=now,
            updated_at=now,
            temporary=temporary,
        )
        result = await self.storage.runs.create_run(run, if_not_exists="create")
        return result.run

    async def claim_one(self, run_id: str) -> Run:
        claimed = await self.storage.runs.claim(worker_id="test", limit=100, lease_seconds=30)
        for run in claimed:
            if run.run_id == run_id:
                return run
        raise AssertionError(f"run {run_id} not claimable; got {[r.run_id for r in claimed]}")


async def open_env(tmp_path: Path, graphs: dict[str, Any], **settings: Any) -> Env:
    config = Settings(sqlite_path=tmp_path / "threadloom.db", **settings)
    storage = create_storage(config)
    await storage.open()
    broker = LocalBroker(buffer_events=10_000, retention_seconds=60)
    return Env(storage, broker, FakeRegistry(graphs), config)


async def events_of(broker: LocalBroker, run_id: str) -> list[tuple[str, Any]]:
    """All (event, decoded data) of a finished run's log."""
    out: list[StreamEvent] = [ev async for ev in broker.read(run_id, follow=False)]
    return [(ev.event, loads(ev.data)) for ev in out]
