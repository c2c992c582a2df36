"""Static API keys: with THREADLOOM_API_KEYS set, every API route needs one."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from langgraph_sdk import get_client
from langgraph_sdk.errors import AuthenticationError

from tests.support.server import TEST_PROJECT, ServerProcess


@pytest.fixture(scope="module")
def keyed_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    db: Path = tmp_path_factory.mktemp("keys") / "threadloom.db"
    proc = ServerProcess(TEST_PROJECT, db, env={"THREADLOOM_API_KEYS": '["k-one", "k-two"]'})
    proc.start()
    yield proc
    proc.stop()


async def test_sdk_with_a_key_works_and_without_is_401(keyed_server: ServerProcess) -> None:
    good = get_client(url=keyed_server.url, api_key="k-two")
    result = await good.runs.wait(
        None, "echo", input={"messages": [{"role": "user", "content": "hi"}]}
    )
    assert result["messages"][-1]["content"] == "echo: hi"

    for key in (None, "wrong"):
        bad = get_client(url=keyed_server.url, api_key=key)
        with pytest.raises(AuthenticationError):
            await bad.assistants.search()


async def test_open_paths_and_header_forms(keyed_server: ServerProcess) -> None:
    async with httpx.AsyncClient(base_url=keyed_server.url) as http:
        assert (await http.get("/ok")).status_code == 200
        assert (await http.get("/openapi.json")).status_code == 200
        denied = await http.post("/threads/search", json={})
        assert denied.status_code == 401 and denied.json()["detail"] == "Missing or invalid API key"
        # MCP and A2A clients need the key too (sent as a header in their config)
        ping = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
        rpc = {"Accept": "application/json, text/event-stream"}
        assert (await http.post("/mcp", json=ping, headers=rpc)).status_code == 401
        keyed = await http.post("/mcp", json=ping, headers={**rpc, "x-api-key": "k-one"})
        assert keyed.json() == {"jsonrpc": "2.0", "id": 1, "result": {}}
        assert (await http.get("/.well-known/agent-card.json?assistant_id=x")).status_code == 401
        for headers in (
            {"x-api-key": "k-one"},
            {"Authorization": "Bearer k-one"},
        ):
            assert (await http.post("/threads/search", json={}, headers=headers)).status_code == 200
        # the key itself is never echoed back
        assert (
            "wrong-key"
            not in (
                await http.post("/threads/search", json={}, headers={"x-api-key": "wrong-key"})
            ).text
        )


async def test_the_dashboard_page_is_open_and_its_data_needs_a_key(
    keyed_server: ServerProcess,
) -> None:
    async with httpx.AsyncClient(base_url=keyed_server.url) as http:
        page = await http.get("/dashboard")
        assert page.status_code == 200 and "text/html" in page.headers["content-type"]
        assert (await http.get("/dashboard/assets/app.js")).status_code == 200
        denied = await http.get("/dashboard/api/overview")
        assert denied.status_code == 401
        assert (await http.get("/dashboard/api/runs")).status_code == 401
        # the page sends the key both ways (Authorization and x-api-key), as the SDKs may
        both = {"Authorization": "Bearer k-one", "X-Api-Key": "k-one"}
        assert (await http.get("/dashboard/api/overview", headers=both)).status_code == 200
        assert (await http.get("/dashboard/api/runs", headers=both)).status_code == 200
