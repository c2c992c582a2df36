"""WorkerPool: per-thread serial order, concurrency, delayed runs, attempts, recovery, shutdown."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import operator
import time
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, TypedDict

import pytest
from langgraph.graph import START, StateGraph

from tests.support.runtime import Env, open_env
from threadloom.runtime.worker import WorkerPool
from threadloom.serde import utcnow


class Items(TypedDict):
    items: Annotated[list[str], operator.add]


def append_graph() -> StateGraph:
    async def add(state: Items) -> dict[str, Any]:
        await asyncio.sleep(0.01)
        return {"items": [str(len(state["items"]))]}

    g = StateGraph(Items)
    g.add_node("add", add)
    g.add_edge(START, "add")
    return g


def sleepy_graph(spans: list[tuple[float, float]], seconds: float) -> StateGraph:
    async def sleepy(state: Items) -> dict[str, Any]:
        started = time.perf_counter()
        await asyncio.sleep(seconds)
        spans.append((started, time.perf_counter()))
        return {"items": ["z"]}

    g = StateGraph(Items)
    g.add_node("sleepy", sleepy)
    g.add_edge(START, "sleepy")
    return g


async def wait_done(env: Env, run_id: str, limit: float = 10) -> None:
    async def drain() -> None:
        async for _ in env.broker.read(run_id):
            pass

    await asyncio.wait_for(drain(), limit)


@pytest.fixture
async def env(tmp_path: Path) -> Any:
    env = await open_env(
        tmp_path, {}, workers=50, shutdown_grace_seconds=0.1, heartbeat_seconds=0.2
    )
    yield env
    await env.storage.close()


def pool_for(env: Env, **kwargs: Any) -> WorkerPool:
    return WorkerPool(env.storage, env.broker, env.registry, env.settings, "w1", **kwargs)


async def test_runs_on_one_thread_execute_in_order(env: Env) -> None:
    env.registry.graphs["g"] = append_graph()
    assistant = await env.assistant("g")
    pool = pool_for(env)
    await pool.start()
    try:
        first = await env.enqueue(assistant, input={"items": []})
        runs = [first]
        for _ in range(2):
            runs.append(
                await env.enqueue(assistant, thread_id=first.thread_id, input={"items": []})
            )
        await env.broker.wake_workers()
        for run in runs:
            await wait_done(env, run.run_id)
    finally:
        await pool.stop()
    thread = await env.storage.threads.get(first.thread_id)
    assert thread is not None and thread.values == {"items": ["0", "1", "2"]}
    stored = [await env.storage.runs.get(r.run_id) for r in runs]
    assert all(s is not None and s.status == "success" for s in stored)
    # serial: each run started after the previous one ended
    for before, after in itertools.pairwise(stored):
        assert before is not None and after is not None
        assert before.ended_at is not None and after.started_at is not None
        assert after.started_at >= before.ended_at


async def test_runs_on_different_threads_overlap(env: Env) -> None:
    spans: list[tuple[float, float]] = []
    env.registry.graphs["g"] = sleepy_graph(spans, 0.2)
    assistant = await env.assistant("g")
    pool = pool_for(env)
    await pool.start()
    try:
        runs = [await env.enqueue(assistant, input={"items": []}) for _ in range(20)]
        await env.broker.wake_workers()
        for run in runs:
            await wait_done(env, run.run_id)
    finally:
        await pool.stop()
    assert len(spans) == 20
    # every run started before any run ended: they ran at the same time
    assert max(start for start, _ in spans) < min(end for _, end in spans)


async def test_full_pool_takes_the_next_run_when_a_temporary_run_ends(tmp_path: Path) -> None:
    """A temporary run's end wakes nobody else (its thread is gone), but its slot coming free
    lets a full pool claim what queued meanwhile, without any outside wake-up."""
    env = await open_env(tmp_path, {}, workers=1)
    try:
        spans: list[tuple[float, float]] = []
        env.registry.graphs["g"] = sleepy_graph(spans, 0.1)
        assistant = await env.assistant("g")
        pool = pool_for(env, idle_interval=30)
        await pool.start()
        try:
            runs = [
                await env.enqueue(assistant, input={"items": []}, temporary=True) for _ in range(3)
            ]
            await env.broker.wake_workers()  # one wake-up for all three
            for run in runs:
                await wait_done(env, run.run_id, limit=5)
        finally:
            await pool.stop()
        assert len(spans) == 3
        # one slot: strictly one after another
        assert all(spans[i][1] <= spans[i + 1][0] for i in range(2))
    finally:
        await env.storage.close()


async def test_delayed_run_starts_when_due(env: Env) -> None:
    env.registry.graphs["g"] = append_graph()
    assistant = await env.assistant("g")
    pool = pool_for(env)
    await pool.start()
    try:
        await asyncio.sleep(0.05)  # the pool is idle, waiting for work
        run = await env.enqueue(assistant, input={"items": []})
        # make it due in 0.3 s (after_seconds) — created_at in the future
        delayed = dataclasses.replace(
            run,
            run_id=run.run_id + "-d",
            created_at=utcnow() + timedelta(seconds=0.3),
            thread_id=run.thread_id + "-d",
        )
        await env.storage.runs.create_run(delayed, if_not_exists="create")
        await env.broker.wake_workers()
        await wait_done(env, run.run_id)
        started = time.perf_counter()
        await wait_done(env, delayed.run_id, limit=5)
        assert time.perf_counter() - started >= 0.1
    finally:
        await pool.stop()
    stored = await env.storage.runs.get(delayed.run_id)
    assert stored is not None and stored.status == "success"


async def test_graceful_stop_requeues_and_next_start_resumes(env: Env) -> None:
    spans: list[tuple[float, float]] = []
    env.registry.graphs["g"] = sleepy_graph(spans, 2.0)
    assistant = await env.assistant("g")
    pool = pool_for(env)
    await pool.start()
    run = await env.enqueue(assistant, input={"items": []})
    await env.broker.wake_workers()
    for _ in range(100):
        stored = await env.storage.runs.get(run.run_id)
        if stored is not None and stored.status == "running":
            break
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.05)
    await pool.stop()  # grace 0.1 s < 2 s of work
    stored = await env.storage.runs.get(run.run_id)
    assert stored is not None and stored.status == "pending"
    assert not await env.broker.is_finished(run.run_id)

    env.registry.graphs["g"] = sleepy_graph(spans, 0.01)
    pool = pool_for(env)
    await pool.start()
    try:
        await wait_done(env, run.run_id)
    finally:
        await pool.stop()
    stored = await env.storage.runs.get(run.run_id)
    assert stored is not None and stored.status == "success" and stored.attempt == 2


async def test_startup_recovers_runs_left_running(env: Env) -> None:
    env.registry.graphs["g"] = append_graph()
    assistant = await env.assistant("g")
    run = await env.enqueue(assistant, input={"items": []})
    await env.claim_one(run.run_id)  # a "previous process" claimed it and died
    pool = pool_for(env)
    await pool.start()
    try:
        await wait_done(env, run.run_id)
    finally:
        await pool.stop()
    stored = await env.storage.runs.get(run.run_id)
    assert stored is not None and stored.status == "success" and stored.attempt == 2


async def test_attempts_are_bounded(tmp_path: Path) -> None:
    env = await open_env(tmp_path, {"g": append_graph()}, max_attempts=1)
    try:
        assistant = await env.assistant("g")
        run = await env.enqueue(assistant, input={"items": []})
        await env.claim_one(run.run_id)  # attempt 1 died
        pool = pool_for(env)
        await pool.start()  # recovery re-queues it; attempt 2 > max_attempts
        try:
            await wait_done(env, run.run_id)
        finally:
            await pool.stop()
        stored = await env.storage.runs.get(run.run_id)
        assert stored is not None and stored.status == "error"
        assert stored.error == {"error": "RuntimeError", "message": "Run exceeded 1 attempts"}
    finally:
        await env.storage.close()


async def test_cancel_through_broker_reaches_pool_run(env: Env) -> None:
    spans: list[tuple[float, float]] = []
    env.registry.graphs["g"] = sleepy_graph(spans, 5.0)
    assistant = await env.assistant("g")
    pool = pool_for(env)
    await pool.start()
    try:
        run = await env.enqueue(assistant, input={"items": []})
        await env.broker.wake_workers()
        for _ in range(200):
            if run.run_id in pool.active_runs:
                break
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.05)
        await env.storage.runs.request_cancel(run_ids=[run.run_id])
        await env.broker.send_cancel(run.run_id, "interrupt")
        await wait_done(env, run.run_id, limit=2)
    finally:
        await pool.stop()
    stored = await env.storage.runs.get(run.run_id)
    assert stored is not None and stored.status == "interrupted"
    assert stored.stop_reason == "cancelled"


async def test_run_stopped_by_an_outage_is_requeued_when_the_database_answers(
    tmp_path: Path,
) -> None:
    """An outage stops a run and its re-queue cannot be written either: the worker re-queues
    it at its first heartbeat that reaches the database, not when its lease (an hour here)
    expires and a reaper notices."""
    from threadloom.errors import Unavailable

    attempts: list[int] = []

    async def flaky(state: Items) -> dict[str, Any]:
        attempts.append(len(attempts) + 1)
        if len(attempts) == 1:
            raise Unavailable("database restarting")
        return {"items": ["ok"]}

    g = StateGraph(Items)
    g.add_node("flaky", flaky)
    g.add_edge(START, "flaky")
    env = await open_env(tmp_path, {"g": g}, workers=2, heartbeat_seconds=0.05, lease_seconds=3600)
    real_requeue = env.storage.runs.requeue
    failed: list[list[str]] = []

    async def requeue(run_ids: Any, *, worker_id: str | None = None) -> int:
        if not failed:
            failed.append(list(run_ids))
            raise Unavailable("database restarting")
        return await real_requeue(run_ids, worker_id=worker_id)

    env.storage.runs.requeue = requeue  # type: ignore[method-assign]
    pool = pool_for(env, recover_on_start=False)
    try:
        assistant = await env.assistant("g")
        run = await env.enqueue(assistant, input={"items": []})
        await pool.start()
        for _ in range(400):
            stored = await env.storage.runs.get(run.run_id)
            if stored is not None and stored.status == "success":
                break
            await asyncio.sleep(0.025)
        assert failed == [[run.run_id]]
        assert stored is not None and stored.status == "success" and stored.attempt == 2
    finally:
        await pool.stop()
        await env.storage.close()
