"""Cancelling runs in each form the API offers."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from langgraph_sdk.client import LangGraphClient
from langgraph_sdk.errors import NotFoundError

from tests.e2e.test_runs import _wait_status
from tests.support.server import ServerProcess


async def _running_slow(client: LangGraphClient, seconds: float = 0.5) -> tuple[str, str]:
    thread = await client.threads.create()
    tid = thread["thread_id"]
    run = await client.runs.create(tid, "slow", input={"seconds": seconds})
    await _wait_status(client, tid, run["run_id"], {"running"})
    return tid, run["run_id"]


async def test_cancel_interrupt_keeps_checkpoints(client: LangGraphClient) -> None:
    tid, rid = await _running_slow(client)
    await asyncio.sleep(0.6)  # at least one step done
    await client.runs.cancel(tid, rid)
    run = await _wait_status(client, tid, rid, {"interrupted"})
    assert run["stop_reason"] == "cancelled"
    state = await client.threads.get_state(tid)
    assert 1 <= state["values"]["steps"] < 5
    assert (await client.threads.get(tid))["status"] in ("idle", "interrupted")


async def test_cancel_wait_returns_output(client: LangGraphClient) -> None:
    tid, rid = await _running_slow(client)
    result = await client.runs.cancel(tid, rid, wait=True)
    assert isinstance(result, dict)
    assert (await client.runs.get(tid, rid))["status"] == "interrupted"


async def test_cancel_rollback_deletes_run(client: LangGraphClient) -> None:
    tid, rid = await _running_slow(client)
    await client.runs.cancel(tid, rid, action="rollback")
    for _ in range(100):
        try:
            await client.runs.get(tid, rid)
        except NotFoundError:
            break
        await asyncio.sleep(0.02)
    else:
        raise AssertionError("rolled back run still exists")
    assert await client.threads.get_history(tid) == []


async def test_cancel_pending_run(client: LangGraphClient) -> None:
    thread = await client.threads.create()
    tid = thread["thread_id"]
    run = await client.runs.create(tid, "echo", input={"messages": []}, after_seconds=30)
    await client.runs.cancel(tid, run["run_id"])
    done = await client.runs.get(tid, run["run_id"])
    assert done["status"] == "interrupted"
    assert (await client.threads.get(tid))["status"] == "idle"
    # joining a cancelled pending run returns at once
    await asyncio.wait_for(client.runs.join(tid, run["run_id"]), 5)


async def test_cancel_finished_run_is_404(client: LangGraphClient) -> None:
    thread = await client.threads.create()
    tid = thread["thread_id"]
    result = await client.runs.wait(
        tid, "echo", input={"messages": [{"role": "user", "content": "x"}]}
    )
    assert result
    rid = (await client.runs.list(tid))[0]["run_id"]
    with pytest.raises(NotFoundError):
        await client.runs.cancel(tid, rid)


async def test_bulk_cancel(client: LangGraphClient, http: httpx.AsyncClient) -> None:
    tid, rid = await _running_slow(client)
    queued = await client.runs.create(tid, "slow", input={"seconds": 0.01})
    await client.runs.cancel_many(thread_id=tid, run_ids=[rid, queued["run_id"]])
    assert (await _wait_status(client, tid, rid, {"interrupted"}))["status"] == "interrupted"
    assert (await client.runs.get(tid, queued["run_id"]))["status"] == "interrupted"

    other = await client.threads.create()
    pending = await client.runs.create(
        other["thread_id"], "echo", input={"messages": []}, after_seconds=60
    )
    r = await http.post("/runs/cancel", json={"status": "pending"})
    assert r.status_code == 204
    assert (await client.runs.get(other["thread_id"], pending["run_id"]))["status"] == "interrupted"
    r = await http.post("/runs/cancel", json={"thread_id": tid, "run_ids": [rid]})
    assert r.status_code == 404


async def test_on_disconnect_cancel(client: LangGraphClient, http: httpx.AsyncClient) -> None:
    tid = (await client.threads.create())["thread_id"]
    async with http.stream(
        "POST",
        f"/threads/{tid}/runs/stream",
        json={
            "assistant_id": "slow",
            "input": {"seconds": 0.5},
            "on_disconnect": "cancel",
            "stream_mode": "custom",
        },
    ) as r:
        rid = r.headers["content-location"].rsplit("/", 1)[-1]
        async for line in r.aiter_lines():
            if line.startswith("event: custom"):
                break
    run = await _wait_status(client, tid, rid, {"interrupted"})
    assert run["status"] == "interrupted"


async def test_join_cancel_on_disconnect(client: LangGraphClient, server) -> None:  # type: ignore[no-untyped-def]
    tid, rid = await _running_slow(client)
    async with httpx.AsyncClient(base_url=server.url) as raw:
        with pytest.raises(httpx.ReadTimeout):
            await raw.get(
                f"/threads/{tid}/runs/{rid}/join",
                params={"cancel_on_disconnect": "true"},
                timeout=0.3,
            )
    await _wait_status(client, tid, rid, {"interrupted"})


async def _stalled_reader(server: ServerProcess, path: str) -> asyncio.StreamWriter:
    """A client that asks for `path` and then never reads a byte of the answer."""
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(f"GET {path} HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n".encode())
    await writer.drain()
    del reader  # never read: its socket buffers fill and the server's writes to it stall
    return writer


async def test_cancel_does_not_wait_for_readers(
    client: LangGraphClient, server: ServerProcess
) -> None:
    """Cancel is one storage write and one signal, whoever is reading the run: with ten join
    streams and ten /join waits open that read nothing, and one SDK `join_stream` parked after
    its first event, the cancel is answered and the run ends `interrupted` while every reader
    is still stalled (the issue saw cancel grow from 2 ms to ~300 ms with ten readers)."""
    tid = (await client.threads.create())["thread_id"]
    run = await client.runs.create(tid, "slow", input={"seconds": 1.0}, stream_mode=["custom"])
    rid = run["run_id"]
    await _wait_status(client, tid, rid, {"running"})
    stalled = [
        await _stalled_reader(server, f"/threads/{tid}/runs/{rid}/{kind}")
        for kind in ("stream", "join")
        for _ in range(10)
    ]
    joined = client.runs.join_stream(tid, rid, stream_mode="custom")
    first = await asyncio.wait_for(anext(joined), 30)  # then the SDK reader reads no further
    assert first.event == "custom"
    try:
        # the guard is for a hang, not a time budget: the cancel must not wait on any reader
        await asyncio.wait_for(client.runs.cancel(tid, rid), 30)
        run = await _wait_status(client, tid, rid, {"interrupted"})
        assert run["stop_reason"] == "cancelled"
        assert all(not w.is_closing() for w in stalled)  # the readers are still there, unread
    finally:
        await joined.aclose()
        for writer in stalled:
            writer.close()
