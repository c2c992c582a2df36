"""Custom auth through the official SDK: authentication answers, handler kinds, metadata
stamping, filter operators, the user a graph sees, OpenAPI security schemes and Studio.

The project is tests/e2e/project/langgraph_auth.json (handlers in auth_handlers.py).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from langgraph_sdk import get_client
from langgraph_sdk.client import LangGraphClient

from tests.support.server import ServerProcess


def _client(server: ServerProcess, token: str) -> LangGraphClient:
    return get_client(url=server.url, api_key=None, headers={"Authorization": f"Bearer {token}"})


@pytest.fixture
async def alice(auth_server: ServerProcess) -> AsyncIterator[LangGraphClient]:
    client = _client(auth_server, "token-a")
    yield client
    await client.http.client.aclose()


@pytest.fixture
async def bob(auth_server: ServerProcess) -> AsyncIterator[LangGraphClient]:
    client = _client(auth_server, "token-b")
    yield client
    await client.http.client.aclose()


@pytest.fixture
async def raw(auth_server: ServerProcess) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=auth_server.url, timeout=30) as c:
        yield c


async def test_authenticate_answers(raw: httpx.AsyncClient) -> None:
    """401 keeps the handler's detail and headers; its own 403 stays; a crash is a plain 403."""
    anonymous = await raw.post("/threads/search", json={})
    assert anonymous.status_code == 401
    assert anonymous.json() == {"detail": "no token"}
    assert anonymous.headers["www-authenticate"] == "Bearer"
    bad = await raw.post("/threads/search", json={}, headers={"Authorization": "Bearer nope"})
    assert (bad.status_code, bad.json()) == (401, {"detail": "bad token"})
    forbid = await raw.post("/threads/search", json={}, headers={"Authorization": "forbid"})
    assert (forbid.status_code, forbid.json()) == (403, {"detail": "go away"})
    boom = await raw.post("/threads/search", json={}, headers={"Authorization": "boom"})
    assert boom.status_code == 403
    assert "kaboom" not in boom.text
    # the hot path (run creation) answers the same
    run = await raw.post("/runs/wait", json={"assistant_id": "echo", "input": {}})
    assert (run.status_code, run.json()) == (401, {"detail": "no token"})
    # health and info stay open, as on the reference
    assert (await raw.get("/ok")).status_code == 200
    assert (await raw.get("/info")).status_code == 200


async def test_create_stamps_owner_and_others_get_404(
    alice: LangGraphClient, bob: LangGraphClient
) -> None:
    thread = await alice.threads.create(metadata={"topic": "x"})
    assert thread["metadata"] == {"topic": "x", "owner": "alice"}
    assert (await alice.threads.get(thread["thread_id"]))["thread_id"] == thread["thread_id"]
    with pytest.raises(httpx.HTTPStatusError) as err:
        await bob.threads.get(thread["thread_id"])
    assert err.value.response.status_code == 404
    found = await bob.threads.search(metadata={"topic": "x"})
    assert all(t["metadata"]["owner"] == "bob" for t in found)
    assert thread["thread_id"] not in {t["thread_id"] for t in found}
    # an update by a stranger touches nothing
    with pytest.raises(httpx.HTTPStatusError) as err:
        await bob.threads.update(thread["thread_id"], metadata={"owner": "bob"})
    assert err.value.response.status_code == 404
    assert (await alice.threads.get(thread["thread_id"]))["metadata"]["owner"] == "alice"


async def test_create_run_stamps_the_run_and_its_new_thread(alice: LangGraphClient) -> None:
    run = await alice.runs.create(
        None,
        "echo",
        input={"messages": [{"role": "user", "content": "hi"}]},
        metadata={"m": 1},
        on_completion="keep",
    )
    assert run["metadata"]["owner"] == "alice"
    await alice.runs.join(run["thread_id"], run["run_id"])
    thread = await alice.threads.get(run["thread_id"])
    assert thread["metadata"]["owner"] == "alice"
    assert thread["metadata"]["m"] == 1


async def test_filter_operators(auth_server: ServerProcess, alice: LangGraphClient) -> None:
    """carol's filter is `$or` of her own threads and `$contains` her team."""
    shared = await alice.threads.create(metadata={"teams": ["red", "blue"]})
    private = await alice.threads.create(metadata={"teams": ["blue"]})
    carol = _client(auth_server, "token-c")
    try:
        own = await carol.threads.create()
        seen = {t["thread_id"] for t in await carol.threads.search(limit=1000)}
        assert shared["thread_id"] in seen
        assert own["thread_id"] in seen
        assert private["thread_id"] not in seen
        assert await carol.threads.count() == len(seen)
        assert (await carol.threads.get(shared["thread_id"]))["thread_id"] == shared["thread_id"]
        with pytest.raises(httpx.HTTPStatusError) as err:
            await carol.threads.get(private["thread_id"])
        assert err.value.response.status_code == 404
    finally:
        await carol.http.client.aclose()


async def test_handler_false_is_403(auth_server: ServerProcess) -> None:
    rory = _client(auth_server, "token-r")
    try:
        thread = await rory.threads.create()
        with pytest.raises(httpx.HTTPStatusError) as err:
            await rory.threads.delete(thread["thread_id"])
        assert err.value.response.status_code == 403
        assert (await rory.threads.get(thread["thread_id"]))["thread_id"] == thread["thread_id"]
    finally:
        await rory.http.client.aclose()


async def test_global_handler_decides_what_nothing_else_covers(alice: LangGraphClient) -> None:
    """The project's `@auth.on` denies; `@auth.on.assistants` is more specific and allows."""
    created = await alice.assistants.create(graph_id="echo")
    assert created["metadata"]["owner"] == "alice"
    found = await alice.assistants.search(limit=1000)
    assert created["assistant_id"] in {a["assistant_id"] for a in found}
    assert {a["metadata"].get("owner") for a in found} == {"alice"}  # no system assistants


async def test_graph_sees_the_user(auth_server: ServerProcess, alice: LangGraphClient) -> None:
    result = await alice.runs.wait(None, "whoami", input={})
    assert result["who"] == {
        "user_id": "alice",
        "permissions": ["p1"],
        "identity": "alice",
        "identity_item": "alice",
        "display_name": "alice",
    }
    dora = _client(auth_server, "dict")
    plain = _client(auth_server, "plain")
    try:
        who = (await dora.runs.wait(None, "whoami", input={}))["who"]
        assert (who["identity"], who["display_name"], who["permissions"]) == (
            "dora",
            "Dora",
            ["read"],
        )
        who = (await plain.runs.wait(None, "whoami", input={}))["who"]
        assert (who["user_id"], who["display_name"], who["permissions"]) == ("paul", "paul", [])
    finally:
        await dora.http.client.aclose()
        await plain.http.client.aclose()


async def test_another_users_assistant_cannot_start_a_run(
    alice: LangGraphClient, bob: LangGraphClient
) -> None:
    assistant = await alice.assistants.create(graph_id="echo")
    with pytest.raises(httpx.HTTPStatusError) as err:
        await bob.runs.wait(None, assistant["assistant_id"], input={})
    assert err.value.response.status_code == 404
    # system assistants stay usable by everyone
    assert "messages" in await bob.runs.wait(
        None, "echo", input={"messages": [{"role": "user", "content": "hi"}]}
    )


async def test_openapi_carries_the_security_schemes(raw: httpx.AsyncClient) -> None:
    spec = (await raw.get("/openapi.json")).json()
    assert spec["components"]["securitySchemes"] == {"bearer": {"type": "http", "scheme": "bearer"}}
    assert spec["security"] == [{"bearer": []}]


async def test_studio_requests(shape: str, raw: httpx.AsyncClient) -> None:
    """`threadloom dev` lets Studio in as the Studio user, as `langgraph dev` does; the
    handlers still decide what it sees. `threadloom serve` never trusts the header."""
    studio = {"x-auth-scheme": "langsmith"}
    response = await raw.post(
        "/runs/wait", json={"assistant_id": "whoami", "input": {}}, headers=studio
    )
    if shape == "sqlite":
        assert response.status_code == 200, response.text
        assert response.json()["who"]["user_id"] == "langgraph-studio-user"
        assert (await raw.post("/threads/search", json={}, headers=studio)).json() == []
    else:
        assert response.status_code == 401


async def test_a_store_handler_rewrites_every_namespace(
    alice: LangGraphClient, bob: LangGraphClient
) -> None:
    """`@auth.on.store` prefixes the caller's identity: each user's memory is their own, and
    the same namespace names two users' items apart."""
    notes = f"notes-{uuid.uuid4().hex[:8]}"  # other tests share the server's store
    await alice.store.put_item([notes], "city", {"text": "Lisbon"})
    await bob.store.put_item([notes], "city", {"text": "Porto"})
    mine = await alice.store.get_item([notes], "city")
    assert mine is not None and mine["value"] == {"text": "Lisbon"}
    assert mine["namespace"] == ["alice", notes]
    found = await bob.store.search_items([notes])
    assert [item["value"] for item in found["items"]] == [{"text": "Porto"}]
    spaces = await alice.store.list_namespaces()
    assert ["alice", notes] in spaces["namespaces"]
    assert all(ns[0] == "alice" for ns in spaces["namespaces"])
    await bob.store.delete_item([notes], "city")
    again = await alice.store.get_item([notes], "city")
    assert again is not None  # bob deleted his own item only
    assert await bob.store.get_item([notes], "city") is None


async def test_cron_runs_as_its_creator(alice: LangGraphClient, bob: LangGraphClient) -> None:
    """A cron's firing is created as the user who created the cron: their `create_run`
    handler stamps the run, the graph sees them, and the cron is theirs alone."""
    thread = await alice.threads.create()
    tid = thread["thread_id"]
    cron = await alice.crons.create_for_thread(
        tid,
        "echo",
        schedule="* * * * * *",
        input={"messages": [{"role": "user", "content": "hi"}]},
    )
    assert cron["user_id"] == "alice"
    assert cron["metadata"]["owner"] == "alice"
    assert all(c["cron_id"] != cron["cron_id"] for c in await bob.crons.search())
    deadline = time.monotonic() + 30
    runs: list[Any] = []
    while not runs and time.monotonic() < deadline:
        runs = [r for r in await alice.runs.list(tid) if r["status"] == "success"]
        await asyncio.sleep(0.2)
    await alice.crons.delete(cron["cron_id"])
    assert runs, "the cron never fired"
    assert runs[0]["metadata"]["owner"] == "alice"
    assert runs[0]["kwargs"]["config"]["configurable"]["langgraph_auth_user_id"] == "alice"
