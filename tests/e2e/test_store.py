"""The Store API (long-term memory) through the official SDK's `client.store.*`, both shapes:
item fields, updates, search and namespaces, what nodes see, semantic ranking with the offline
model (the test project's `store.index`), TTL expiry and refresh, and a table of bad inputs."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import httpx
import pytest
from langgraph_sdk.client import LangGraphClient


def _ns(*labels: str) -> list[str]:
    """A namespace of the test's own (the session's servers are shared)."""
    return ["t" + uuid.uuid4().hex[:12], *labels]


async def _node(client: LangGraphClient, **state: Any) -> Any:
    out = await client.runs.wait(None, "store_memory", input=state)
    assert isinstance(out, dict)
    return out["result"]


async def test_put_get_item_fields_and_missing(client: LangGraphClient) -> None:
    ns = _ns("prefs")
    await client.store.put_item(ns, "color", {"favourite": "green"})
    item = await client.store.get_item(ns, "color")
    assert item is not None
    assert set(item) == {"namespace", "key", "value", "created_at", "updated_at"}
    assert item["namespace"] == ns and item["key"] == "color"
    assert item["value"] == {"favourite": "green"}
    assert item["created_at"].endswith("+00:00") and item["updated_at"].endswith("+00:00")
    assert await client.store.get_item(ns, "nope") is None


async def test_update_keeps_created_at_and_search_lists_newest_first(
    client: LangGraphClient,
) -> None:
    ns = _ns()
    await client.store.put_item(ns, "a", {"n": 1, "kind": "x"})
    first = await client.store.get_item(ns, "a")
    await client.store.put_item(ns, "b", {"n": 2, "kind": "y"})
    await asyncio.sleep(0.01)
    await client.store.put_item(ns, "a", {"n": 3, "kind": "x"})
    again = await client.store.get_item(ns, "a")
    assert first is not None and again is not None
    assert again["created_at"] == first["created_at"]
    assert again["updated_at"] > first["updated_at"] and again["value"] == {"n": 3, "kind": "x"}

    found = await client.store.search_items(ns)
    assert [i["key"] for i in found["items"]] == ["a", "b"]  # newest update first
    assert all(i["score"] is None for i in found["items"])
    assert [
        i["key"] for i in (await client.store.search_items(ns, filter={"kind": "y"}))["items"]
    ] == ["b"]
    gt = await client.store.search_items(ns, filter={"n": {"$gt": 2}})
    assert [i["key"] for i in gt["items"]] == ["a"]
    page = await client.store.search_items(ns, limit=1, offset=1)
    assert [i["key"] for i in page["items"]] == ["b"]


async def test_delete_is_seen_at_once_and_deleting_nothing_is_fine(
    client: LangGraphClient,
) -> None:
    ns = _ns()
    await client.store.put_item(ns, "k", {"v": 1})
    await client.store.delete_item(ns, "k")
    assert await client.store.get_item(ns, "k") is None
    assert await _node(client, op="get", namespace=ns, key="k") is None
    await client.store.delete_item(ns, "never-there")


async def test_list_namespaces(client: LangGraphClient) -> None:
    root = _ns()[0]
    for labels in (("users", "u1", "facts"), ("users", "u2", "facts"), ("users", "u2", "prefs")):
        await client.store.put_item([root, *labels], "k", {"v": 1})
    everything = (await client.store.list_namespaces(prefix=[root]))["namespaces"]
    assert everything == [
        [root, "users", "u1", "facts"],
        [root, "users", "u2", "facts"],
        [root, "users", "u2", "prefs"],
    ]
    facts = await client.store.list_namespaces(prefix=[root], suffix=["facts"])
    assert len(facts["namespaces"]) == 2
    wildcard = await client.store.list_namespaces(prefix=[root, "users", "*", "prefs"])
    assert wildcard["namespaces"] == [[root, "users", "u2", "prefs"]]
    shallow = await client.store.list_namespaces(prefix=[root], max_depth=3)
    assert shallow["namespaces"] == [[root, "users", "u1"], [root, "users", "u2"]]
    paged = await client.store.list_namespaces(prefix=[root], limit=1, offset=1)
    assert paged["namespaces"] == [[root, "users", "u2", "facts"]]


async def test_node_and_http_see_one_store(client: LangGraphClient) -> None:
    ns = _ns("memories")
    await client.store.put_item(ns, "from-http", {"text": "put over HTTP"})
    assert await _node(client, op="get", namespace=ns, key="from-http") == {"text": "put over HTTP"}
    await _node(client, op="put", namespace=ns, key="from-node", value={"text": "a node wrote it"})
    item = await client.store.get_item(ns, "from-node")
    assert item is not None and item["value"] == {"text": "a node wrote it"}


async def test_semantic_search_ranks_with_the_offline_model(client: LangGraphClient) -> None:
    ns = _ns("facts")
    facts = {
        "home": "I live in Lisbon",
        "food": "My favourite food is sushi",
        "job": "I work as a nurse at the hospital",
        "pet": "The dog is called Rex",
    }
    for key, text in facts.items():
        await client.store.put_item(ns, key, {"text": text, "kind": "fact"})
    await client.store.put_item(ns, "hidden", {"text": "I live in Lisbon too"}, index=False)

    found = (await client.store.search_items(ns, query="where does the user live?"))["items"]
    assert found[0]["key"] == "home"
    assert "hidden" not in [i["key"] for i in found]  # index=False: never matched by a query
    scores = [i["score"] for i in found]
    assert all(isinstance(s, float) for s in scores) and scores == sorted(scores, reverse=True)
    pet = await client.store.search_items(ns, query="what is the pet's name", limit=1)
    assert [i["key"] for i in pet["items"]] == ["pet"]
    filtered = await client.store.search_items(
        ns, query="where does the user live?", filter={"kind": "nope"}
    )
    assert filtered["items"] == []
    # a node's search goes through the same index
    assert (await _node(client, op="search", namespace=ns, query="which city is home"))[0] == "home"


async def _gone(client: LangGraphClient, ns: list[str], key: str, within: float) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if await client.store.get_item(ns, key, refresh_ttl=False) is None:
            return True
        await asyncio.sleep(0.2)
    return False


async def test_ttl_expiry_is_never_returned(client: LangGraphClient) -> None:
    ns = _ns()
    await client.store.put_item(ns, "short", {"v": 1}, ttl=1 / 60)  # one second
    await client.store.put_item(ns, "kept", {"v": 2})
    assert await _gone(client, ns, "short", within=15)
    assert [i["key"] for i in (await client.store.search_items(ns))["items"]] == ["kept"]
    await client.store.delete_item(ns, "kept")
    assert (await client.store.list_namespaces(prefix=ns))["namespaces"] == []


async def test_ttl_refreshes_on_read(client: LangGraphClient) -> None:
    ns = _ns()
    await client.store.put_item(ns, "k", {"v": 1}, ttl=0.1)  # six seconds
    for _ in range(9):  # reads every second for longer than the TTL keep it alive
        assert await client.store.get_item(ns, "k") is not None
        await asyncio.sleep(1)
    assert await _gone(client, ns, "k", within=20)


BAD_INPUTS: list[tuple[str, str, str, Any, int]] = [
    ("empty label", "PUT", "/store/items", {"namespace": ["a", ""], "key": "k", "value": {}}, 422),
    ("label with dot", "PUT", "/store/items", {"namespace": ["a.b"], "key": "k", "value": {}}, 422),
    ("empty namespace", "PUT", "/store/items", {"namespace": [], "key": "k", "value": {}}, 400),
    (
        "langgraph root",
        "PUT",
        "/store/items",
        {"namespace": ["langgraph"], "key": "k", "value": {}},
        400,
    ),
    (
        "value not object",
        "PUT",
        "/store/items",
        {"namespace": ["a"], "key": "k", "value": [1]},
        422,
    ),
    ("value null", "PUT", "/store/items", {"namespace": ["a"], "key": "k", "value": None}, 422),
    ("missing key", "PUT", "/store/items", {"namespace": ["a"], "value": {}}, 422),
    ("key not string", "PUT", "/store/items", {"namespace": ["a"], "key": 1, "value": {}}, 422),
    (
        "index true",
        "PUT",
        "/store/items",
        {"namespace": ["a"], "key": "k", "value": {}, "index": True},
        422,
    ),
    (
        "negative ttl",
        "PUT",
        "/store/items",
        {"namespace": ["a"], "key": "k", "value": {}, "ttl": -1},
        422,
    ),
    (
        "huge ttl",
        "PUT",
        "/store/items",
        {"namespace": ["a"], "key": "k", "value": {}, "ttl": 1e300},
        422,
    ),
    ("get without key", "GET", "/store/items?namespace=a", None, 400),
    ("get empty label", "GET", "/store/items?namespace=a..b&key=k", None, 422),
    (
        "search negative limit",
        "POST",
        "/store/items/search",
        {"namespace_prefix": ["a"], "limit": -1},
        422,
    ),
    (
        "search huge limit",
        "POST",
        "/store/items/search",
        {"namespace_prefix": ["a"], "limit": 10**12},
        422,
    ),
    (
        "search negative offset",
        "POST",
        "/store/items/search",
        {"namespace_prefix": ["a"], "offset": -1},
        422,
    ),
    (
        "search bad operator",
        "POST",
        "/store/items/search",
        {"namespace_prefix": ["a"], "filter": {"n": {"$foo": 1}}},
        422,
    ),
    (
        "search bad filter key",
        "POST",
        "/store/items/search",
        {"namespace_prefix": ["a"], "filter": {"a'b": 1}},
        422,
    ),
    ("namespaces negative limit", "POST", "/store/namespaces", {"limit": -1}, 422),
    ("namespaces zero depth", "POST", "/store/namespaces", {"max_depth": 0}, 422),
    ("delete without key", "DELETE", "/store/items", {"namespace": ["a"]}, 422),
    ("delete label with dot", "DELETE", "/store/items", {"namespace": ["a.b"], "key": "k"}, 422),
]


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [pytest.param(*case[1:], id=case[0]) for case in BAD_INPUTS],
)
async def test_bad_input_is_4xx_with_detail_and_writes_nothing(
    http: httpx.AsyncClient, method: str, path: str, body: Any, status: int
) -> None:
    before = (await http.post("/store/namespaces", json={"prefix": ["a"]})).json()
    r = (
        await http.request(method, path, json=body)
        if body is not None
        else await http.request(method, path)
    )
    assert r.status_code == status, r.text
    assert isinstance(r.json()["detail"], str) and r.json()["detail"]
    assert (await http.post("/store/namespaces", json={"prefix": ["a"]})).json() == before


async def test_example_memory_agent_recalls_a_fact_in_a_later_thread(
    client: LangGraphClient,
) -> None:
    user = {"configurable": {"user_id": "u-" + uuid.uuid4().hex[:8]}}

    async def say(text: str) -> str:
        thread = await client.threads.create()  # a new conversation every time
        out = await client.runs.wait(
            thread["thread_id"],
            "example_memory",
            input={"messages": [{"role": "user", "content": text}]},
            config=user,
        )
        assert isinstance(out, dict)
        return str(out["messages"][-1]["content"])

    assert await say("I live in Lisbon") == "Noted: I live in Lisbon"
    assert await say("My favourite food is sushi") == "Noted: My favourite food is sushi"
    assert await say("Where do I live?") == "You told me: I live in Lisbon"
    ns = ["memories", user["configurable"]["user_id"]]
    memories = (await client.store.search_items(ns, query="city"))["items"]
    assert {m["value"]["text"] for m in memories} == {
        "I live in Lisbon",
        "My favourite food is sushi",
    }


async def test_the_readme_memory_demo_runs(client: LangGraphClient) -> None:
    from examples.memory.demo import demo

    lines = await demo(client, graph="example_memory")
    assert lines[2] == "user: Where do I live?\nagent: You told me: I live in Lisbon"
    assert lines[3].startswith("store: 'I live in Lisbon'")
