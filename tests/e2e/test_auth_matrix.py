"""Custom auth has no back doors: every route of the app's own route table, three callers.

For each route (`threadloom.app.ROUTERS`, the table the server is built from): an anonymous
caller gets 401; user A on user B's objects gets 404 (the object is missing to A, never a 403
that confirms it exists), or on a route without B's object in its path sees none of B's
objects; B, the owner, succeeds. A route added later without a case here fails
`test_every_route_has_a_case`; one added without the guard fails the matrix.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute

from tests.support.server import ServerProcess
from threadloom.app import ROUTERS

A = {"Authorization": "Bearer token-a"}
B = {"Authorization": "Bearer token-b"}
HI = {"messages": [{"role": "user", "content": "hi"}]}
DAILY = "0 3 * * *"
LONG = {"seconds": 30}  # a slow run that is still going when its cancel arrives
RPC = {"Accept": "application/json, text/event-stream"}  # what MCP and A2A clients send

# health, info and metrics stay open, as the reference,
# and the dashboard's page and assets (they hold no data; its API calls are cases below)
EXEMPT = {
    ("GET", "/"),
    ("GET", "/ok"),
    ("GET", "/info"),
    ("GET", "/metrics"),
    ("GET", "/dashboard"),
    ("GET", "/dashboard/assets/{name}"),
}


@dataclass
class Case:
    body: Any = None
    query: dict[str, Any] = field(default_factory=dict)
    owner: tuple[int, ...] = (200,)
    # what A gets on B's objects: what anyone gets for objects that do not exist
    stranger: tuple[int, ...] = (404,)
    # what B's objects the route needs ("inflight": a run still going, so cancel has one)
    needs: frozenset[str] = frozenset()
    # a route whose path names none of B's objects: A succeeds and sees none of them
    collection: bool = False
    headers: dict[str, str] = field(default_factory=dict)
    # words A's answer must carry (a JSON-RPC route answers 200 with an error object)
    denied: str | None = None
    # what the owner's answer must carry (where a 200 alone says little)
    owner_sees: str | None = None


def _run(assistant: str = "{assistant_id}", **extra: Any) -> dict[str, Any]:
    return {"assistant_id": assistant, "input": HI, **extra}


INFLIGHT = frozenset({"inflight"})
CASES: dict[tuple[str, str], Case] = {
    # thread runs
    ("POST", "/threads/{thread_id}/runs"): Case(_run()),
    ("POST", "/threads/{thread_id}/runs/stream"): Case(_run()),
    ("POST", "/threads/{thread_id}/runs/wait"): Case(_run()),
    ("GET", "/threads/{thread_id}/runs"): Case(),
    ("GET", "/threads/{thread_id}/runs/{run_id}"): Case(),
    ("DELETE", "/threads/{thread_id}/runs/{run_id}"): Case(owner=(204,)),
    ("GET", "/threads/{thread_id}/runs/{run_id}/join"): Case(),
    ("GET", "/threads/{thread_id}/runs/{run_id}/stream"): Case(),
    ("POST", "/threads/{thread_id}/runs/{run_id}/cancel"): Case(owner=(202,), needs=INFLIGHT),
    # stateless runs: B's assistant is B's object
    ("POST", "/runs"): Case(_run()),
    ("POST", "/runs/stream"): Case(_run()),
    ("POST", "/runs/wait"): Case(_run()),
    ("POST", "/runs/batch"): Case([_run()]),
    ("GET", "/runs/{run_id}/stream"): Case(),
    ("POST", "/runs/cancel"): Case(
        {"thread_id": "{thread_id}", "run_ids": ["{run_id}"]}, owner=(204,), needs=INFLIGHT
    ),
    # threads
    ("POST", "/threads"): Case({}, collection=True),
    ("POST", "/threads/search"): Case({"ids": ["{thread_id}"]}, collection=True),
    ("POST", "/threads/count"): Case({}, collection=True),
    ("POST", "/threads/prune"): Case(
        {"thread_ids": ["{thread_id}"], "strategy": "keep_latest"}, collection=True
    ),
    ("GET", "/threads/{thread_id}"): Case(),
    ("PATCH", "/threads/{thread_id}"): Case({"metadata": {"k": 1}}),
    ("DELETE", "/threads/{thread_id}"): Case(owner=(204,)),
    ("POST", "/threads/{thread_id}/copy"): Case(),
    ("GET", "/threads/{thread_id}/state"): Case(),
    ("POST", "/threads/{thread_id}/state"): Case({"values": HI}),
    ("POST", "/threads/{thread_id}/state/checkpoint"): Case(
        {"checkpoint": {"checkpoint_id": "{checkpoint_id}"}}
    ),
    ("GET", "/threads/{thread_id}/state/{checkpoint_id}"): Case(),
    ("GET", "/threads/{thread_id}/history"): Case(),
    ("POST", "/threads/{thread_id}/history"): Case({}),
    ("GET", "/threads/{thread_id}/stream"): Case(),
    # the thread protocol: a command's failure is a 200 error envelope (as the reference);
    # test_thread_protocol.py checks that a stranger's command on the thread fails
    ("POST", "/threads/{thread_id}/commands"): Case(
        {"id": 1, "method": "run.start", "params": _run()}, stranger=(200,)
    ),
    ("POST", "/threads/{thread_id}/stream/events"): Case({"channels": ["values"]}),
    # assistants
    ("POST", "/assistants"): Case({"graph_id": "echo"}, collection=True),
    ("POST", "/assistants/search"): Case({}, collection=True),
    ("POST", "/assistants/count"): Case({}, collection=True),
    ("GET", "/assistants/{assistant_id}"): Case(),
    ("PATCH", "/assistants/{assistant_id}"): Case({"metadata": {"k": 1}}),
    ("DELETE", "/assistants/{assistant_id}"): Case(owner=(204,)),
    ("GET", "/assistants/{assistant_id}/graph"): Case(),
    ("GET", "/assistants/{assistant_id}/schemas"): Case(),
    ("GET", "/assistants/{assistant_id}/subgraphs"): Case(),
    ("GET", "/assistants/{assistant_id}/subgraphs/{namespace}"): Case(),
    ("POST", "/assistants/{assistant_id}/versions"): Case({}),
    ("POST", "/assistants/{assistant_id}/latest"): Case({"version": 1}),
    # Letta
    ("GET", "/v1/runs/"): Case(collection=True),
    ("GET", "/v1/runs"): Case(collection=True),
    ("GET", "/v1/runs/active"): Case(collection=True),
    ("GET", "/v1/runs/{run_id}"): Case(),
    ("GET", "/v1/runs/{run_id}/usage"): Case(),
    ("GET", "/v1/runs/{run_id}/steps"): Case(),
    ("GET", "/v1/runs/{run_id}/messages"): Case(),
    ("POST", "/v1/runs/{run_id}/stream"): Case({}, needs=INFLIGHT),
    ("POST", "/v1/agents/{agent_id}/messages"): Case(
        {"messages": [{"role": "user", "content": "hi"}]}
    ),
    ("POST", "/v1/agents/{agent_id}/messages/stream"): Case(
        {"messages": [{"role": "user", "content": "hi"}]}
    ),
    ("POST", "/v1/agents/{agent_id}/messages/async"): Case(
        {"messages": [{"role": "user", "content": "hi"}]}
    ),
    # (an agent with nothing of the caller's active is a 409, existing or not)
    ("POST", "/v1/agents/{agent_id}/messages/cancel"): Case({}, needs=INFLIGHT, stranger=(409,)),
    # SeekrFlow
    ("POST", "/v1/threads"): Case({}, collection=True),
    ("POST", "/v1/threads/"): Case({}, collection=True),
    ("GET", "/v1/threads"): Case(collection=True),
    ("GET", "/v1/threads/"): Case(collection=True),
    ("GET", "/v1/threads/{thread_id}"): Case(),
    ("DELETE", "/v1/threads/{thread_id}"): Case(),
    ("GET", "/v1/threads/{thread_id}/messages"): Case(),
    ("POST", "/v1/threads/{thread_id}/messages"): Case({"role": "user", "content": "hi"}),
    ("GET", "/v1/threads/{thread_id}/messages/{message_id}"): Case(),
    ("POST", "/v1/threads/{thread_id}/runs"): Case({"agent_id": "{assistant_id}"}),
    ("POST", "/v1/threads/{thread_id}/runs/stream"): Case({"agent_id": "{assistant_id}"}),
    ("POST", "/v1/threads/{thread_id}/runs/stream/vercel"): Case({"agent_id": "{assistant_id}"}),
    ("GET", "/v1/threads/{thread_id}/runs"): Case(),
    ("GET", "/v1/threads/{thread_id}/runs/{run_id}"): Case(),
    ("POST", "/v1/threads/{thread_id}/runs/{run_id}/cancel"): Case(needs=INFLIGHT),
    ("GET", "/v1/threads/{thread_id}/runs/{run_id}/attach"): Case(),
    # crons: B's cron, and crons on B's assistant or thread
    ("POST", "/runs/crons"): Case({"assistant_id": "{assistant_id}", "schedule": DAILY}),
    ("POST", "/threads/{thread_id}/runs/crons"): Case({"assistant_id": "echo", "schedule": DAILY}),
    ("POST", "/runs/crons/search"): Case({}, collection=True),
    ("POST", "/runs/crons/count"): Case({}, collection=True),
    ("GET", "/runs/crons/{cron_id}"): Case(),
    ("PATCH", "/runs/crons/{cron_id}"): Case({"metadata": {"k": 1}}),
    ("DELETE", "/runs/crons/{cron_id}"): Case(owner=(204,)),
    # the store: each user's namespaces are their own (the handler prefixes the caller), so A
    # works in A's and never sees B's item
    ("PUT", "/store/items"): Case(
        {"namespace": ["notes"], "key": "k", "value": {"x": 1}}, owner=(204,), collection=True
    ),
    ("GET", "/store/items"): Case(query={"namespace": "notes", "key": "k"}, collection=True),
    ("DELETE", "/store/items"): Case(
        {"namespace": ["notes"], "key": "k"}, owner=(204,), collection=True
    ),
    ("POST", "/store/items/search"): Case({"namespace_prefix": ["notes"]}, collection=True),
    ("POST", "/store/namespaces"): Case({}, collection=True),
    # the dashboard's own views
    ("GET", "/dashboard/api/overview"): Case(collection=True),
    ("GET", "/dashboard/api/runs"): Case(collection=True),
    ("GET", "/dashboard/api/runs/{run_id}"): Case(),
    ("GET", "/dashboard/api/runs/{run_id}/events"): Case(),
    # MCP: A's tools are A's assistants, never B's (whose name is unique to this world)
    ("POST", "/mcp"): Case(
        {"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
        collection=True,
        headers=RPC,
        owner_sees="{assistant_name}",
    ),
    ("GET", "/mcp"): Case(owner=(405,), stranger=(405,)),
    ("DELETE", "/mcp"): Case(owner=(404,), stranger=(404,)),
    # A2A: B's assistant is B's agent; to A it does not exist
    ("POST", "/a2a/{assistant_id}"): Case(
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "message/send",
            "params": {"message": {"role": "user", "messageId": "m", "parts": [{"text": "hi"}]}},
        },
        headers=RPC,
        stranger=(200,),
        denied="not found",
        owner_sees="echo: hi",
    ),
    ("DELETE", "/a2a/{assistant_id}"): Case(owner=(405,), stranger=(405,)),
    ("GET", "/a2a/{assistant_id}"): Case(
        stranger=(400,), denied="not found", owner_sees="{assistant_name}"
    ),
    ("GET", "/a2a/{assistant_id}/.well-known/agent-card.json"): Case(
        stranger=(400,), denied="not found", owner_sees="{assistant_name}"
    ),
    ("GET", "/a2a/{assistant_id}/.well-known/agent.json"): Case(
        stranger=(400,), denied="not found", owner_sees="{assistant_name}"
    ),
    ("GET", "/.well-known/agent-card.json"): Case(
        query={"assistant_id": "{assistant_id}"},
        stranger=(400,),
        denied="not found",
        owner_sees="{assistant_name}",
    ),
}


def app_routes() -> list[tuple[str, str]]:
    """(method, path) of every route the server is built from."""
    found = set()
    for router in ROUTERS:
        for route in router.routes:
            if isinstance(route, APIRoute):
                found.update((m, route.path) for m in route.methods if m != "HEAD")
    return sorted(found, key=lambda r: (r[1], r[0]))


ROUTES = [r for r in app_routes() if r not in EXEMPT]


def test_every_route_has_a_case() -> None:
    missing = [f"{m} {p}" for m, p in ROUTES if (m, p) not in CASES]
    assert not missing, f"routes without an auth matrix case (add them to CASES): {missing}"
    stale = [f"{m} {p}" for m, p in CASES if (m, p) not in ROUTES]
    assert not stale, f"CASES for routes that no longer exist: {stale}"


@dataclass
class World:
    """User B's objects: a thread with a finished run, its checkpoint and message, an
    assistant, and (when a case needs it) a run still going."""

    ids: dict[str, str]

    def fill(self, value: Any) -> Any:
        if isinstance(value, str):
            for key, v in self.ids.items():
                value = value.replace("{" + key + "}", v)
            return value
        if isinstance(value, list):
            return [self.fill(v) for v in value]
        if isinstance(value, dict):
            return {k: self.fill(v) for k, v in value.items()}
        return value


async def _world(http: httpx.AsyncClient, needs: frozenset[str]) -> World:
    name = f"bobs-agent-{uuid.uuid4().hex[:12]}"
    assistant = (
        await http.post("/assistants", json={"graph_id": "echo", "name": name}, headers=B)
    ).json()
    thread = (await http.post("/threads", json={}, headers=B)).json()
    tid = thread["thread_id"]
    done = await http.post(
        f"/threads/{tid}/runs/wait", json={"assistant_id": "echo", "input": HI}, headers=B
    )
    assert done.status_code == 200, done.text
    runs = (await http.get(f"/threads/{tid}/runs", headers=B)).json()
    run_id = runs[0]["run_id"]
    history = (await http.get(f"/threads/{tid}/history", headers=B)).json()
    state = (await http.get(f"/threads/{tid}/state", headers=B)).json()
    ids = {
        "thread_id": tid,
        "run_id": run_id,
        "assistant_id": assistant["assistant_id"],
        "assistant_name": name,
        "agent_id": assistant["assistant_id"],
        "checkpoint_id": history[0]["checkpoint"]["checkpoint_id"],
        "message_id": state["values"]["messages"][-1]["id"],
        "namespace": "none",
        "secret": f"secret-{uuid.uuid4()}",
    }
    cron = await http.post(
        "/runs/crons", json={"assistant_id": "echo", "schedule": DAILY}, headers=B
    )
    assert cron.status_code == 200, cron.text
    ids["cron_id"] = cron.json()["cron_id"]
    memory = {"namespace": ["notes"], "key": "k", "value": {"secret": ids["secret"]}}
    put = await http.put("/store/items", json=memory, headers=B)
    assert put.status_code == 204, put.text
    if "inflight" in needs:
        slow = (await http.post("/assistants", json={"graph_id": "slow"}, headers=B)).json()
        ids["agent_id"] = slow["assistant_id"]
        run = await http.post(
            f"/threads/{tid}/runs",
            json={"assistant_id": slow["assistant_id"], "input": LONG, "background": True},
            headers=B,
        )
        assert run.status_code == 200, run.text
        ids["run_id"] = run.json()["run_id"]
    return World(ids)


@pytest.fixture
async def auth_http(auth_server: ServerProcess) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=auth_server.url, timeout=60) as c:
        yield c


async def _call(
    http: httpx.AsyncClient, method: str, path: str, case: Case, world: World, headers: Any
) -> tuple[int, str]:
    """Status and body; an event stream is read only as far as its status (some never end)."""
    kwargs: dict[str, Any] = {
        "headers": {**case.headers, **headers},
        "params": world.fill(case.query),
    }
    if case.body is not None:
        kwargs["json"] = world.fill(case.body)
    async with http.stream(method, world.fill(path), **kwargs) as response:
        if response.headers.get("content-type", "").startswith("text/event-stream"):
            return response.status_code, ""
        await response.aread()
        return response.status_code, response.text


@pytest.mark.parametrize(("method", "path"), ROUTES, ids=[f"{m} {p}" for m, p in ROUTES])
async def test_route_is_guarded(auth_http: httpx.AsyncClient, method: str, path: str) -> None:
    case = CASES[(method, path)]
    world = await _world(auth_http, case.needs)

    anonymous, _ = await _call(auth_http, method, path, case, world, {})
    assert anonymous == 401, f"{method} {path}: anonymous got {anonymous}"

    status, text = await _call(auth_http, method, path, case, world, A)
    if case.collection:
        assert status < 300, f"{method} {path}: A got {status} {text}"
        for key in ("thread_id", "run_id", "assistant_id", "assistant_name", "secret", "cron_id"):
            assert world.ids[key] not in text, f"{method} {path}: A saw B's {key}: {text}"
        if path == "/threads/prune":
            assert '"pruned_count":0' in text.replace(" ", "")
    else:
        assert status in case.stranger, f"{method} {path}: A on B's objects got {status} {text}"
        if case.denied:
            assert case.denied in text, f"{method} {path}: A on B's objects got {text}"

    status, text = await _call(auth_http, method, path, case, world, B)
    assert status in case.owner, f"{method} {path}: the owner got {status} {text}"
    if case.owner_sees:
        assert world.fill(case.owner_sees) in text, f"{method} {path}: the owner got {text}"
