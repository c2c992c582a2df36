"""Runs through the official SDK: create, wait, list, get, delete, join, multitask, errors."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import orjson
import pytest
from langgraph_sdk.client import LangGraphClient
from langgraph_sdk.errors import ConflictError, NotFoundError

HI = {"messages": [{"role": "user", "content": "hi"}]}


async def _wait_status(
    client: LangGraphClient, tid: str, rid: str, statuses: set[str], limit: float = 10
) -> dict:
    deadline = asyncio.get_running_loop().time() + limit
    while True:
        run = await client.runs.get(tid, rid)
        if run["status"] in statuses:
            return run
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"run stayed {run['status']}")
        await asyncio.sleep(0.02)


async def test_background_run_join_and_record(
    client: LangGraphClient, http: httpx.AsyncClient
) -> None:
    thread = await client.threads.create()
    tid = thread["thread_id"]
    created: list[dict] = []
    run = await client.runs.create(
        tid, "echo", input=HI, metadata={"who": "me"}, on_run_created=created.append
    )
    assert run["status"] == "pending"
    assert created and created[0]["run_id"] == run["run_id"]
    result = await client.runs.join(tid, run["run_id"])
    assert result["messages"][-1]["content"] == "echo: hi"

    done = await client.runs.get(tid, run["run_id"])
    assert done["status"] == "success"
    assert done["metadata"]["who"] == "me"
    (echo,) = await client.assistants.search(graph_id="echo", metadata={"created_by": "system"})
    assert done["assistant_id"] == echo["assistant_id"]
    assert done["kwargs"]["input"] == HI
    assert done["multitask_strategy"] == "enqueue"
    assert done["stop_reason"] == "end_turn" and done["ended_at"]
    thread_after = await client.threads.get(tid)
    assert thread_after["status"] == "idle"
    assert thread_after["metadata"]["graph_id"] == "echo"

    r = await http.post(f"/threads/{tid}/runs", json={"assistant_id": "echo", "input": HI})
    assert r.headers["content-location"] == f"/threads/{tid}/runs/{r.json()['run_id']}"


async def test_list_runs_matches_seed(client: LangGraphClient, http: httpx.AsyncClient) -> None:
    thread = await client.threads.create()
    tid = thread["thread_id"]
    ids = []
    for _ in range(3):
        ids.append((await client.runs.create(tid, "echo", input=HI))["run_id"])
    await client.runs.join(tid, ids[-1])
    runs = await client.runs.list(tid)
    assert [r["run_id"] for r in runs] == ids[::-1]  # newest first
    assert [r["run_id"] for r in await client.runs.list(tid, limit=1, offset=1)] == [ids[1]]
    assert len(await client.runs.list(tid, status="success")) == 3
    assert await client.runs.list(tid, status="error") == []
    selected = await client.runs.list(tid, select=["run_id", "status"])
    assert all(set(r) == {"run_id", "status"} for r in selected)

    assert (await http.get(f"/threads/{tid}/runs", params={"status": "bogus"})).status_code == 422
    assert (await http.get(f"/threads/{tid}/runs", params={"limit": 1001})).status_code == 422
    assert (
        await http.get(f"/threads/{tid}/runs", params={"select": "password"})
    ).status_code == 422
    assert (await http.get(f"/threads/{uuid.uuid4()}/runs")).status_code == 404
    assert (await http.get(f"/threads/{tid}/runs/not-a-uuid")).status_code == 422
    assert (await http.get(f"/threads/{tid}/runs/{uuid.uuid4()}")).status_code == 404


async def test_wait_stateful_and_stateless(
    client: LangGraphClient, http: httpx.AsyncClient
) -> None:
    result = await client.runs.wait(None, "echo", input=HI)
    assert result["messages"][-1]["content"] == "echo: hi"
    r = await http.post("/runs/wait", json={"assistant_id": "echo", "input": HI})
    assert r.status_code == 200
    assert r.headers["location"].endswith("/join")
    assert r.headers["content-location"].startswith("/threads/")
    # stateless threads are deleted afterwards by default, kept with on_completion=keep
    kept: list[dict] = []
    await client.runs.wait(None, "echo", input=HI, on_completion="keep", on_run_created=kept.append)
    assert (await client.threads.get(kept[0]["thread_id"]))["values"]["messages"][-1][
        "content"
    ] == "echo: hi"
    gone: list[dict] = []
    await client.runs.wait(None, "echo", input=HI, on_run_created=gone.append)
    with pytest.raises(NotFoundError):
        await client.threads.get(gone[0]["thread_id"])


async def test_a_stateless_run_is_gone_once_its_end_is_heard(client: LangGraphClient) -> None:
    """When a stateless run's stream or /wait ends, the run and its thread are already gone.
    The SDK reads the run when a stream closes without an end event and reconnects to a run it
    still sees running; that reconnect would find nothing and fail the user's stream."""
    for _ in range(10):
        run = await client.runs.create(None, "slow", input={"seconds": 0.01})
        tid, rid = run["thread_id"], run["run_id"]
        parts = [p async for p in client.runs.join_stream(tid, rid, stream_mode="values")]
        assert parts and parts[-1].data["steps"] == 5
        with pytest.raises(NotFoundError):
            await client.runs.get(tid, rid)
        created: list[dict] = []
        await client.runs.wait(None, "echo", input=HI, on_run_created=created.append)
        with pytest.raises(NotFoundError):
            await client.runs.get(created[0]["thread_id"], created[0]["run_id"])


async def test_join_answers_for_a_stateless_run_already_gone(client: LangGraphClient) -> None:
    """The SDK rejoins a cut `/wait` at its Location (`.../runs/{run_id}/join`). A stateless run
    that ended meanwhile has gone with its thread; the join still answers its output, from what
    is kept beside its events. A run that still exists stays unknown to other threads."""
    created: list[dict] = []
    out = await client.runs.wait(None, "echo", input=HI, on_run_created=created.append)
    tid, rid = created[0]["thread_id"], created[0]["run_id"]
    with pytest.raises(NotFoundError):
        await client.runs.get(tid, rid)
    assert await client.runs.join(tid, rid) == out
    kept: list[dict] = []
    await client.runs.wait(None, "echo", input=HI, on_completion="keep", on_run_created=kept.append)
    other = await client.threads.create()
    for thread_id, run_id in ((other["thread_id"], kept[0]["run_id"]), (tid, str(uuid.uuid4()))):
        with pytest.raises(httpx.HTTPStatusError) as failed:  # the SDK's join raises it untyped
            await client.runs.join(thread_id, run_id)
        assert failed.value.response.status_code == 404


async def test_batch_and_stateless_background(client: LangGraphClient) -> None:
    runs = await client.runs.create_batch(
        [
            {"assistant_id": "echo", "input": HI},
            {"assistant_id": "echo", "input": HI, "on_completion": "keep"},
        ]
    )
    assert len(runs) == 2 and all(r["status"] == "pending" for r in runs)
    kept = runs[1]
    await _wait_status(client, kept["thread_id"], kept["run_id"], {"success"})
    created: list[dict] = []
    single = await client.runs.create(
        None, "echo", input=HI, on_completion="keep", on_run_created=created.append
    )
    assert single["status"] == "pending" and created[0]["run_id"] == single["run_id"]
    await _wait_status(client, single["thread_id"], single["run_id"], {"success"})


async def test_error_run(client: LangGraphClient) -> None:
    thread = await client.threads.create()
    tid = thread["thread_id"]
    result = await client.runs.wait(tid, "failing", input=HI, raise_error=False)
    assert result["__error__"]["error"] == "ValueError"
    assert "on purpose" in result["__error__"]["message"]
    runs = await client.runs.list(tid)
    assert runs[0]["status"] == "error"
    assert runs[0]["error"] == {"error": "ValueError", "message": "the graph failed on purpose"}
    assert runs[0]["stop_reason"] == "error"
    assert (await client.threads.get(tid))["status"] == "error"
    with pytest.raises(Exception, match="on purpose"):
        await client.runs.wait(tid, "failing", input=HI)


async def test_interrupt_and_resume(client: LangGraphClient) -> None:
    thread = await client.threads.create()
    tid = thread["thread_id"]
    paused = await client.runs.wait(tid, "approval", input={"request": "deploy"})
    assert paused["__interrupt__"][0]["value"] == {"question": "approve deploy?"}
    run = (await client.runs.list(tid))[0]
    assert run["status"] == "success" and run["stop_reason"] == "requires_approval"
    state = await client.threads.get(tid)
    assert state["status"] == "interrupted"
    assert next(iter(state["interrupts"].values()))[0]["value"] == {"question": "approve deploy?"}
    assert [
        t["thread_id"] for t in await client.threads.search(status="interrupted", limit=1000)
    ].count(tid) == 1

    done = await client.runs.wait(tid, "approval", command={"resume": "yes"})
    assert done == {"request": "deploy", "decision": "yes", "done": True}
    assert (await client.threads.get(tid))["status"] == "idle"
    assert (await client.threads.get(tid))["interrupts"] == {}


async def test_static_breakpoints(client: LangGraphClient) -> None:
    thread = await client.threads.create()
    tid = thread["thread_id"]
    await client.runs.wait(tid, "nested", input={"value": 1}, interrupt_before=["plus_one"])
    state = await client.threads.get_state(tid)
    assert state["next"] == ["plus_one"] and state["values"] == {"value": 2}
    assert (await client.threads.get(tid))["status"] == "interrupted"
    final = await client.runs.wait(tid, "nested", input=None)
    assert final == {"value": 3}


async def test_multitask_reject_names_blocking_run(client: LangGraphClient) -> None:
    thread = await client.threads.create()
    tid = thread["thread_id"]
    first = await client.runs.create(tid, "slow", input={"seconds": 0.2})
    with pytest.raises(ConflictError) as err:
        await client.runs.create(tid, "slow", input={}, multitask_strategy="reject")
    assert first["run_id"] in str(err.value)
    await client.runs.cancel(tid, first["run_id"])


async def test_enqueue_keeps_every_update(client: LangGraphClient) -> None:
    """Three runs on one thread, each appending after a pause: three items, in order. Each
    queued run starts when the one before it ends, not at a worker's next idle look at the
    queue (30 s here): the joins are bounded well below that."""
    thread = await client.threads.create()
    tid = thread["thread_id"]
    runs = [await client.runs.create(tid, "appender", input={"delay": 0.1}) for _ in range(3)]
    for run in runs:
        await asyncio.wait_for(client.runs.join(tid, run["run_id"]), 10)
    state = await client.threads.get_state(tid)
    assert state["values"]["items"] == ["after-0", "after-1", "after-2"]


async def test_interrupt_strategy(client: LangGraphClient) -> None:
    thread = await client.threads.create()
    tid = thread["thread_id"]
    first = await client.runs.create(tid, "slow", input={"seconds": 0.3})
    await _wait_status(client, tid, first["run_id"], {"running"})
    second = await client.runs.create(tid, "echo", input=HI, multitask_strategy="interrupt")
    await client.runs.join(tid, second["run_id"])
    assert (await client.runs.get(tid, first["run_id"]))["status"] == "interrupted"
    assert (await client.runs.get(tid, second["run_id"]))["status"] == "success"


async def test_rollback_strategy(client: LangGraphClient) -> None:
    thread = await client.threads.create()
    tid = thread["thread_id"]
    first = await client.runs.create(tid, "slow", input={"seconds": 0.3})
    await _wait_status(client, tid, first["run_id"], {"running"})
    second = await client.runs.create(
        tid, "slow", input={"seconds": 0.01}, multitask_strategy="rollback"
    )
    await client.runs.join(tid, second["run_id"])
    with pytest.raises(NotFoundError):
        await client.runs.get(tid, first["run_id"])
    # the rolled-back run left no checkpoints behind
    history = await client.threads.get_history(tid, limit=100)
    assert all(h["metadata"].get("run_id") != first["run_id"] for h in history)


async def test_delete_run(client: LangGraphClient) -> None:
    thread = await client.threads.create()
    tid = thread["thread_id"]
    run = await client.runs.create(tid, "echo", input=HI)
    await client.runs.join(tid, run["run_id"])
    await client.runs.delete(tid, run["run_id"])
    with pytest.raises(NotFoundError):
        await client.runs.get(tid, run["run_id"])


async def test_after_seconds_delays_start(client: LangGraphClient) -> None:
    thread = await client.threads.create()
    tid = thread["thread_id"]
    run = await client.runs.create(tid, "echo", input=HI, after_seconds=0.5)
    await asyncio.sleep(0.2)
    assert (await client.runs.get(tid, run["run_id"]))["status"] == "pending"
    await client.runs.join(tid, run["run_id"])
    assert (await client.runs.get(tid, run["run_id"]))["status"] == "success"


async def test_if_not_exists(client: LangGraphClient) -> None:
    tid = str(uuid.uuid4())
    with pytest.raises(NotFoundError):
        await client.runs.create(tid, "echo", input=HI)
    run = await client.runs.create(tid, "echo", input=HI, if_not_exists="create")
    await client.runs.join(tid, run["run_id"])
    assert (await client.threads.get(tid))["status"] == "idle"


async def test_run_bad_input(http: httpx.AsyncClient) -> None:
    tid = (await http.post("/threads", json={})).json()["thread_id"]
    cases = [
        ({"assistant_id": "nope"}, 422),
        ({"assistant_id": str(uuid.uuid4())}, 404),
        ({"assistant_id": "echo", "stream_mode": "colour"}, 422),
        ({"assistant_id": "echo", "multitask_strategy": "sometimes"}, 422),
        ({"assistant_id": "echo", "after_seconds": -1}, 422),
        ({"assistant_id": "echo", "config": {"configurable": {"a": 1}}, "context": {"a": 2}}, 400),
        ({"assistant_id": "echo", "webhook": "http://169.254.169.254/latest"}, 201),
        ({}, 422),
    ]
    for body, status in cases:
        r = await http.post(f"/threads/{tid}/runs", json=body)
        if status == 201:  # private webhooks are allowed in this test server
            assert r.status_code == 200, r.text
            continue
        assert r.status_code == status, (body, r.text)
        assert isinstance(r.json()["detail"], str)
    r = await http.post("/runs", json={"assistant_id": "echo", "command": {"resume": 1}})
    assert r.status_code == 400 and "thread_id" in r.json()["detail"]
    # the run-creating routes answer bad bodies as every JSON route does (the reference's words)
    for path in ("/runs/wait", f"/threads/{tid}/runs/stream", "/runs"):
        r = await http.post(path, content=b"{oops", headers={"content-type": "text/plain"})
        assert r.status_code == 422 and r.json()["detail"] == "Invalid JSON in request body"
        r = await http.post(path, json={"assistant_id": "echo", "after_seconds": "soon"})
        assert r.status_code == 422 and "after_seconds" in r.json()["detail"], r.text
    r = await http.post(f"/threads/{uuid.uuid4()}/runs/wait", json={"assistant_id": "echo"})
    assert r.status_code == 404 and isinstance(r.json()["detail"], str)
    # Studio sends JSON as text/plain
    r = await http.post(
        "/runs/wait",
        content=orjson.dumps({"assistant_id": "echo", "input": HI}),
        headers={"content-type": "text/plain", "x-request-id": "studio-1"},
    )
    assert r.status_code == 200 and r.json()["messages"][-1]["content"].startswith("echo")
    r = await http.post("/runs/cancel", json={"status": "all", "run_ids": [str(uuid.uuid4())]})
    assert r.status_code == 422


async def test_many_concurrent_waits_and_streams(server) -> None:  # type: ignore[no-untyped-def]
    """Hundreds of clients waiting at once (each one a blocked read of its run's events) are
    all answered: no per-process cap on open reads turns the surplus into errors."""
    from langgraph_sdk import get_client

    clients = [get_client(url=server.url, api_key=None) for _ in range(3)]
    try:

        async def wait_one(i: int) -> int:
            client = clients[i % len(clients)]
            out = await client.runs.wait(None, "slow", input={"seconds": 0.3})
            return int(out["steps"])

        async def stream_one(i: int) -> int:
            client = clients[i % len(clients)]
            ticks = 0
            async for part in client.runs.stream(
                None, "slow", input={"seconds": 0.3}, stream_mode="custom"
            ):
                ticks += part.event == "custom"
            return ticks

        results = await asyncio.gather(
            *(wait_one(i) for i in range(120)), *(stream_one(i) for i in range(60))
        )
        assert results == [5] * 180
    finally:
        for client in clients:
            await client.http.client.aclose()
