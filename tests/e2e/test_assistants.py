"""Assistants API through the official SDK and raw HTTP."""

from __future__ import annotations

import uuid

import httpx
import pytest
from langgraph_sdk.client import LangGraphClient
from langgraph_sdk.errors import ConflictError, NotFoundError

NAMESPACE = uuid.UUID("6ba7b821-9dad-11d1-80b4-00c04fd430c8")


async def test_system_assistant_per_graph(client: LangGraphClient) -> None:
    found = await client.assistants.search(metadata={"created_by": "system"}, limit=100)
    by_graph = {a["graph_id"]: a for a in found}
    assert {"agent", "echo", "approval", "streamer"} <= set(by_graph)
    echo = by_graph["echo"]
    assert echo["assistant_id"] == str(uuid.uuid5(NAMESPACE, "echo"))
    assert echo["metadata"] == {"created_by": "system"}
    assert (await client.assistants.get(echo["assistant_id"]))["graph_id"] == "echo"
    streamer = by_graph["streamer"]
    assert streamer["description"] == "Emits many custom events"


async def test_create_get_update_versions_latest_delete(client: LangGraphClient) -> None:
    created = await client.assistants.create(
        "echo", config={"configurable": {"a": 1}}, metadata={"team": "x"}, name="mine"
    )
    aid = created["assistant_id"]
    assert created["version"] == 1
    assert created["name"] == "mine"
    # config.configurable is mirrored into context
    assert created["context"] == {"a": 1}

    again = await client.assistants.create("echo", assistant_id=aid, if_exists="do_nothing")
    assert again["assistant_id"] == aid and again["version"] == 1
    with pytest.raises(ConflictError):
        await client.assistants.create("echo", assistant_id=aid)

    updated = await client.assistants.update(aid, metadata={"extra": True}, name="renamed")
    assert updated["version"] == 2
    assert updated["name"] == "renamed"
    assert updated["metadata"] == {"team": "x", "extra": True}

    versions = await client.assistants.get_versions(aid)
    assert [v["version"] for v in versions] == [2, 1]

    back = await client.assistants.set_latest(aid, 1)
    assert back["version"] == 1 and back["name"] == "mine"
    assert (await client.assistants.get(aid))["version"] == 1

    await client.assistants.delete(aid)
    with pytest.raises(NotFoundError):
        await client.assistants.get(aid)


async def test_context_is_mirrored_into_configurable(client: LangGraphClient) -> None:
    created = await client.assistants.create("echo", context={"user": "ann"})
    assert created["config"]["configurable"] == {"user": "ann"}
    assert created["context"] == {"user": "ann"}


async def test_search_filters_sort_select_and_count(
    client: LangGraphClient, http: httpx.AsyncClient
) -> None:
    tag = uuid.uuid4().hex
    for i in range(3):
        await client.assistants.create(
            "echo", metadata={"tag": tag, "i": i}, name=f"search-{tag}-{i}"
        )
    found = await client.assistants.search(metadata={"tag": tag}, sort_by="name", sort_order="asc")
    assert [a["name"] for a in found] == [f"search-{tag}-{i}" for i in range(3)]
    assert await client.assistants.count(metadata={"tag": tag}) == 3
    assert await client.assistants.count(metadata={"tag": tag}, graph_id="agent") == 0
    by_name = await client.assistants.search(name=f"SEARCH-{tag}-1".lower())
    assert len(by_name) == 1

    selected = await client.assistants.search(
        metadata={"tag": tag}, select=["assistant_id", "name"]
    )
    assert all(set(a) == {"assistant_id", "name"} for a in selected)

    page = await client.assistants.search(metadata={"tag": tag}, limit=2, response_format="object")
    assert len(page["assistants"]) == 2 and page["next"] == "2"

    response = await http.post("/assistants/search", json={"metadata": {"tag": tag}, "limit": 2})
    assert response.headers["x-pagination-total"] == "3"
    assert response.headers["x-pagination-next"] == "2"


async def test_schemas_graph_and_subgraphs(client: LangGraphClient) -> None:
    nested = str(uuid.uuid5(NAMESPACE, "nested"))
    schemas = await client.assistants.get_schemas(nested)
    assert schemas["graph_id"] == "nested"
    assert "value" in schemas["state_schema"]["properties"]

    drawn = await client.assistants.get_graph("nested")
    ids = {n["id"] for n in drawn["nodes"]}
    assert {"child", "plus_one"} <= ids
    deep = await client.assistants.get_graph("nested", xray=True)
    assert any("double" in n["id"] for n in deep["nodes"])

    subs = await client.assistants.get_subgraphs(nested)
    assert "child" in subs
    assert "value" in subs["child"]["state_schema"]["properties"]
    one = await client.assistants.get_subgraphs(nested, namespace="child")
    assert set(one) == {"child"}


async def test_delete_with_threads(client: LangGraphClient) -> None:
    assistant = await client.assistants.create("echo")
    thread = await client.threads.create()
    await client.runs.wait(
        thread["thread_id"],
        assistant["assistant_id"],
        input={"messages": [{"role": "user", "content": "hi"}]},
    )
    await client.assistants.delete(assistant["assistant_id"], delete_threads=True)
    with pytest.raises(NotFoundError):
        await client.threads.get(thread["thread_id"])


async def test_assistant_errors(http: httpx.AsyncClient) -> None:
    r = await http.post("/assistants", json={"graph_id": "nope"})
    assert r.status_code == 404 and "nope" in r.json()["detail"]
    r = await http.post("/assistants", json={"graph_id": 5})
    assert r.status_code == 422 and isinstance(r.json()["detail"], str)
    r = await http.get("/assistants/not-a-uuid")
    assert r.status_code == 422 and "assistant_id" in r.json()["detail"]
    r = await http.get(f"/assistants/{uuid.uuid4()}")
    assert r.status_code == 404
    r = await http.post("/assistants/search", json={"limit": 0})
    assert r.status_code == 422
    r = await http.post("/assistants/search", json={"sort_by": "colour"})
    assert r.status_code == 422
    r = await http.post(
        "/assistants",
        json={"graph_id": "echo", "config": {"configurable": {"a": 1}}, "context": {"b": 2}},
    )
    assert r.status_code == 400
    r = await http.post(
        "/assistants", content=b'{"graph_id": "echo"', headers={"content-type": "application/json"}
    )
    assert r.status_code == 422 and "JSON" in r.json()["detail"]
    # bodies are JSON whatever the content type (Studio sends text/plain); unknown fields pass
    r = await http.post(
        "/assistants",
        content=b'{"graph_id": "echo", "surprise": 1}',
        headers={"content-type": "text/plain"},
    )
    assert r.status_code == 200
    r = await http.delete(f"/assistants/{uuid.uuid4()}")
    assert r.status_code == 404
    r = await http.get("/assistants/echo/graph", params={"xray": "sideways"})
    assert r.status_code == 422
