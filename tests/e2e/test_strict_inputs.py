"""Where the reference server is strict, so is Threadloom: a JSON route without a body, and an
`/assistants/{id}` route given a graph name instead of a UUID, are 422s with a `detail`."""

from __future__ import annotations

import uuid

import httpx
import pytest
from langgraph_sdk.client import LangGraphClient
from langgraph_sdk.errors import UnprocessableEntityError

NAMESPACE = uuid.UUID("6ba7b821-9dad-11d1-80b4-00c04fd430c8")
NO_BODY = "Invalid JSON in request body"


async def test_json_routes_without_a_body_are_422(http: httpx.AsyncClient) -> None:
    tid = (await http.post("/threads", json={})).json()["thread_id"]
    aid = (await http.post("/assistants", json={"graph_id": "echo"})).json()["assistant_id"]
    routes = [
        ("POST", "/threads"),
        ("POST", "/threads/search"),
        ("POST", "/threads/count"),
        ("POST", f"/threads/{tid}/history"),
        ("PATCH", f"/threads/{tid}"),
        ("POST", f"/threads/{tid}/state"),
        ("POST", "/assistants"),
        ("POST", "/assistants/search"),
        ("POST", "/assistants/count"),
        ("PATCH", f"/assistants/{aid}"),
        ("POST", f"/assistants/{aid}/versions"),
        ("POST", f"/assistants/{aid}/latest"),
        ("POST", "/runs"),
        ("POST", "/runs/stream"),
        ("POST", "/runs/wait"),
        ("POST", "/runs/batch"),
        ("POST", "/runs/cancel"),
        ("POST", f"/threads/{tid}/runs"),
        ("POST", f"/threads/{tid}/runs/stream"),
        ("POST", f"/threads/{tid}/runs/wait"),
    ]
    for method, path in routes:
        r = await http.request(method, path)
        assert (r.status_code, r.json()) == (422, {"detail": NO_BODY}), (method, path)
    # `{}` is a body: the optional-field routes take it
    for path in ("/threads", "/threads/search", "/assistants/search", "/assistants/count"):
        assert (await http.post(path, json={})).status_code == 200, path
    # a route that reads no body still needs none
    assert (await http.post(f"/threads/{tid}/copy")).status_code == 200


async def test_assistant_routes_take_uuids_not_graph_names(
    client: LangGraphClient, http: httpx.AsyncClient
) -> None:
    echo = str(uuid.uuid5(NAMESPACE, "echo"))
    for call in (
        client.assistants.get("echo"),
        client.assistants.update("echo", metadata={"x": 1}),
        client.assistants.delete("echo"),
        client.assistants.get_schemas("echo"),
        client.assistants.get_subgraphs("nested"),
        client.assistants.get_versions("echo"),
        client.assistants.set_latest("echo", 1),
    ):
        with pytest.raises(UnprocessableEntityError):
            await call
    for method, path in (
        ("GET", "/assistants/echo"),
        ("DELETE", "/assistants/echo"),
        ("GET", "/assistants/echo/schemas"),
        ("GET", "/assistants/nested/subgraphs/child"),
    ):
        r = await http.request(method, path)
        assert r.status_code == 422 and "assistant_id" in r.json()["detail"], (method, path)
    # the system assistant is still there, and still reachable by its UUID
    assert (await client.assistants.get(echo))["graph_id"] == "echo"
    # where the reference takes a graph name, so does Threadloom
    drawn = await client.assistants.get_graph("nested")
    assert {"child", "plus_one"} <= {n["id"] for n in drawn["nodes"]}
    result = await client.runs.wait(
        None, "echo", input={"messages": [{"role": "user", "content": "x"}]}
    )
    assert result["messages"][-1]["content"] == "echo: x"
    thread = await client.threads.create()
    run = await client.runs.create(
        thread["thread_id"], "echo", input={"messages": [{"role": "user", "content": "x"}]}
    )
    assert run["assistant_id"] == echo
