"""langgraph.json `http`: a user's app beside the API, mount prefix, disabled route groups,
configurable headers, CORS and the request body limit, each against a real server started on a
small project (tests/e2e/http_project), compared with what `langgraph dev` answers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from langgraph_sdk import get_client
from langgraph_sdk.errors import NotFoundError

from tests.support.cluster import ClusterBackends
from tests.support.server import ROOT, ServerProcess
from threadloom.graphs.registry import system_assistant_id

PROJECT = ROOT / "tests" / "e2e" / "http_project"
MESSAGE = {"messages": [{"role": "user", "content": "hi"}]}


def _server(
    name: str, tmp: Path, shape: str = "sqlite", env: dict[str, str] | None = None
) -> tuple[ServerProcess, ClusterBackends | None]:
    if shape == "postgres":
        backends = ClusterBackends.create()
        env = {**backends.env(fast_leases=False), **(env or {})}
        return ServerProcess(PROJECT / f"{name}.json", tmp / "t.db", command="serve", env=env), (
            backends
        )
    return ServerProcess(PROJECT / f"{name}.json", tmp / "t.db", env=env), None


def _started(
    name: str, tmp: Path, shape: str = "sqlite", env: dict[str, str] | None = None
) -> Iterator[ServerProcess]:
    proc, backends = _server(name, tmp, shape, env)
    try:
        proc.start()
        yield proc
    finally:
        proc.stop()
        if backends is not None:
            backends.cleanup()


@pytest.fixture(scope="module")
def app_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    yield from _started(
        "app", tmp_path_factory.mktemp("http-app"), env={"THREADLOOM_MAX_BODY_BYTES": "4096"}
    )


@pytest.fixture(scope="module")
def prefix_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    # middleware_order auth_first, with static keys standing for the auth
    yield from _started(
        "prefix", tmp_path_factory.mktemp("http-prefix"), env={"THREADLOOM_API_KEYS": '["k1"]'}
    )


@pytest.fixture(scope="module")
def disabled_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    yield from _started("disabled", tmp_path_factory.mktemp("http-disabled"))


@pytest.fixture(scope="module")
def runs_off_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    yield from _started("runs_off", tmp_path_factory.mktemp("http-runs-off"))


@pytest.fixture
async def app_http(app_server: ServerProcess) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=app_server.url, timeout=30) as c:
        yield c


# --- http.app ---------------------------------------------------------------------------------


async def test_custom_routes_are_served_with_the_users_lifespan_state_and_middleware(
    app_http: httpx.AsyncClient,
) -> None:
    r = await app_http.get("/custom/hello")
    assert r.status_code == 200
    assert r.json() == {
        "hello": "world",
        "lifespan_ran": True,
        "made_at_import": "yes",
        "root_path": "",
    }
    # the user's middleware wraps every route, the API's too (the reference's default order)
    assert r.headers["x-custom-middleware"] == "seen"
    assert (await app_http.post("/threads/search", json={})).headers[
        "x-custom-middleware"
    ] == "seen"
    assert (await app_http.get("/no/such/route")).status_code == 404
    # a custom route's body is the user's: no JSON content type forced on it
    sized = await app_http.post(
        "/custom/size",
        content=b"a=1&b=2",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert sized.json() == {"size": 7}


async def test_custom_routes_win_over_the_api_but_not_over_health_and_docs(
    app_server: ServerProcess, app_http: httpx.AsyncClient
) -> None:
    assert (await app_http.get("/info")).json() == {"custom": "info"}
    assert (await app_http.get("/assistants/custom-shadow")).json() == {"custom": "assistant"}
    # the run-creating fast path does not take a request the user's route answers
    assert (await app_http.post("/runs/wait", json={"assistant_id": "echo"})).json() == {
        "custom": "wait"
    }
    assert (await app_http.get("/ok")).json() == {"ok": True}
    spec = (await app_http.get("/openapi.json")).json()
    assert "/custom/hello" in spec["paths"] and "/threads/search" in spec["paths"]
    # the rest of the API is there, through the SDK
    client = get_client(url=app_server.url, api_key=None)
    thread = await client.threads.create()
    chunks = [c async for c in client.runs.stream(thread["thread_id"], "echo", input=MESSAGE)]
    assert chunks[-1].data["messages"][-1]["content"] == "echo: hi"
    result = await client.runs.wait(thread["thread_id"], "echo", input=MESSAGE)
    assert result["messages"][-1]["content"] == "echo: hi"


# --- mount_prefix, middleware_order ------------------------------------------------------------


async def test_the_store_item_routes_answer_under_a_mount_prefix(tmp_path: Path) -> None:
    """No user app: the store's fast path (api/store_fast_path.py) serves these, by the path
    inside the prefix."""
    for proc in _started("plain_prefix", tmp_path):
        client = get_client(url=f"{proc.url}/mem")
        try:
            await client.store.put_item(["p"], "k", {"v": 1})
            assert (await client.store.get_item(["p"], "k"))["value"] == {"v": 1}
            found = (await client.store.search_items(["p"]))["items"]
            assert [i["key"] for i in found] == ["k"]
            await client.store.delete_item(["p"], "k")
            assert await client.store.get_item(["p"], "k") is None
        finally:
            await client.http.client.aclose()


async def test_mount_prefix_serves_the_api_under_it_and_health_at_the_root(
    prefix_server: ServerProcess,
) -> None:
    keys = {"x-api-key": "k1"}
    client = get_client(url=f"{prefix_server.url}/api", api_key="k1")
    thread = await client.threads.create()
    result = await client.runs.wait(thread["thread_id"], "echo", input=MESSAGE)
    assert result["messages"][-1]["content"] == "echo: hi"
    assert (await client.assistants.search(graph_id="echo"))[0]["graph_id"] == "echo"
    async with httpx.AsyncClient(base_url=prefix_server.url, headers=keys) as http:
        for path in ("/ok", "/", "/api/ok", "/api/"):
            assert (await http.get(path)).json() == {"ok": True}, path
        for path in ("/threads/search", "/runs/wait", "/apix/threads/search"):
            r = await http.post(path, json={"assistant_id": "echo"})
            assert (r.status_code, r.json()) == (404, {"detail": "Not Found"}), path
        assert (await http.get("/info")).status_code == 404
        hello = (await http.get("/api/custom/hello")).json()
        assert hello["root_path"] == "/api" and hello["lifespan_ran"] is True
        assert (await http.post("/api/runs/wait", json={})).json() == {"custom": "wait"}
        assert (await http.get("/api/openapi.json")).json()["servers"] == [{"url": "/api"}]
        # the agent card names the A2A endpoint under the prefix
        echo = system_assistant_id("echo")
        for path in (
            f"/api/a2a/{echo}/.well-known/agent-card.json",
            f"/api/.well-known/agent-card.json?assistant_id={echo}",
        ):
            card = (await http.get(path)).json()
            assert card["url"] == f"{prefix_server.url}/api/a2a/{echo}", path


async def test_auth_first_runs_the_users_middleware_after_authentication(
    prefix_server: ServerProcess,
) -> None:
    async with httpx.AsyncClient(base_url=f"{prefix_server.url}/api") as http:
        refused = await http.post("/threads/search", json={})
        assert refused.status_code == 401 and "x-custom-middleware" not in refused.headers
        # static keys guard the user's routes too
        assert (await http.get("/custom/hello")).status_code == 401
        allowed = await http.post("/threads/search", json={}, headers={"x-api-key": "k1"})
        assert allowed.status_code == 200 and allowed.headers["x-custom-middleware"] == "seen"
        # the fast path does not skip the user's middleware
        created = await http.post(
            "/runs/stream",
            json={"assistant_id": "echo", "input": MESSAGE},
            headers={"x-api-key": "k1"},
        )
        assert created.status_code == 200 and created.headers["x-custom-middleware"] == "seen"


# --- disable_* ----------------------------------------------------------------------------------


async def test_disabled_groups_are_gone_and_the_rest_stays(disabled_server: ServerProcess) -> None:
    client = get_client(url=disabled_server.url, api_key=None)
    with pytest.raises(NotFoundError):
        await client.assistants.search()
    thread = await client.threads.create()  # threads and runs are still there
    result = await client.runs.wait(thread["thread_id"], "echo", input=MESSAGE)
    assert result["messages"][-1]["content"] == "echo: hi"
    async with httpx.AsyncClient(base_url=disabled_server.url) as http:
        # disable_meta: docs, /info and / go; /ok stays so an operator sees the server is up
        for path in ("/", "/info", "/docs", "/openapi.json"):
            assert (await http.get(path)).status_code == 404, path
        assert (await http.get("/ok")).json() == {"ok": True}
        # disable_mcp, disable_a2a: the endpoints and the agent cards go
        echo = system_assistant_id("echo")
        ping = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
        rpc = {"Accept": "application/json, text/event-stream"}
        assert (await http.post("/mcp", json=ping, headers=rpc)).status_code == 404
        assert (await http.post(f"/a2a/{echo}", json=ping, headers=rpc)).status_code == 404
        for path in (
            f"/a2a/{echo}/.well-known/agent-card.json",
            f"/.well-known/agent-card.json?assistant_id={echo}",
        ):
            assert (await http.get(path)).status_code == 404, path


async def test_disable_runs_and_threads_close_every_way_to_them(
    runs_off_server: ServerProcess,
) -> None:
    client = get_client(url=runs_off_server.url, api_key=None)
    assert await client.assistants.search(graph_id="echo")
    for call in (
        lambda: client.threads.create(),
        lambda: client.threads.search(),
        lambda: client.runs.wait(None, "echo", input=MESSAGE),
        lambda: client.runs.list("00000000-0000-0000-0000-000000000000"),
    ):
        # the SDK raises NotFoundError, or httpx's error for /wait
        with pytest.raises((NotFoundError, httpx.HTTPStatusError)) as caught:
            await call()
        assert "404" in str(caught.value) or isinstance(caught.value, NotFoundError)
    async with httpx.AsyncClient(base_url=runs_off_server.url) as http:
        for method, path in (
            ("POST", "/runs/stream"),
            ("POST", "/runs/batch"),
            ("POST", "/v1/agents/echo/messages"),
            ("GET", "/v1/runs"),
            ("POST", "/v1/threads"),
            # the thread protocol starts runs too; its commands' fast path is gone with it
            ("POST", "/threads/00000000-0000-0000-0000-000000000000/commands"),
        ):
            r = await http.request(method, path, json={"assistant_id": "echo"})
            assert (r.status_code, r.json()) == (404, {"detail": "Not Found"}), path
        spec = (await http.get("/openapi.json")).json()
        assert not [p for p in spec["paths"] if p.startswith(("/threads", "/runs"))]


async def test_disable_webhooks_drops_the_field_from_the_document(
    disabled_server: ServerProcess,
) -> None:
    # webhook URLs are still validated (as the reference), but never called: no field offered
    async with httpx.AsyncClient(base_url=disabled_server.url) as http:
        r = await http.post(
            "/runs/wait", json={"assistant_id": "echo", "input": MESSAGE, "webhook": "nope"}
        )
        assert r.status_code == 422


# --- configurable_headers -----------------------------------------------------------------------


async def test_configurable_headers_includes_and_excludes(disabled_server: ServerProcess) -> None:
    headers = {
        "x-custom": "a",
        "X-Secret-Token": "s",
        "authorization": "Bearer z",
        "accept-language": "fr",
        "x-request-id": "req-1",
    }
    client = get_client(url=disabled_server.url, api_key=None, headers=headers)
    seen = (await client.runs.wait(None, "headers", input={}))["seen"]
    seen.pop("checkpoint_ns", None)
    assert seen.pop("user-agent").startswith("langgraph-sdk-py")  # the SDK sets its own
    assert seen == {"x-custom": "a", "x-request-id": "req-1"}
    thread = await client.threads.create()  # the FastAPI-served routes apply the same rule
    run = await client.runs.create(thread["thread_id"], "headers", input={})
    await client.runs.join(thread["thread_id"], run["run_id"])
    stored = await client.runs.get(thread["thread_id"], run["run_id"])
    configurable = stored["kwargs"]["config"]["configurable"]
    assert configurable["x-custom"] == "a" and "x-secret-token" not in configurable
    assert "x-api-key" not in configurable and "authorization" not in configurable


# --- CORS -----------------------------------------------------------------------------------------

PREFLIGHT = {
    "access-control-request-method": "POST",
    "access-control-request-headers": "content-type,x-api-key",
}


async def test_default_cors_lets_a_browser_page_read_pagination_but_not_a_null_origin(
    app_http: httpx.AsyncClient,
) -> None:
    page = "https://app.example"
    pre = await app_http.options("/threads/search", headers={"origin": page, **PREFLIGHT})
    assert pre.status_code == 200 and pre.headers["access-control-allow-origin"] == "*"
    assert pre.headers["access-control-allow-headers"] == "content-type,x-api-key"
    r = await app_http.post("/threads/search", json={}, headers={"origin": page})
    assert r.headers["access-control-allow-origin"] == "*"
    exposed = r.headers["access-control-expose-headers"].split(", ")
    assert {"x-pagination-total", "x-pagination-next", "content-location"} <= set(exposed)
    # sandboxed frames and file: pages send `Origin: null`: not allowed by the default policy
    pre = await app_http.options("/threads/search", headers={"origin": "null", **PREFLIGHT})
    assert pre.status_code == 400 and "access-control-allow-origin" not in pre.headers
    r = await app_http.post("/threads/search", json={}, headers={"origin": "null"})
    assert "access-control-allow-origin" not in r.headers


async def test_http_cors_replaces_the_defaults(disabled_server: ServerProcess) -> None:
    async with httpx.AsyncClient(base_url=disabled_server.url) as http:
        ok = await http.options(
            "/threads/search", headers={"origin": "https://app.example", **PREFLIGHT}
        )
        assert ok.status_code == 200
        assert ok.headers["access-control-allow-origin"] == "https://app.example"
        assert ok.headers["access-control-allow-methods"] == "GET, POST"
        assert ok.headers["access-control-max-age"] == "60"
        other = await http.options(
            "/threads/search", headers={"origin": "https://evil.example", **PREFLIGHT}
        )
        assert other.status_code == 400
        r = await http.post("/threads/search", json={}, headers={"origin": "https://app.example"})
        assert r.headers["access-control-expose-headers"] == "x-pagination-total"


# --- request body limit ---------------------------------------------------------------------------


async def _chunked(size: int) -> AsyncIterator[bytes]:
    yield b'{"metadata": {"pad": "'
    for _ in range(size // 1024):
        yield b"x" * 1024
    yield b'"}}'


@pytest.mark.parametrize(
    "path",
    [
        "/threads",
        "/threads/search",
        "/threads/00000000-0000-0000-0000-000000000000/runs/wait",  # the fast path
        "/runs/stream",
        "/custom/size",  # the user's app's route
    ],
)
async def test_chunked_bodies_past_the_limit_are_413(
    app_http: httpx.AsyncClient, path: str
) -> None:
    # no Content-Length: the body arrives in chunks and is refused once past 4096 bytes
    r = await app_http.post(path, content=_chunked(64 * 1024))
    assert r.status_code == 413
    assert r.json() == {"detail": "Request body too large (limit: 4096 bytes)"}
    sized = await app_http.post(
        path, content=b"x" * 5000, headers={"content-type": "application/json"}
    )
    assert sized.status_code == 413
    small = await app_http.post("/threads", content=_chunked(1024))
    assert small.status_code == 200


async def test_key_behaviour_on_postgres(tmp_path: Path) -> None:
    """The prefix, the user's app and the body limit on the cluster shape (`threadloom serve`)."""
    env = {"THREADLOOM_API_KEYS": '["k1"]', "THREADLOOM_MAX_BODY_BYTES": "4096"}
    for proc in _started("prefix", tmp_path, "postgres", env=env):
        client = get_client(url=f"{proc.url}/api", api_key="k1")
        thread = await client.threads.create()  # (the user's app answers POST /runs/wait)
        result = await client.runs.wait(thread["thread_id"], "echo", input=MESSAGE)
        assert result["messages"][-1]["content"] == "echo: hi"
        async with httpx.AsyncClient(base_url=f"{proc.url}/api", headers={"x-api-key": "k1"}) as h:
            assert (await h.get("/custom/hello")).json()["lifespan_ran"] is True
            assert (await h.post("/threads", content=_chunked(64 * 1024))).status_code == 413
            assert (await h.post("/runs/stream", content=_chunked(64 * 1024))).status_code == 413
