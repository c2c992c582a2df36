"""The cluster shape as deployed: 2 API processes (`serve --workers 0`) + 2 `threadloom worker`s
on the real PostgreSQL and Redis, driven through the official SDK.

Leases are short (2 s, heartbeat 0.5 s) so a kill -9 is taken over in seconds.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from langgraph_sdk import get_client
from langgraph_sdk.client import LangGraphClient

from tests.support.cluster import ClusterBackends, WorkerProcess
from tests.support.server import ROOT, TEST_PROJECT, ServerProcess

TERMINAL = {"success", "error", "timeout", "interrupted"}


@dataclass
class Cluster:
    backends: ClusterBackends
    apis: list[ServerProcess]
    workers: list[WorkerProcess]
    tmp: Path

    def worker_env(self, **extra: str) -> dict[str, str]:
        return {**self.backends.env(fast_leases=True), **extra}

    def add_worker(self, name: str, **extra: str) -> WorkerProcess:
        worker = WorkerProcess(TEST_PROJECT, self.tmp / f"{name}.log", self.worker_env(**extra))
        worker.start()
        self.workers.append(worker)
        return worker

    def ensure_workers(self, count: int = 2) -> None:
        """Replace workers an earlier test killed or stopped (started in parallel: each
        process spends seconds importing LangChain)."""
        self.workers = [w for w in self.workers if w.alive()]
        missing = count - len(self.workers)
        if missing <= 0:
            return
        fresh = [
            WorkerProcess(
                TEST_PROJECT, self.tmp / f"worker-{os.urandom(3).hex()}.log", self.worker_env()
            )
            for _ in range(missing)
        ]
        self.workers.extend(fresh)
        _start_all([w.start for w in fresh])

    def run_row(self, run_id: str) -> dict[str, Any]:
        """The run's row as stored (worker_id and lease are not part of the API)."""
        with psycopg.connect(self.backends.pg_url, autocommit=True) as conn:
            cur = conn.execute(
                f'SELECT status, attempt, worker_id FROM "{self.backends.schema}".runs '
                "WHERE run_id = %s",
                (run_id,),
            )
            row = cur.fetchone()
        assert row is not None
        return {"status": row[0], "attempt": row[1], "worker_id": row[2]}

    def worker_running(self, run_id: str) -> WorkerProcess:
        worker_id = self.run_row(run_id)["worker_id"]
        assert worker_id, "run is not held by a worker"
        pid = int(worker_id.split(":")[1])
        return next(w for w in self.workers if w.pid == pid)


def _start_all(starts: list[Callable[[], None]]) -> None:
    with ThreadPoolExecutor(len(starts)) as pool:
        for future in [pool.submit(start) for start in starts]:
            future.result()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    backends = ClusterBackends.create()
    tmp = tmp_path_factory.mktemp("cluster")
    apis = [
        ServerProcess(
            TEST_PROJECT, tmp / f"api-{i}.db", command="serve", env=backends.env(workers=0)
        )
        for i in range(2)
    ]
    state = Cluster(backends, apis, [], tmp)
    try:
        apis[0].start(timeout=60)  # migrates the schema; the rest find it done
        _start_all([lambda: apis[1].start(timeout=60), lambda: state.ensure_workers(2)])
        yield state
    finally:
        for worker in state.workers:
            worker.stop()
        for api in apis:
            api.stop()
        backends.cleanup()


@pytest.fixture
async def clients(cluster: Cluster) -> AsyncIterator[tuple[LangGraphClient, LangGraphClient]]:
    cluster.ensure_workers(2)
    a, b = (get_client(url=api.url, api_key=None) for api in cluster.apis)
    yield a, b
    await a.http.client.aclose()
    await b.http.client.aclose()


async def _wait_status(
    client: LangGraphClient, tid: str, rid: str, statuses: set[str], limit: float = 20
) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + limit
    while True:
        run = await client.runs.get(tid, rid)
        if run["status"] in statuses:
            return dict(run)
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"run {rid} stayed {run['status']}")
        await asyncio.sleep(0.02)


async def _steps(client: LangGraphClient, tid: str) -> int:
    state: Any = await client.threads.get_state(tid)
    return int((state["values"] or {}).get("steps", 0))


async def test_run_created_on_a_streams_through_b(
    clients: tuple[LangGraphClient, LangGraphClient],
) -> None:
    a, b = clients
    tid = (await a.threads.create())["thread_id"]
    run = await a.runs.create(
        tid,
        "slow",
        input={"seconds": 0.05},
        stream_mode=["custom", "values"],
        stream_resumable=True,
    )
    # a join sees what happens from when it joins; `Last-Event-ID: -1` also what came before
    parts = [
        p
        async for p in b.runs.join_stream(
            tid, run["run_id"], stream_mode=["custom", "values"], last_event_id="-1"
        )
    ]
    ticks = [p.data["tick"] for p in parts if p.event == "custom"]
    assert ticks == [0, 1, 2, 3, 4]
    values = [p.data for p in parts if p.event == "values"]
    assert values[-1]["steps"] == 5
    assert (await b.runs.get(tid, run["run_id"]))["status"] == "success"


async def test_stream_from_b_replays_from_the_start(
    clients: tuple[LangGraphClient, LangGraphClient],
) -> None:
    """A resumable stream is read whole through the other API process, events in order."""
    a, b = clients
    tid = (await a.threads.create())["thread_id"]
    run = await a.runs.create(
        tid, "streamer", input={"n": 2000}, stream_mode="custom", stream_resumable=True
    )
    await _wait_status(a, tid, run["run_id"], TERMINAL)
    parts = [p async for p in b.runs.join_stream(tid, run["run_id"], last_event_id="-1")]
    assert parts[0].event == "metadata"
    assert [p.data["i"] for p in parts if p.event == "custom"] == list(range(2000))


async def test_cancel_through_b_stops_the_run_wherever_it_runs(
    clients: tuple[LangGraphClient, LangGraphClient], cluster: Cluster
) -> None:
    a, b = clients
    tid = (await a.threads.create())["thread_id"]
    run = await a.runs.create(tid, "slow", input={"seconds": 0.5})
    rid = run["run_id"]
    await _wait_status(a, tid, rid, {"running"})
    holder = cluster.worker_running(rid)
    await asyncio.sleep(0.6)  # at least one step done
    started = asyncio.get_running_loop().time()
    await b.runs.cancel(tid, rid)
    done = await _wait_status(b, tid, rid, TERMINAL, limit=5)
    assert asyncio.get_running_loop().time() - started < 1.5
    assert done["status"] == "interrupted"
    assert done["stop_reason"] == "cancelled"
    assert 1 <= await _steps(a, tid) < 5
    assert holder.alive()


async def test_kill_9_worker_mid_run_completes_exactly_once(
    clients: tuple[LangGraphClient, LangGraphClient], cluster: Cluster
) -> None:
    a, b = clients
    tid = (await a.threads.create())["thread_id"]
    run = await a.runs.create(
        tid,
        "slow",
        input={"seconds": 0.4},
        durability="sync",
        stream_mode=["custom", "values"],
        stream_resumable=True,
    )
    rid = run["run_id"]
    # a client joined through API B before the crash
    joined = asyncio.ensure_future(
        _collect(
            b.runs.join_stream(
                tid, rid, stream_mode=["metadata", "custom", "values"], last_event_id="-1"
            )
        )
    )
    await _wait_status(a, tid, rid, {"running"})
    for _ in range(200):
        if await _steps(a, tid) >= 2:
            break
        await asyncio.sleep(0.05)
    victim = cluster.worker_running(rid)
    victim.kill()

    done = await _wait_status(a, tid, rid, TERMINAL, limit=30)
    assert done["status"] == "success"
    assert done["attempt"] == 2
    assert int(cluster.run_row(rid)["worker_id"].split(":")[1]) != victim.pid
    # five steps in all: none repeated, none lost, the input applied once
    assert await _steps(a, tid) == 5
    history: list[Any] = list(await a.threads.get_history(tid, limit=100))
    assert len([h for h in history if (h["metadata"] or {}).get("source") == "input"]) == 1
    runs = await b.runs.list(tid)
    assert [r["run_id"] for r in runs] == [rid]

    parts = await asyncio.wait_for(joined, 30)
    metadata = [p.data for p in parts if p.event == "metadata"]
    assert [m["attempt"] for m in metadata] == [1, 2]
    values = [p.data for p in parts if p.event == "values"]
    assert values[-1]["steps"] == 5
    assert len(await a.runs.list(tid, status="success")) == 1


async def test_kill_9_mid_stateless_run_resumes_from_its_written_checkpoints(
    clients: tuple[LangGraphClient, LangGraphClient], cluster: Cluster
) -> None:
    """A stateless run's checkpoints are written late (at most
    THREADLOOM_STATELESS_CHECKPOINT_DELAY_SECONDS, 0.1 s), not never: a run killed after its
    steps were written resumes from them instead of starting over, and ends once."""
    a, b = clients
    run = await a.runs.create(
        None, "slow", input={"seconds": 0.4}, stream_mode=["custom"], stream_resumable=True
    )
    tid, rid = run["thread_id"], run["run_id"]
    joined = asyncio.ensure_future(
        _collect(
            b.runs.join_stream(tid, rid, stream_mode=["metadata", "custom"], last_event_id="-1")
        )
    )
    await _wait_status(a, tid, rid, {"running"})
    for _ in range(200):  # read from the database: only what the worker has written
        if await _steps(a, tid) >= 2:
            break
        await asyncio.sleep(0.05)
    else:
        raise AssertionError("the stateless run's checkpoints were never written")
    cluster.worker_running(rid).kill()

    parts = await asyncio.wait_for(joined, 30)
    attempts: list[list[int]] = []
    for part in parts:
        if part.event == "metadata":
            attempts.append([])
        elif part.event == "custom":
            attempts[-1].append(part.data["tick"])
    assert len(attempts) == 2
    assert attempts[0][:2] == [0, 1]
    assert attempts[1][0] >= 2  # resumed from a written step, not from the input
    assert attempts[1][-1] == 4  # and went on to the end: five steps
    # the run ended once, and its temporary thread went with it before the end was heard
    assert await a.threads.search(ids=[tid]) == []


async def test_three_appends_through_different_apis(
    clients: tuple[LangGraphClient, LangGraphClient],
) -> None:
    a, b = clients
    tid = (await a.threads.create())["thread_id"]
    created = await asyncio.gather(
        a.runs.create(tid, "appender", input={"delay": 0.2}, multitask_strategy="enqueue"),
        b.runs.create(tid, "appender", input={"delay": 0.2}, multitask_strategy="enqueue"),
        a.runs.create(tid, "appender", input={"delay": 0.2}, multitask_strategy="enqueue"),
    )
    for run in created:
        done = await _wait_status(b, tid, run["run_id"], TERMINAL)
        assert done["status"] == "success"
    state: Any = await b.threads.get_state(tid)
    assert state["values"]["items"] == ["after-0", "after-1", "after-2"]


async def test_assistant_updated_through_b_applies_to_runs_created_through_a(
    clients: tuple[LangGraphClient, LangGraphClient],
) -> None:
    """API processes cache assistants for run creation; a change made through another process
    is still what the next run starts from (stateless and on a thread)."""
    a, b = clients
    assistant = await a.assistants.create("configured", config={"configurable": {"prefix": "hi"}})
    aid = assistant["assistant_id"]
    assert (await a.runs.wait(None, aid, input={}))["greeting"] == "hi world"  # now cached in A
    await b.assistants.update(aid, config={"configurable": {"prefix": "hey"}})
    assert (await a.runs.wait(None, aid, input={}))["greeting"] == "hey world"
    tid = (await a.threads.create())["thread_id"]
    assert (await a.runs.wait(tid, aid, input={}))["greeting"] == "hey world"
    await b.assistants.set_latest(aid, 1)
    assert (await a.runs.wait(tid, aid, input={}))["greeting"] == "hi world"
    await b.assistants.delete(aid)
    with pytest.raises(httpx.HTTPStatusError) as info:
        await a.runs.wait(None, aid, input={})
    assert info.value.response.status_code == 404


async def test_sigterm_lets_running_runs_finish(
    clients: tuple[LangGraphClient, LangGraphClient], cluster: Cluster
) -> None:
    """Graceful shutdown: the worker stops claiming, finishes what it runs, exits 0."""
    a, _ = clients
    tid = (await a.threads.create())["thread_id"]
    run = await a.runs.create(tid, "slow", input={"seconds": 0.3})
    rid = run["run_id"]
    await _wait_status(a, tid, rid, {"running"})
    holder = cluster.worker_running(rid)
    code = await asyncio.to_thread(holder.stop)
    assert code == 0
    assert "SIGTERM: no new runs" in holder.logs()
    done: Any = await a.runs.get(tid, rid)
    assert done["status"] == "success"
    assert done["attempt"] == 1


async def test_sigterm_past_grace_requeues_and_another_worker_resumes(
    clients: tuple[LangGraphClient, LangGraphClient], cluster: Cluster
) -> None:
    a, _ = clients
    for worker in list(cluster.workers):
        worker.stop()
    short = cluster.add_worker("short-grace", THREADLOOM_SHUTDOWN_GRACE_SECONDS="0.2")
    tid = (await a.threads.create())["thread_id"]
    run = await a.runs.create(tid, "slow", input={"seconds": 0.4}, durability="sync")
    rid = run["run_id"]
    await _wait_status(a, tid, rid, {"running"})
    for _ in range(200):
        if await _steps(a, tid) >= 1:
            break
        await asyncio.sleep(0.05)
    assert await asyncio.to_thread(short.stop) == 0
    assert cluster.run_row(rid)["status"] == "pending"  # released, not left to its lease
    cluster.ensure_workers(2)
    done = await _wait_status(a, tid, rid, TERMINAL, limit=20)
    assert done["status"] == "success"
    assert done["attempt"] == 2
    assert await _steps(a, tid) == 5


@pytest.mark.parametrize(
    ("command", "env", "expected"),
    [
        (
            ["worker"],
            {
                "THREADLOOM_DATABASE_URL": "postgresql://postgres:s3cret@127.0.0.1:1/test",
                "THREADLOOM_REDIS_URL": "redis://127.0.0.1:6379/0",
            },
            "cannot use PostgreSQL at postgresql://postgres:***@127.0.0.1:1/test",
        ),
        (
            ["serve", "--port", "0"],
            {
                "THREADLOOM_DATABASE_URL": "postgresql://postgres@127.0.0.1:5432/test",
                "THREADLOOM_REDIS_URL": "redis://:s3cret@127.0.0.1:1/0",
            },
            "cannot use Redis at redis://:***@127.0.0.1:1/0",
        ),
    ],
)
def test_unreachable_backend_is_one_clear_line(
    command: list[str], env: dict[str, str], expected: str
) -> None:
    args = [sys.executable, "-m", "threadloom.cli", *command, "--config", str(TEST_PROJECT)]
    clean = {k: v for k, v in os.environ.items() if not k.startswith("THREADLOOM_")}
    result = subprocess.run(
        args, env={**clean, **env}, cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 1
    assert expected in result.stderr
    assert "s3cret" not in result.stderr + result.stdout
    assert "Traceback" not in result.stderr


async def _collect(stream: Any) -> list[Any]:
    return [part async for part in stream]
