"""Threads API through the official SDK and raw HTTP."""

from __future__ import annotations

import uuid

import httpx
import pytest
from langgraph_sdk.client import LangGraphClient
from langgraph_sdk.errors import ConflictError, NotFoundError

HI = {"messages": [{"role": "user", "content": "hi"}]}


async def test_create_get_patch_delete(client: LangGraphClient, http: httpx.AsyncClient) -> None:
    tid = str(uuid.uuid4())
    thread = await client.threads.create(thread_id=tid, metadata={"owner": "ann"}, ttl=60)
    assert thread["thread_id"] == tid and thread["status"] == "idle"
    assert thread["metadata"] == {"owner": "ann"}
    with pytest.raises(ConflictError):
        await client.threads.create(thread_id=tid)
    same = await client.threads.create(thread_id=tid, if_exists="do_nothing")
    assert same["thread_id"] == tid

    with_ttl = await client.threads.get(tid, include=["ttl"])
    assert with_ttl["ttl"]["strategy"] == "delete" and with_ttl["ttl"]["ttl_minutes"] == 60

    patched = await client.threads.update(tid, metadata={"topic": "x"})
    assert patched["metadata"] == {"owner": "ann", "topic": "x"}
    r = await http.patch(
        f"/threads/{tid}", json={"metadata": {"k": 1}}, headers={"Prefer": "return=minimal"}
    )
    assert r.status_code == 204

    await client.threads.delete(tid)
    with pytest.raises(NotFoundError):
        await client.threads.get(tid)


async def test_search_matches_seed(client: LangGraphClient, http: httpx.AsyncClient) -> None:
    tag = uuid.uuid4().hex
    ids = []
    for i in range(3):
        t = await client.threads.create(metadata={"tag": tag, "n": i})
        ids.append(t["thread_id"])
    ran = ids[0]
    await client.runs.wait(ran, "echo", input=HI)

    found = await client.threads.search(
        metadata={"tag": tag}, sort_by="created_at", sort_order="asc"
    )
    assert [t["thread_id"] for t in found] == ids
    assert len(await client.threads.search(ids=ids[:2])) == 2
    assert await client.threads.count(metadata={"tag": tag}) == 3
    assert await client.threads.count(metadata={"tag": tag}, status="idle") == 3

    # values containment on the denormalised state
    by_values = await client.threads.search(
        values={"messages": [{"content": "echo: hi"}]}, metadata={"tag": tag}
    )
    assert [t["thread_id"] for t in by_values] == [ran]
    assert by_values[0]["values"]["messages"][-1]["content"] == "echo: hi"

    selected = await client.threads.search(metadata={"tag": tag}, select=["thread_id", "status"])
    assert all(set(t) == {"thread_id", "status"} for t in selected)

    extracted = await client.threads.search(
        ids=[ran], extract={"last": "values.messages[-1].content"}
    )
    assert extracted[0]["extracted"] == {"last": "echo: hi"}

    for sort_by in ("thread_id", "status", "created_at", "updated_at", "state_updated_at"):
        r = await http.post(
            "/threads/search", json={"metadata": {"tag": tag}, "sort_by": sort_by, "limit": 2}
        )
        assert r.status_code == 200, r.text
        assert r.headers["x-pagination-total"] == "3"
        assert r.headers["x-pagination-next"] == "2"
    r = await http.post("/threads/search", json={"metadata": {"tag": tag}, "offset": 2})
    assert "x-pagination-next" not in r.headers


async def test_search_bad_input(http: httpx.AsyncClient) -> None:
    for body in (
        {"limit": 0},
        {"limit": 1001},
        {"offset": -1},
        {"status": "sleeping"},
        {"sort_by": "colour"},
        {"sort_order": "sideways"},
        {"select": ["password"]},
        {"ids": ["not-a-uuid"]},
        {"metadata": "nope"},
        {"extract": {"x": "secrets.key"}},
    ):
        r = await http.post("/threads/search", json=body)
        assert r.status_code == 422, (body, r.text)
        assert isinstance(r.json()["detail"], str)
    r = await http.post("/threads/search", content=b"{not json")
    assert r.status_code == 422
    r = await http.get("/threads/not-a-uuid")
    assert r.status_code == 422
    r = await http.get(f"/threads/{uuid.uuid4()}")
    assert r.status_code == 404 and "not found" in r.json()["detail"]


async def test_state_history_update_and_copy(client: LangGraphClient) -> None:
    thread = await client.threads.create()
    tid = thread["thread_id"]
    empty = await client.threads.get_state(tid)
    assert empty["values"] == {} and empty["next"] == []

    await client.runs.wait(tid, "echo", input=HI)
    state = await client.threads.get_state(tid)
    assert [m["content"] for m in state["values"]["messages"]] == ["hi", "echo: hi"]
    checkpoint_id = state["checkpoint"]["checkpoint_id"]

    at = await client.threads.get_state(tid, checkpoint_id=checkpoint_id)
    assert at["checkpoint"]["checkpoint_id"] == checkpoint_id
    at_post = await client.threads.get_state(
        tid, checkpoint={"checkpoint_id": checkpoint_id, "checkpoint_ns": ""}
    )
    assert at_post["values"] == at["values"]

    history = await client.threads.get_history(tid, limit=10)
    assert history[0]["checkpoint"]["checkpoint_id"] == checkpoint_id
    assert len(history) >= 3
    before = await client.threads.get_history(tid, limit=10, before=checkpoint_id)
    assert before and all(h["checkpoint"]["checkpoint_id"] != checkpoint_id for h in before)
    by_meta = await client.threads.get_history(tid, limit=10, metadata={"source": "input"})
    assert by_meta and all(h["metadata"]["source"] == "input" for h in by_meta)

    result = await client.threads.update_state(
        tid, {"messages": [{"role": "user", "content": "added"}]}, as_node="reply"
    )
    assert result["checkpoint"]["checkpoint_id"]
    after = await client.threads.get_state(tid)
    assert after["values"]["messages"][-1]["content"] == "added"
    assert (await client.threads.get(tid))["values"]["messages"][-1]["content"] == "added"

    copy = await client.threads.copy(tid)
    assert copy["thread_id"] != tid
    copied_state = await client.threads.get_state(copy["thread_id"])
    assert copied_state["values"] == after["values"]
    assert len(await client.threads.get_history(copy["thread_id"], limit=100)) == len(
        await client.threads.get_history(tid, limit=100)
    )


async def test_state_errors(client: LangGraphClient, http: httpx.AsyncClient) -> None:
    thread = await client.threads.create()
    tid = thread["thread_id"]
    # no graph has run on it yet: updating its state is a clear 400
    r = await http.post(f"/threads/{tid}/state", json={"values": {"x": 1}})
    assert r.status_code == 400 and "graph" in r.json()["detail"]
    await client.runs.wait(tid, "echo", input=HI)
    r = await http.get(f"/threads/{tid}/state/{uuid.uuid4()}")
    assert r.status_code == 404
    r = await http.post(
        f"/threads/{tid}/state", json={"values": {"messages": []}, "as_node": "nowhere"}
    )
    assert r.status_code == 400


async def test_supersteps_seed_state(client: LangGraphClient) -> None:
    thread = await client.threads.create(
        graph_id="echo",
        supersteps=[
            {
                "updates": [
                    {
                        "values": {"messages": [{"role": "user", "content": "seeded"}]},
                        "as_node": "reply",
                    }
                ]
            }
        ],
    )
    state = await client.threads.get_state(thread["thread_id"])
    assert state["values"]["messages"][0]["content"] == "seeded"


async def test_delete_cascades_and_prune(client: LangGraphClient, http: httpx.AsyncClient) -> None:
    thread = await client.threads.create()
    tid = thread["thread_id"]
    await client.runs.wait(tid, "echo", input=HI)
    runs = await client.runs.list(tid)
    assert len(runs) == 1
    await client.threads.delete(tid)
    r = await http.get(f"/threads/{tid}/runs/{runs[0]['run_id']}")
    assert r.status_code == 404
    # re-created with the same id, it has no history left behind
    await client.threads.create(thread_id=tid)
    assert await client.threads.get_history(tid) == []

    keep = await client.threads.create()
    await client.runs.wait(keep["thread_id"], "echo", input=HI)
    r = await http.post(
        "/threads/prune", json={"thread_ids": [keep["thread_id"]], "strategy": "keep_latest"}
    )
    assert r.json() == {"pruned_count": 1}
    assert len(await client.threads.get_history(keep["thread_id"], limit=100)) == 1
    assert (await client.threads.get_state(keep["thread_id"]))["values"]["messages"][-1][
        "content"
    ] == "echo: hi"


async def test_subgraph_state_and_get_history(
    client: LangGraphClient, http: httpx.AsyncClient
) -> None:
    thread = await client.threads.create()
    tid = thread["thread_id"]
    await client.runs.wait(tid, "nested", input={"value": 1}, interrupt_before=["plus_one"])
    state = await client.threads.get_state(tid, subgraphs=True)
    assert state["next"] == ["plus_one"] and state["tasks"][0]["name"] == "plus_one"
    r = await http.get(f"/threads/{tid}/history", params={"limit": 2})
    assert r.status_code == 200 and len(r.json()) == 2
    first = r.json()[0]["checkpoint"]["checkpoint_id"]
    older = await http.get(f"/threads/{tid}/history", params={"limit": 5, "before": first})
    assert older.status_code == 200
    assert all(h["checkpoint"]["checkpoint_id"] != first for h in older.json())
    empty = await http.get(f"/threads/{tid}/history", params={"limit": 0})
    assert empty.status_code == 200 and empty.json() == []  # as in the reference
    assert (await http.post(f"/threads/{tid}/history", json={"limit": 0})).status_code == 422
