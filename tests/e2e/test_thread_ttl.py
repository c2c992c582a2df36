"""Thread TTL through the official SDK, on a server whose `checkpointer.ttl` gives every thread
0.6 s and sweeps every 0.3 s: what expires is gone for readers, then swept from the database
(runs and checkpoints with it), a keep_latest thread keeps only its latest checkpoint, a busy
thread waits for its run, a patch starts the clock again. Both shapes."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import psycopg
import pytest
from langgraph_sdk import get_client
from langgraph_sdk.client import LangGraphClient
from langgraph_sdk.errors import NotFoundError

from tests.support.cluster import ClusterBackends
from tests.support.server import ROOT, ServerProcess

GRAPHS = ROOT / "tests" / "e2e" / "project" / "graphs.py"
TTL_MINUTES = 0.01  # 0.6 s


class TTLServer:
    def __init__(self, proc: ServerProcess, backends: ClusterBackends | None) -> None:
        self.proc = proc
        self.backends = backends

    def stored_threads(self, thread_id: str) -> int:
        """Rows the database still holds for the thread (threads, runs, checkpoints)."""
        tables = ("threads", "runs", "checkpoints")
        if self.backends is None:
            with sqlite3.connect(self.proc.db_path) as conn:
                return sum(
                    conn.execute(
                        f"SELECT COUNT(*) FROM {t} WHERE thread_id = ?", (thread_id,)
                    ).fetchone()[0]
                    for t in tables
                )
        schema = self.backends.schema
        with psycopg.connect(self.backends.pg_url) as conn:
            return sum(
                conn.execute(
                    f'SELECT COUNT(*) FROM "{schema}".{t} WHERE thread_id = %s', (thread_id,)
                ).fetchone()[0]  # type: ignore[index]
                for t in tables
            )


@pytest.fixture(scope="module")
def ttl_server(shape: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TTLServer]:
    folder = tmp_path_factory.mktemp(f"ttl-{shape}")
    config = folder / "langgraph.json"
    config.write_text(
        json.dumps(
            {
                "dependencies": [str(GRAPHS.parent)],
                "graphs": {"echo": f"{GRAPHS}:echo", "slow": f"{GRAPHS}:slow"},
                "checkpointer": {
                    "ttl": {
                        "strategy": "delete",
                        "default_ttl": TTL_MINUTES,
                        "sweep_interval_minutes": 0.005,
                    }
                },
            }
        )
    )
    backends = ClusterBackends.create() if shape == "postgres" else None
    if backends is None:
        proc = ServerProcess(config, folder / "threadloom.db")
    else:
        proc = ServerProcess(config, folder / "threadloom.db", command="serve", env=backends.env())
    proc.start()
    try:
        yield TTLServer(proc, backends)
    finally:
        proc.stop()
        if backends is not None:
            backends.cleanup()


@pytest.fixture
async def ttl_client(ttl_server: TTLServer) -> AsyncIterator[LangGraphClient]:
    client = get_client(url=ttl_server.proc.url, api_key=None)
    yield client
    await client.http.client.aclose()


async def _gone(client: LangGraphClient, thread_id: str, within: float = 15.0) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            await client.threads.get(thread_id)
        except NotFoundError:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"thread {thread_id} still there after {within} s")


async def _until(predicate: Any, within: float = 15.0) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if await predicate():
            return
        await asyncio.sleep(0.1)
    raise AssertionError("condition not met in time")


async def _ttl_of(server: TTLServer, thread_id: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=server.proc.url) as http:
        reply = await http.get(f"/threads/{thread_id}", params={"include": "ttl"})
    assert reply.status_code == 200, reply.text
    return dict(reply.json()["ttl"])


async def test_default_ttl_deletes_a_thread_with_its_runs_and_checkpoints(
    ttl_client: LangGraphClient, ttl_server: TTLServer
) -> None:
    thread = await ttl_client.threads.create()
    tid = thread["thread_id"]
    ttl = await _ttl_of(ttl_server, tid)
    assert ttl["strategy"] == "delete" and ttl["ttl_minutes"] == TTL_MINUTES
    await ttl_client.runs.wait(tid, "echo", input={"messages": [{"role": "user", "content": "hi"}]})
    assert ttl_server.stored_threads(tid) > 2  # thread, run, checkpoints
    await _gone(ttl_client, tid)
    assert await ttl_client.threads.search(metadata={"graph_id": "echo"}, ids=[tid]) == []
    with pytest.raises(NotFoundError):
        await ttl_client.threads.get_history(tid)

    async def swept() -> bool:
        return ttl_server.stored_threads(tid) == 0

    await _until(swept)


async def test_a_run_creates_its_thread_with_the_default_ttl(
    ttl_client: LangGraphClient, ttl_server: TTLServer
) -> None:
    import uuid

    tid = str(uuid.uuid4())
    await ttl_client.runs.wait(
        tid, "echo", input={"messages": [{"role": "user", "content": "hi"}]}, if_not_exists="create"
    )
    assert (await _ttl_of(ttl_server, tid))["ttl_minutes"] == TTL_MINUTES
    await _gone(ttl_client, tid)


async def test_keep_latest_keeps_the_thread_and_its_latest_checkpoint(
    ttl_client: LangGraphClient,
) -> None:
    thread = await ttl_client.threads.create(ttl={"strategy": "keep_latest", "ttl": TTL_MINUTES})
    tid = thread["thread_id"]
    for text in ("one", "two"):
        await ttl_client.runs.wait(
            tid, "echo", input={"messages": [{"role": "user", "content": text}]}
        )
    assert len(await ttl_client.threads.get_history(tid, limit=100)) > 1

    async def pruned() -> bool:
        return len(await ttl_client.threads.get_history(tid, limit=100)) == 1

    await _until(pruned)
    state = await ttl_client.threads.get_state(tid)
    assert [m["content"] for m in state["values"]["messages"]][-1] == "echo: two"
    assert (await ttl_client.threads.get(tid))["thread_id"] == tid


async def test_a_busy_thread_waits_for_its_run(ttl_client: LangGraphClient) -> None:
    thread = await ttl_client.threads.create()
    tid = thread["thread_id"]
    run = await ttl_client.runs.create(tid, "slow", input={"seconds": 0.4})  # ~2 s, > its TTL
    result = await ttl_client.runs.join(tid, run["run_id"])
    assert result["steps"] == 5  # never swept from under its run
    await _gone(ttl_client, tid)


async def test_a_patch_starts_the_clock_again(
    ttl_client: LangGraphClient, ttl_server: TTLServer
) -> None:
    thread = await ttl_client.threads.create(ttl={"strategy": "delete", "ttl": 1})
    tid = thread["thread_id"]
    first = (await _ttl_of(ttl_server, tid))["expires_at"]
    await asyncio.sleep(0.05)
    await ttl_client.threads.update(tid, metadata={}, ttl={"strategy": "delete", "ttl": 1})
    assert (await _ttl_of(ttl_server, tid))["expires_at"] > first
    await ttl_client.threads.update(
        tid, metadata={}, ttl={"strategy": "delete", "ttl": TTL_MINUTES}
    )
    await _gone(ttl_client, tid)
