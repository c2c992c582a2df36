"""Transient outages of PostgreSQL and Redis while a cluster-shape server runs: requests fail
with 503 meanwhile, the server recovers by itself afterwards, and no acknowledged run is lost."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx
import pytest
from langgraph_sdk import get_client

from tests.support.cluster import ClusterBackends
from tests.support.outage import PostgresServer, RedisServer, TcpProxy
from tests.support.server import TEST_PROJECT, ServerProcess

TERMINAL = {"success", "error", "timeout", "interrupted"}


def _proxied(url: str, port: int) -> str:
    parsed = urlparse(url)
    netloc = parsed.netloc.rsplit("@", 1)
    host = f"127.0.0.1:{port}"
    return parsed._replace(netloc=f"{netloc[0]}@{host}" if len(netloc) == 2 else host).geturl()


@pytest.fixture
def outage_server(tmp_path: Path) -> Iterator[tuple[ServerProcess, TcpProxy, RedisServer]]:
    if not RedisServer.available():
        pytest.skip("redis-server is not installed")
    backends = ClusterBackends.create()
    target = urlparse(backends.pg_url)
    proxy = TcpProxy(target.hostname or "127.0.0.1", target.port or 5432)
    proxy.start()
    redis_server = RedisServer(tmp_path)
    redis_server.start()
    env = backends.env(fast_leases=True)
    env["THREADLOOM_DATABASE_URL"] = _proxied(backends.pg_url, proxy.port)
    env["THREADLOOM_REDIS_URL"] = redis_server.url
    # shorter than the outage below: the run's checkpoint write fails, not just waits
    env["THREADLOOM_DATABASE_POOL_TIMEOUT_SECONDS"] = "1"
    server = ServerProcess(TEST_PROJECT, tmp_path / "server.db", command="serve", env=env)
    try:
        server.start(timeout=60)
        yield server, proxy, redis_server
    finally:
        server.stop()
        redis_server.stop()
        proxy.close()
        backends.cleanup()


@pytest.fixture
def private_services_server(tmp_path: Path) -> Iterator[tuple[ServerProcess, RedisServer]]:
    """A cluster `serve` on a PostgreSQL and a redis-server this test starts itself (not the
    system services): the outage may then take either down for real."""
    if not RedisServer.available() or not PostgresServer.available():
        pytest.skip("redis-server or the PostgreSQL server binaries are not installed")
    pg = PostgresServer()
    redis_server = RedisServer(tmp_path)
    server: ServerProcess | None = None
    try:
        pg.start()
        redis_server.start()
        env = ClusterBackends(pg.url, redis_server.url).env(fast_leases=True)
        server = ServerProcess(TEST_PROJECT, tmp_path / "server.db", command="serve", env=env)
        server.start(timeout=60)
        yield server, redis_server
    finally:
        if server is not None:
            server.stop()
        redis_server.stop()
        pg.stop()


@contextlib.contextmanager
def _server_log_on_failure(server: ServerProcess) -> Iterator[None]:
    """A failure here is often timing under load: keep what the server said with it."""
    try:
        yield
    except BaseException as exc:
        exc.add_note(f"server log (tail):\n{server.logs()[-6000:]}")
        raise


async def _until_ok(http: httpx.AsyncClient, path: str, limit: float = 30) -> float:
    """Seconds until `GET path` answers 200 again."""
    start = time.monotonic()
    while True:
        try:
            response = await http.get(path)
            if response.status_code == 200:
                return time.monotonic() - start
            assert response.status_code == 503, response.text
        except httpx.TransportError:
            pass
        assert time.monotonic() - start < limit, f"{path} did not recover in {limit}s"
        await asyncio.sleep(0.2)


async def _final(client: Any, tid: str, rid: str, limit: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + limit
    while True:
        try:
            run = await client.runs.get(tid, rid)
            if run["status"] in TERMINAL:
                return dict(run)
        except Exception:  # 503 while the service comes back
            pass
        assert time.monotonic() < deadline, f"run {rid} did not finish"
        await asyncio.sleep(0.2)


async def test_postgres_outage_503_then_recovers(
    outage_server: tuple[ServerProcess, TcpProxy, RedisServer],
) -> None:
    server, proxy, _ = outage_server
    with _server_log_on_failure(server):
        client = get_client(url=server.url, api_key=None)
        async with httpx.AsyncClient(base_url=server.url, timeout=60) as http:
            tid = (await client.threads.create())["thread_id"]
            run = await client.runs.create(tid, "slow", input={"seconds": 0.4}, durability="sync")
            rid = run["run_id"]  # acknowledged: it must end, and end well
            for _ in range(100):
                state: Any = await client.threads.get_state(tid)
                if (state["values"] or {}).get("steps", 0) >= 1:
                    break
                await asyncio.sleep(0.05)

            proxy.cut()
            down = await http.get(f"/threads/{tid}")
            assert down.status_code == 503
            assert "unavailable" in down.json()["detail"]
            await asyncio.sleep(3.0)  # longer than a step and than the lease
            proxy.restore()

            assert await _until_ok(http, f"/threads/{tid}") < 30
            done = await _final(client, tid, rid)
            assert done["status"] == "success", done
            state = await client.threads.get_state(tid)
            assert state["values"]["steps"] == 5
            # and new work runs normally
            result: Any = await client.runs.wait(
                None, "echo", input={"messages": [{"role": "user", "content": "back"}]}
            )
            assert result["messages"][-1]["content"] == "echo: back"
        await client.http.client.aclose()


async def test_redis_outage_503_then_recovers(
    outage_server: tuple[ServerProcess, TcpProxy, RedisServer],
) -> None:
    server, _, redis_server = outage_server
    with _server_log_on_failure(server):
        client = get_client(url=server.url, api_key=None)
        async with httpx.AsyncClient(base_url=server.url, timeout=60) as http:
            tid = (await client.threads.create())["thread_id"]
            redis_server.stop()
            down = await http.post(
                f"/threads/{tid}/runs/wait",
                json={
                    "assistant_id": "echo",
                    "input": {"messages": [{"role": "user", "content": "x"}]},
                },
            )
            assert down.status_code == 503, down.text
            redis_server.start()

            deadline = time.monotonic() + 30
            while True:
                response = await http.post(
                    "/runs/wait",
                    json={
                        "assistant_id": "echo",
                        "input": {"messages": [{"role": "user", "content": "again"}]},
                    },
                )
                if response.status_code == 200:
                    break
                assert response.status_code == 503, response.text
                assert time.monotonic() < deadline, "Redis-backed requests did not recover"
                await asyncio.sleep(0.2)
            assert response.json()["messages"][-1]["content"] == "echo: again"
            # every run the server acknowledged ended
            for run in await client.runs.list(tid):
                assert (await _final(client, tid, run["run_id"]))["status"] in TERMINAL
        await client.http.client.aclose()


async def test_resume_across_a_redis_restart_never_ends_short(
    private_services_server: tuple[ServerProcess, RedisServer],
) -> None:
    """A private redis-server is killed and restarted (its data gone) while a resumable run
    streams, over a private PostgreSQL. A client resuming with the last id it saw reads the
    run through its final values, or is told explicitly (an `error` event) that its position
    is gone — never a clean end without the final values. Fails on the old numbering: attempt
    2 counted from 1 again and the resume skipped its first events."""
    server, redis_server = private_services_server
    with _server_log_on_failure(server):
        client = get_client(url=server.url, api_key=None)
        async with httpx.AsyncClient(base_url=server.url, timeout=60) as http:
            tid = (await client.threads.create())["thread_id"]
            run = await client.runs.create(
                tid,
                "slow",
                input={"seconds": 0.5},
                stream_resumable=True,
                stream_mode=["values", "custom"],
            )
            rid = run["run_id"]
            last_id = None
            async with http.stream(
                "GET", f"/threads/{tid}/runs/{rid}/stream", headers={"Last-Event-ID": "0"}
            ) as resp:
                ticks = 0
                async for line in resp.aiter_lines():
                    if line.startswith("id: "):
                        last_id = line[4:]
                    elif line == "event: custom":
                        ticks += 1
                        if ticks >= 2:
                            break
            assert last_id is not None
            # Redis loses the log, and the worker that ran attempt 1 dies with it: a new
            # process takes the run over once its lease expires
            redis_server.stop()
            server.kill()
            redis_server.start()
            server.start(timeout=60)
        await client.http.client.aclose()
        client = get_client(url=server.url, api_key=None)
        parts = [p async for p in client.runs.join_stream(tid, rid, last_event_id=last_id)]
        events = [p.event for p in parts]
        if "error" not in events:
            metadata = [p.data for p in parts if p.event == "metadata"]
            assert metadata and metadata[0]["attempt"] == 2, parts
            values = [p.data for p in parts if p.event == "values"]
            assert values and values[-1]["steps"] == 5, parts
        assert (await _final(client, tid, rid))["status"] == "success"
        await client.http.client.aclose()
