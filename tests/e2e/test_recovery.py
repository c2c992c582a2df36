"""Durability: everything survives a restart; a killed server's runs finish from checkpoints."""

from __future__ import annotations

import asyncio

from langgraph_sdk import get_client

from tests.e2e.test_runs import _wait_status
from tests.support.server import ServerProcess


async def test_state_survives_restart(fresh_server: ServerProcess) -> None:
    fresh_server.start()
    client = get_client(url=fresh_server.url)
    assistant = await client.assistants.create("echo", name="durable")
    thread = await client.threads.create(metadata={"keep": True})
    await client.runs.wait(
        thread["thread_id"], "echo", input={"messages": [{"role": "user", "content": "hi"}]}
    )
    fresh_server.stop()

    fresh_server.start()
    client = get_client(url=fresh_server.url)
    assert (await client.assistants.get(assistant["assistant_id"]))["name"] == "durable"
    again = await client.threads.get(thread["thread_id"])
    assert again["metadata"] == {
        "keep": True,
        "graph_id": "echo",
        "assistant_id": again["metadata"]["assistant_id"],
    }
    state = await client.threads.get_state(thread["thread_id"])
    assert state["values"]["messages"][-1]["content"] == "echo: hi"
    assert len(await client.runs.list(thread["thread_id"])) == 1


async def test_killed_mid_run_resumes_from_checkpoint(fresh_server: ServerProcess) -> None:
    fresh_server.start()
    client = get_client(url=fresh_server.url)
    thread = await client.threads.create()
    tid = thread["thread_id"]
    run = await client.runs.create(tid, "slow", input={"seconds": 0.4}, durability="sync")
    # wait until at least two steps are checkpointed, then kill -9
    for _ in range(200):
        state = await client.threads.get_state(tid)
        if (state["values"] or {}).get("steps", 0) >= 2:
            break
        await asyncio.sleep(0.05)
    fresh_server.kill()

    fresh_server.start()
    client = get_client(url=fresh_server.url)
    await client.runs.join(tid, run["run_id"])
    done = await _wait_status(client, tid, run["run_id"], {"success", "error"})
    assert done["status"] == "success"
    assert done["attempt"] == 2
    state = await client.threads.get_state(tid)
    # five steps in all: none repeated, none lost
    assert state["values"]["steps"] == 5
    history = await client.threads.get_history(tid, limit=100)
    inputs = [h for h in history if h["metadata"].get("source") == "input"]
    assert len(inputs) == 1  # the input was not applied a second time


async def test_pending_runs_survive_kill(fresh_server: ServerProcess) -> None:
    fresh_server.start()
    client = get_client(url=fresh_server.url)
    thread = await client.threads.create()
    run = await client.runs.create(
        thread["thread_id"],
        "echo",
        input={"messages": [{"role": "user", "content": "later"}]},
        after_seconds=1,
    )
    fresh_server.kill()
    fresh_server.start()
    client = get_client(url=fresh_server.url)
    result = await client.runs.join(thread["thread_id"], run["run_id"])
    assert result["messages"][-1]["content"] == "echo: later"


async def test_run_timeout(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from tests.support.server import TEST_PROJECT

    server = ServerProcess(
        TEST_PROJECT, tmp_path / "t.db", env={"THREADLOOM_RUN_TIMEOUT_SECONDS": "0.5"}
    )
    server.start()
    try:
        client = get_client(url=server.url)
        thread = await client.threads.create()
        result = await client.runs.wait(
            thread["thread_id"], "slow", input={"seconds": 0.3}, raise_error=False
        )
        assert result["__error__"]["error"] == "TimeoutError"
        run = (await client.runs.list(thread["thread_id"]))[0]
        assert run["status"] == "timeout" and run["stop_reason"] == "timeout"
        # the steps it finished before the deadline are kept
        state = await client.threads.get_state(thread["thread_id"])
        assert 1 <= state["values"]["steps"] < 5
    finally:
        server.stop()


async def test_resume_after_kill_reads_the_whole_second_attempt(
    fresh_server: ServerProcess,
) -> None:
    """A client that saw part of attempt 1 (resumable ids) and reconnects with `Last-Event-ID`
    after the server was killed reads all of attempt 2 — its metadata first, through its final
    values — instead of skipping the ids attempt 1 had already used."""
    import httpx

    fresh_server.start()
    client = get_client(url=fresh_server.url)
    tid = (await client.threads.create())["thread_id"]
    run = await client.runs.create(
        tid,
        "slow",
        input={"seconds": 0.4},
        durability="sync",
        stream_resumable=True,
        stream_mode=["values", "custom"],
    )
    rid = run["run_id"]
    last_id = None
    async with (
        httpx.AsyncClient(base_url=fresh_server.url, timeout=30) as http,
        http.stream(
            "GET", f"/threads/{tid}/runs/{rid}/stream", headers={"Last-Event-ID": "0"}
        ) as resp,
    ):
        ticks = 0
        async for line in resp.aiter_lines():
            if line.startswith("id: "):
                last_id = line[4:]
            elif line == "event: custom":
                ticks += 1
                if ticks >= 2:
                    break
    assert last_id is not None
    fresh_server.kill()

    fresh_server.start()
    client = get_client(url=fresh_server.url)
    parts = [part async for part in client.runs.join_stream(tid, rid, last_event_id=last_id)]
    events = [p.event for p in parts]
    assert "error" not in events, parts
    metadata = [p.data for p in parts if p.event == "metadata"]
    assert metadata and metadata[0]["attempt"] == 2, parts
    values = [p.data for p in parts if p.event == "values"]
    assert values and values[-1]["steps"] == 5
