"""Bad input is a 4xx, always: numbers past 64 bits, NaN/Infinity, lone surrogates, NUL
characters, deep nesting, unknown Command keys and history filter keys LangGraph refuses are
422s with a `detail`, on every body-reading route (FastAPI's, the run-creating hot path, the
store, the Letta/SeekrFlow views), and nothing is written."""

from __future__ import annotations

import httpx
import pytest
from langgraph_sdk.client import LangGraphClient
from langgraph_sdk.errors import UnprocessableEntityError

BIG = "1" + "0" * 10000
DEEP = "[" * 900 + "]" * 900


def _cases(tid: str) -> list[tuple[str, str, str]]:
    run = f"/threads/{tid}/runs"
    return [
        ("POST", "/threads/search", '{"offset": ' + str(2**64) + "}"),
        ("POST", "/assistants/search", '{"offset": ' + str(2**64) + "}"),
        ("POST", "/threads/search", '{"offset": ' + BIG + "}"),
        ("POST", run, '{"assistant_id": "echo", "after_seconds": 1e308}'),
        (
            "POST",
            run,
            '{"assistant_id": "echo", "config": {"recursion_limit": ' + str(10**20) + "}}",
        ),
        ("POST", f"{run}/wait", '{"assistant_id": "echo", "input": {"x": ' + BIG + "}}"),
        ("POST", f"{run}/wait", '{"assistant_id": "echo", "command": {"bogus": 1}}'),
        ("POST", f"/threads/{tid}/history", '{"metadata": {"bad key!": 1}}'),
        ("POST", "/threads/search", '{"metadata": {"a\\u0000b": 1}}'),
        ("POST", "/assistants/search", '{"metadata": {"a\\u0000b": 1}}'),
        ("POST", "/threads", '{"metadata": {"x": ' + DEEP + "}}"),
        ("POST", "/threads", '{"metadata": {"x\\ud800": 1}}'),
        ("POST", "/assistants", '{"graph_id": "echo", "name": "\\ud800"}'),
        ("POST", "/threads", '{"metadata": {"x": NaN}}'),
        ("POST", "/threads", '{"metadata": {"x": Infinity}}'),
        ("POST", "/threads", '{"metadata": {"x": -Infinity}}'),
        ("PUT", "/store/items", '{"namespace": ["a"], "key": "k", "value": {"x": NaN}}'),
        ("PUT", "/store/items", '{"namespace": ["a"], "key": "k\\ud800", "value": {}}'),
        ("POST", "/threads", '{"ttl": {"strategy": "delete", "ttl": 8.4e307}}'),
        ("PATCH", f"/threads/{tid}", '{"ttl": {"ttl": 1e300}}'),
        ("PUT", "/store/items", '{"namespace": ["a"], "key": "k", "value": {}, "ttl": 1e300}'),
        ("POST", "/store/items/search", '{"offset": ' + str(2**64) + "}"),
        ("POST", "/runs/wait", '{"assistant_id": "echo", "metadata": {"x": NaN}}'),
        ("POST", "/runs", '{"assistant_id": "echo", "metadata": {"x\\udc00": 1}}'),
        ("POST", f"{run}/stream", '{"assistant_id": "echo", "input": {"x": "a\\u0000"}}'),
        ("POST", "/v1/agents/echo/messages", '{"input": "hi", "max_steps": NaN}'),
        ("POST", f"/v1/threads/{tid}/runs", '{"agent_id": "echo", "x": Infinity}'),
        ("GET", f"{run}?offset={2**64}", ""),
    ]


async def test_bad_bodies_are_422_and_write_nothing(http: httpx.AsyncClient) -> None:
    tid = (await http.post("/threads", json={})).json()["thread_id"]
    threads = (await http.post("/threads/count", json={})).json()
    assistants = (await http.post("/assistants/count", json={})).json()
    items = (await http.post("/store/items/search", json={"namespace_prefix": ["a"]})).json()
    for method, path, body in _cases(tid):
        response = await http.request(
            method, path, content=body, headers={"content-type": "application/json"}
        )
        assert response.status_code == 422, (path, body[:80], response.text[:200])
        detail = response.json()["detail"]
        assert isinstance(detail, str) and detail, (path, body[:80])
    assert (await http.post("/threads/count", json={})).json() == threads
    assert (await http.post("/assistants/count", json={})).json() == assistants
    assert (await http.get(f"/threads/{tid}/runs")).json() == []
    after = (await http.post("/store/items/search", json={"namespace_prefix": ["a"]})).json()
    assert after == items
    assert (await http.get("/ok")).status_code == 200  # the server took none of it badly


async def test_sdk_bad_input_is_unprocessable(client: LangGraphClient) -> None:
    thread = await client.threads.create()
    with pytest.raises(httpx.HTTPStatusError) as waited:  # /wait raises httpx's own error
        await client.runs.wait(thread["thread_id"], "echo", command={"bogus": 1})  # type: ignore[typeddict-unknown-key]
    assert waited.value.response.status_code == 422
    with pytest.raises(UnprocessableEntityError):
        await client.threads.get_history(thread["thread_id"], metadata={"bad key!": 1})
    with pytest.raises(UnprocessableEntityError):
        await client.threads.search(offset=2**63)
    with pytest.raises(UnprocessableEntityError):
        await client.assistants.create("echo", config={"recursion_limit": 2**63})
    with pytest.raises(UnprocessableEntityError):
        await client.runs.create(thread["thread_id"], "echo", after_seconds=1e300)
    assert await client.runs.list(thread["thread_id"]) == []


async def test_largest_offsets_page_past_the_end(http: httpx.AsyncClient) -> None:
    """The largest offset each search accepts (2**63 - 1, or one below it) is an empty page,
    not a count past 64 bits (schemathesis found `GET /v1/threads?offset=2**63-2` a 500)."""
    tid = (await http.post("/threads", json={})).json()["thread_id"]
    top = 2**63 - 1
    for method, path, body in [
        ("GET", f"/v1/threads?offset={top - 1}", None),
        ("GET", f"/v1/threads?offset={top}", None),
        ("GET", f"/v1/threads/{tid}/messages?offset={top}", None),
        ("GET", f"/v1/threads/{tid}/runs?offset={top}", None),
        ("GET", f"/threads/{tid}/runs?offset={top}", None),
        ("POST", "/threads/search", {"offset": top, "limit": 1000}),
        ("POST", "/assistants/search", {"offset": top, "limit": 1000}),
        ("POST", "/runs/crons/search", {"offset": top, "limit": 1000}),
    ]:
        response = await http.request(method, path, json=body)
        assert response.status_code == 200, (path, body, response.text[:200])
        assert response.json() == [], path


async def test_a_run_lists_bad_query_gets_the_routes_422(http: httpx.AsyncClient) -> None:
    """The run list's fast path hands a query it does not take to FastAPI: same 422s."""
    tid = (await http.post("/threads", json={})).json()["thread_id"]
    for query in ("limit=-1", "limit=1001", "status=done", "select=nope", "limit=x"):
        response = await http.get(f"/threads/{tid}/runs?{query}")
        assert response.status_code == 422, (query, response.text[:200])
        assert response.json()["detail"], query
    fine = await http.get(f"/threads/{tid}/runs?limit=5&status=success&select=run_id")
    assert (fine.status_code, fine.json()) == (200, [])
    missing = await http.get("/threads/00000000-0000-0000-0000-000000000000/runs")
    assert missing.status_code == 404 and "not found" in missing.json()["detail"].lower()
