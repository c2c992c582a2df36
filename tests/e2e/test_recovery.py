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
