"""The SeekrFlow view through the official `seekrai` SDK: threads, thread messages, runs
(create, list, retrieve, cancel, stream, attach), plus raw HTTP for paging and conflicts."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
from seekrai import SeekrFlow
from seekrai.types import ModelSettings

from tests.support.server import ServerProcess


@pytest.fixture
def seekr(server: ServerProcess) -> Iterator[SeekrFlow]:
    yield SeekrFlow(api_key="unused", base_url=f"{server.url}/v1")


def new_agent(server: ServerProcess, graph_id: str) -> str:
    response = httpx.post(f"{server.url}/assistants", json={"graph_id": graph_id})
    response.raise_for_status()
    return str(response.json()["assistant_id"])


def wait_run(seekr: SeekrFlow, thread_id: str, run_id: str, limit: float = 15) -> object:
    deadline = time.monotonic() + limit
    while True:
        run = seekr.agents.runs.retrieve(run_id, thread_id)
        if not run.is_active:
            return run
        assert time.monotonic() < deadline, f"run stayed {run.status}"
        time.sleep(0.05)


def test_threads_messages_and_a_run(seekr: SeekrFlow) -> None:
    thread = seekr.agents.threads.create(project="demo")
    assert thread.status == "available" and thread.meta_data == {"project": "demo"}
    assert seekr.agents.threads.retrieve(thread.id).id == thread.id
    assert thread.id in [t.id for t in seekr.agents.threads.list(limit=100)]

    sent = seekr.agents.threads.create_message(thread.id, "user", "what is 6 * 7", source="t")
    assert sent.role == "user" and sent.content == "what is 6 * 7"
    assert sent.meta_data == {"source": "t"}

    created = seekr.agents.runs.run(
        "default_agent", thread.id, model_settings=ModelSettings(temperature=0.3, top_p=0.9)
    )
    assert created.thread_id == thread.id and created.status == "queued"
    run = wait_run(seekr, thread.id, created.run_id)
    assert run.status == "completed" and run.completed_at is not None  # type: ignore[attr-defined]
    assert run.failed_at is None and run.cancelled_at is None  # type: ignore[attr-defined]
    assert run.model == "scripted-chat-model"  # type: ignore[attr-defined]
    assert run.temperature == 0.3 and run.top_p == 0.9  # type: ignore[attr-defined]
    assert run.usage is not None and run.usage.total_tokens > 0  # type: ignore[attr-defined]
    assert {t["function"]["name"] for t in run.tools} >= {"calculator"}  # type: ignore[attr-defined]
    assert [r.id for r in seekr.agents.runs.list(thread.id)] == [created.run_id]

    messages = seekr.agents.threads.list_messages(thread.id, order="asc")
    assert [m.role for m in messages] == ["user", "assistant", "tool", "assistant"]
    assert messages[-1].content == "The answer is 42."
    assert messages[0].id == sent.id
    assert seekr.agents.threads.list_messages(thread.id, limit=1)[0].id == messages[-1].id

    assert seekr.agents.threads.delete(thread.id) == {"deleted": True}
    with pytest.raises(Exception, match=r"404|not found"):
        seekr.agents.threads.retrieve(thread.id)


def test_cancel_and_locked_thread(seekr: SeekrFlow, server: ServerProcess) -> None:
    agent = new_agent(server, "slow")
    thread = seekr.agents.threads.create()
    created = seekr.agents.runs.run(agent, thread.id)
    deadline = time.monotonic() + 10
    while seekr.agents.runs.retrieve(created.run_id, thread.id).status != "running":
        assert time.monotonic() < deadline
        time.sleep(0.02)
    locked = seekr.agents.threads.retrieve(thread.id)
    assert locked.status == "locked" and locked.active_run_id == created.run_id
    busy = httpx.post(f"{server.url}/v1/threads/{thread.id}/runs", json={"agent_id": agent})
    assert busy.status_code == 409 and created.run_id in busy.json()["detail"]

    answer = seekr.agents.runs.cancel(agent, created.run_id, thread.id)
    assert answer == {"status": "canceled", "run_id": created.run_id}
    run = wait_run(seekr, thread.id, created.run_id)
    assert run.status == "cancelled" and run.cancelled_at is not None  # type: ignore[attr-defined]
    assert run.is_active is False  # type: ignore[attr-defined]
    again = httpx.post(f"{server.url}/v1/threads/{thread.id}/runs/{created.run_id}/cancel")
    assert again.json() == {"status": "cancelled", "run_id": created.run_id}
    assert seekr.agents.threads.retrieve(thread.id).status == "available"


def test_stream_and_attach(seekr: SeekrFlow) -> None:
    thread = seekr.agents.threads.create()
    seekr.agents.threads.create_message(thread.id, "user", "weather in Oslo")
    stream = seekr.agents.runs.run("agent", thread.id, stream=True)
    events = list(stream.raw_events())  # type: ignore[union-attr]
    kinds = [e.get("type") for e in events if isinstance(e, dict)]
    assert kinds[0] == "start" and kinds[-1] == "finish"
    assert "tool-input-available" in kinds and "tool-output-available" in kinds
    text = "".join(
        e["delta"] for e in events if isinstance(e, dict) and e.get("type") == "text-delta"
    )
    assert text == "The weather: cloudy, 20°C in Oslo."

    run_id = events[-1]["messageMetadata"]["run_id"]
    attached = list(seekr.agents.runs.attach(run_id, thread.id))
    assert [e["type"] for e in attached] == kinds


def test_offset_paging_and_errors(seekr: SeekrFlow, server: ServerProcess) -> None:
    thread = seekr.agents.threads.create()
    ids = []
    for i in range(5):
        seekr.agents.threads.create_message(thread.id, "user", f"hello {i}")
        created = seekr.agents.runs.run("echo", thread.id)
        wait_run(seekr, thread.id, created.run_id)
        ids.append(created.run_id)
    base = f"{server.url}/v1/threads/{thread.id}/runs"
    assert [r["id"] for r in httpx.get(base).json()] == ids[::-1]
    page = httpx.get(base, params={"limit": 2, "offset": 1, "order": "asc"}).json()
    assert [r["id"] for r in page] == ids[1:3]
    assert httpx.get(base, params={"limit": 0}).json() == []
    assert httpx.get(base, params={"order": "sideways"}).status_code == 422
    missing = "00000000-0000-4000-8000-000000000000"
    assert httpx.get(f"{server.url}/v1/threads/{missing}/runs").status_code == 404
    assert httpx.get(f"{base}/{missing}").status_code == 404
    bad_agent = httpx.post(base, json={"agent_id": "no-such-graph"})
    assert bad_agent.status_code == 422 and "detail" in bad_agent.json()
    bad_role = httpx.post(
        f"{server.url}/v1/threads/{thread.id}/messages", json={"role": "robot", "content": "x"}
    )
    assert bad_role.status_code == 422
