"""Deleting a thread ends its runs' replay at once: no `/join` answer, no event replay from
the retained log (which outlives the run by `resumable_stream_ttl_seconds`)."""

from __future__ import annotations

import httpx
from langgraph_sdk.client import LangGraphClient

HELLO = {"messages": [{"role": "user", "content": "hello"}]}


async def test_thread_delete_ends_join_and_replay(
    client: LangGraphClient, http: httpx.AsyncClient
) -> None:
    tid = (await client.threads.create())["thread_id"]
    run = await client.runs.create(tid, "echo", input=HELLO, stream_resumable=True)
    rid = run["run_id"]
    before = await client.runs.join(tid, rid)
    assert before["messages"][0]["content"] == "hello"
    replay = await http.get(f"/runs/{rid}/stream", headers={"Last-Event-ID": "0"})
    assert "event: values" in replay.text  # retained while the thread exists

    await client.threads.delete(tid)

    try:
        output = await client.runs.join(tid, rid)
    except httpx.HTTPStatusError as exc:
        assert exc.response.status_code == 404
    else:
        raise AssertionError(f"/join answered a deleted thread's run: {output!r}")
    replay = await http.get(f"/runs/{rid}/stream", headers={"Last-Event-ID": "0"})
    assert "event: values" not in replay.text and "event: metadata" not in replay.text
    joined = await http.get(f"/threads/{tid}/runs/{rid}/stream", headers={"Last-Event-ID": "0"})
    assert joined.status_code == 404


async def test_run_delete_ends_join_and_replay(
    client: LangGraphClient, http: httpx.AsyncClient
) -> None:
    tid = (await client.threads.create())["thread_id"]
    run = await client.runs.create(tid, "echo", input=HELLO, stream_resumable=True)
    rid = run["run_id"]
    await client.runs.join(tid, rid)
    await client.runs.delete(tid, rid)
    join = await http.get(f"/threads/{tid}/runs/{rid}/join")
    assert join.status_code == 404
    replay = await http.get(f"/runs/{rid}/stream", headers={"Last-Event-ID": "0"})
    assert "event: values" not in replay.text
