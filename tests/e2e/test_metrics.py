"""`GET /metrics` scraped with Prometheus' own text parser, before and after a few runs, in both
shapes: every counter moves by exactly what the runs did (a server of the test's own, so no
other test's runs are counted), the JSON format has the reference's shape, and the route is
open under custom auth as in the reference."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from langgraph_sdk import get_client

from tests.support.prometheus import Samples, parse, value
from tests.support.server import ServerProcess

HI = {"messages": [{"role": "user", "content": "hi"}]}


async def scrape(http: httpx.AsyncClient) -> Samples:
    response = await http.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return parse(response.text)


@pytest.fixture
async def own(fresh_server: ServerProcess) -> AsyncIterator[ServerProcess]:
    fresh_server.start()
    yield fresh_server


async def test_counters_move_by_what_the_runs_did(own: ServerProcess) -> None:
    client = get_client(url=own.url, api_key=None)
    async with httpx.AsyncClient(base_url=own.url, timeout=30) as http:
        before = await scrape(http)
        for _ in range(3):
            await client.runs.wait(None, "echo", input=HI)
        failed = await client.runs.wait(None, "failing", input=HI, raise_error=False)
        assert "__error__" in failed
        thread = await client.threads.create()
        async for _ in client.runs.stream(
            thread["thread_id"],
            "agent",
            input={"messages": [{"role": "user", "content": "what is 2 + 3?"}]},
            stream_mode="messages-tuple",
        ):
            pass
        state = await client.threads.get_state(thread["thread_id"])
        after = await scrape(http)
    await client.http.client.aclose()

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("threadloom_runs_created_total", graph_id="echo") == 3
    assert moved("threadloom_runs_created_total", graph_id="failing") == 1
    assert moved("threadloom_runs_created_total", graph_id="agent") == 1
    assert moved("threadloom_runs_ended_total", graph_id="echo", status="success") == 3
    assert moved("threadloom_runs_ended_total", graph_id="failing", status="error") == 1
    assert moved("threadloom_runs_ended_total", graph_id="agent", status="success") == 1
    duration = "threadloom_run_duration_seconds_count"
    assert moved(duration, graph_id="echo", status="success") == 3
    assert moved("threadloom_run_queue_wait_seconds_count", graph_id="echo") == 3
    # the agent's model streamed its reply: one first token per run; echo has no LLM
    assert moved("threadloom_run_ttft_seconds_count", graph_id="agent") == 1
    assert moved("threadloom_run_ttft_seconds_count", graph_id="echo") == 0
    # tokens: what the AI messages' usage_metadata of the agent's run add up to
    usages = [
        m["usage_metadata"]
        for m in state["values"]["messages"]
        if m["type"] == "ai" and m.get("usage_metadata")
    ]
    assert usages
    tokens = "threadloom_llm_tokens_total"
    expected_in = sum(u["input_tokens"] for u in usages)
    expected_out = sum(u["output_tokens"] for u in usages)
    assert moved(tokens, graph_id="agent", direction="input") == expected_in
    assert moved(tokens, graph_id="agent", direction="output") == expected_out
    # HTTP: by route template and status; the reference's families say the same
    wait = {"method": "POST", "route": "/runs/wait", "status": "200"}
    assert moved("threadloom_http_request_duration_seconds_count", **wait) == 4
    assert moved("lg_api_http_requests_total", method="POST", path="/runs/wait", status="200") == 4
    assert moved("lg_api_http_requests_latency_count", method="POST", path="/runs/wait") == 4
    stream = {"method": "POST", "route": "/threads/{thread_id}/runs/stream", "status": "200"}
    assert moved("threadloom_http_request_duration_seconds_count", **stream) == 1
    for _, labels in after:  # no label carries an id or a raw path
        for key, label in labels:
            assert thread["thread_id"] not in label, (key, label)
    # health checks and scrapes are not counted (as the reference)
    assert not any(dict(labels).get("route") == "/metrics" for _, labels in after)
    # this process's run slots and the whole queue
    slots = value(after, "lg_api_workers_max")
    assert slots > 0
    active = value(after, "lg_api_workers_active")
    assert active + value(after, "lg_api_workers_available") == slots
    assert value(after, "lg_api_num_pending_runs") == 0
    assert ("lg_api_num_running_runs", frozenset()) in after
    assert value(after, "threadloom_open_streams", kind="sse") == 0


async def test_open_streams_and_json_format(own: ServerProcess) -> None:
    client = get_client(url=own.url, api_key=None)
    async with httpx.AsyncClient(base_url=own.url, timeout=30) as http:
        thread = await client.threads.create()
        run = await client.runs.create(thread["thread_id"], "slow", input={"seconds": 30})
        joined = asyncio.ensure_future(
            _drain(client.runs.join_stream(thread["thread_id"], run["run_id"]))
        )
        try:
            for _ in range(200):  # the join is being served: one open SSE stream
                during = await scrape(http)
                if value(during, "threadloom_open_streams", kind="sse") == 1:
                    break
                await asyncio.sleep(0.02)
            else:
                pytest.fail("the open stream never showed in threadloom_open_streams")
            assert value(during, "lg_api_num_running_runs") == 1
            assert value(during, "lg_api_workers_active") == 1
            body = (await http.get("/metrics", params={"format": "json"})).json()
            assert body["queue"]["n_running"] == 1
            assert body["queue"]["n_pending"] == 0
            assert set(body["queue"]) == {
                "n_pending",
                "n_running",
                "pending_runs_wait_time_max_secs",
                "pending_runs_wait_time_med_secs",
                "pending_unblocked_runs_wait_time_max_secs",
            }
            assert body["workers"]["active"] == 1
            assert (
                body["workers"]["max"] == body["workers"]["active"] + body["workers"]["available"]
            )
            rows = body["api"]["http_requests_total"]
            assert {"method": "POST", "path": "/threads", "status": 200, "count": 1} in rows
            # an unknown format is Prometheus text, as the reference
            text = await http.get("/metrics", params={"format": "xml"})
            assert text.headers["content-type"].startswith("text/plain")
        finally:
            await client.runs.cancel(thread["thread_id"], run["run_id"])
            await joined
        after = await scrape(http)
        assert value(after, "threadloom_open_streams", kind="sse") == 0
        ended = value(after, "threadloom_runs_ended_total", graph_id="slow", status="interrupted")
        assert ended == 1
    await client.http.client.aclose()


async def _drain(stream: Any) -> None:
    async for _ in stream:
        pass


async def test_ok_checks_every_backing_service(server: ServerProcess, shape: str) -> None:
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        checked = (await http.get("/ok", params={"check_db": 1})).json()
        info = (await http.get("/info")).json()
    expected = (
        {"sqlite": "healthy"} if shape == "sqlite" else {"postgres": "healthy", "redis": "healthy"}
    )
    assert checked == {"ok": True, "services": expected}
    flags = info["flags"]
    # the reference's keys, then Threadloom's
    assert {"assistants", "crons", "langsmith", "langsmith_tracing_replicas"} <= set(flags)
    assert flags["metrics"] is True and flags["tracing"] is False
    assert flags["cluster"] is (shape == "postgres")
    assert flags["semantic_search"] is True  # tests/e2e/project has store.index


async def test_metrics_open_under_custom_auth(auth_server: ServerProcess) -> None:
    async with httpx.AsyncClient(base_url=auth_server.url, timeout=30) as http:
        assert (await http.post("/threads/search", json={})).status_code == 401
        response = await http.get("/metrics")
        assert response.status_code == 200
        assert "python_info" in response.text
