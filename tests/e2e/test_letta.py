"""The Letta view through the official `letta-client`: sends, list/filter/auto-paging, retrieve,
usage/steps/messages, cancel and stream resume (raw HTTP for what the SDK does not expose)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import letta_client
import pytest
from letta_client import Letta

from tests.support.server import TEST_PROJECT, ServerProcess


@pytest.fixture
def letta(server: ServerProcess) -> Iterator[Letta]:
    client = Letta(base_url=server.url, api_key="unused", max_retries=0)
    yield client
    client.close()


def new_agent(server: ServerProcess, graph_id: str) -> str:
    """An assistant of our own, so agent filters see only this test's runs."""
    response = httpx.post(f"{server.url}/assistants", json={"graph_id": graph_id})
    response.raise_for_status()
    return f"agent-{response.json()['assistant_id']}"


def wait_terminal(letta: Letta, run_id: str, limit: float = 15) -> letta_client.types.agents.Run:
    deadline = time.monotonic() + limit
    while True:
        run = letta.runs.retrieve(run_id)
        if run.status in ("completed", "failed", "cancelled"):
            return run
        if time.monotonic() > deadline:
            raise AssertionError(f"run {run_id} stayed {run.status}")
        time.sleep(0.05)


def test_sync_send_and_run_analytics(letta: Letta) -> None:
    response = letta.agents.messages.create(
        agent_id="agent", messages=[{"role": "user", "content": "what is 2 + 3"}]
    )
    assert response.stop_reason.stop_reason == "end_turn"
    kinds = [m.message_type for m in response.messages]
    assert kinds == [
        "user_message",
        "tool_call_message",
        "tool_return_message",
        "assistant_message",
    ]
    assert response.messages[-1].content == "The answer is 5."
    assert response.usage.step_count == 2 and response.usage.total_tokens
    run_id = response.usage.run_ids[0]

    run = letta.runs.retrieve(run_id)
    assert run.id == run_id and run.id.startswith("run-") and run.agent_id.startswith("agent-")
    assert run.status == "completed" and run.stop_reason == "end_turn"
    assert run.background is False and run.completed_at is not None
    assert run.ttft_ns and run.total_duration_ns and 0 < run.ttft_ns <= run.total_duration_ns
    # bare uuid works as well as run-<uuid>
    assert letta.runs.retrieve(run_id.removeprefix("run-")).id == run_id

    usage = letta.runs.usage.retrieve(run_id)
    assert usage.total_tokens == response.usage.total_tokens
    assert usage.prompt_tokens and usage.completion_tokens
    steps = list(letta.runs.steps.list(run_id, order="asc"))
    assert [s.model_extra["kind"] for s in steps] == ["llm_call", "tool_call", "llm_call"]
    assert all(s.model_extra["duration_ns"] > 0 for s in steps)
    assert sum(s.total_tokens or 0 for s in steps) == usage.total_tokens
    messages = list(letta.runs.messages.list(run_id))
    assert [m.message_type for m in messages] == kinds


def test_list_filters_and_auto_paging(letta: Letta, server: ServerProcess) -> None:
    agent = new_agent(server, "echo")
    ids = []
    for i in range(7):
        run = letta.agents.messages.create_async(agent_id=agent, input=f"hello {i}")
        assert run.status in ("created", "running") and run.background is True
        ids.append(run.id)
    for run_id in ids:
        assert wait_terminal(letta, run_id).status == "completed"

    newest_first = [r.id for r in letta.runs.list(agent_id=agent, limit=3)]
    assert newest_first == ids[::-1]  # auto-paging: 3 + 3 + 1, then an empty page ends it
    oldest_first = [r.id for r in letta.runs.list(agent_id=agent, limit=2, order="asc")]
    assert oldest_first == ids
    assert [r.id for r in letta.runs.list(agent_id=agent, ascending=True, limit=100)] == ids

    page = letta.runs.list(agent_id=agent, limit=2, after=ids[4])  # desc: older than ids[4]
    assert [r.id for r in page.items] == [ids[3], ids[2]]
    page = letta.runs.list(agent_id=agent, limit=2, before=ids[2])  # desc: newer than ids[2]
    assert [r.id for r in page.items] == [ids[4], ids[3]]
    page = letta.runs.list(agent_id=agent, limit=2, order="asc", before=ids[2])
    assert [r.id for r in page.items] == [ids[0], ids[1]]

    bare = agent.removeprefix("agent-")
    assert len(list(letta.runs.list(agent_id=bare))) == 7
    assert len(list(letta.runs.list(agent_ids=[agent]))) == 7
    assert len(list(letta.runs.list(agent_id=agent, statuses=["completed"]))) == 7
    assert list(letta.runs.list(agent_id=agent, statuses=["failed", "cancelled"])) == []
    assert list(letta.runs.list(agent_id=agent, active=True)) == []
    assert len(list(letta.runs.list(agent_id=agent, background=True))) == 7
    assert list(letta.runs.list(agent_id=agent, background=False)) == []
    assert len(list(letta.runs.list(agent_id=agent, stop_reason="end_turn"))) == 7

    with pytest.raises(letta_client.UnprocessableEntityError):
        letta.runs.list(statuses=["bogus"])
    with pytest.raises(letta_client.UnprocessableEntityError):
        letta.runs.list(limit=1001)
    with pytest.raises(letta_client.NotFoundError):
        letta.runs.retrieve("run-00000000-0000-4000-8000-000000000000")
    with pytest.raises(letta_client.BadRequestError):
        letta.runs.retrieve("run-not-a-uuid")


def test_cancel_through_agent_endpoint(letta: Letta, server: ServerProcess) -> None:
    agent = new_agent(server, "slow")
    run = letta.agents.messages.create_async(agent_id=agent, input="tick")
    deadline = time.monotonic() + 10
    while letta.runs.retrieve(run.id).status != "running":
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert [r.id for r in letta.runs.list(agent_id=agent, active=True)] == [run.id]
    result = letta.agents.messages.cancel(agent_id=agent)
    assert result == {run.id: "cancelled"}
    final = wait_terminal(letta, run.id)
    assert final.status == "cancelled" and final.stop_reason == "cancelled"
    assert [r.id for r in letta.runs.list(agent_id=agent, statuses=["cancelled"])] == [run.id]
    with pytest.raises(letta_client.ConflictError):
        letta.agents.messages.cancel(agent_id=agent)
    # naming an ended run is a no-op that reports its status
    assert letta.agents.messages.cancel(agent_id=agent, run_ids=[run.id]) == {run.id: "cancelled"}


def test_stream_resume(letta: Letta, server: ServerProcess) -> None:
    run = letta.agents.messages.create_async(agent_id="agent", input="weather in Oslo")
    wait_terminal(letta, run.id)
    full = list(letta.runs.messages.stream(run.id))
    assert [c.message_type for c in full[-2:]] == ["stop_reason", "usage_statistics"]
    seqs = [c.seq_id for c in full]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    text = "".join(c.content for c in full if c.message_type == "assistant_message")
    assert text == "The weather: cloudy, 20°C in Oslo."
    assert any(c.message_type == "tool_call_message" for c in full)
    assert any(c.message_type == "tool_return_message" for c in full)

    cut = full[3].seq_id
    resumed = list(letta.runs.messages.stream(run.id, starting_after=cut))
    assert [c.seq_id for c in resumed] == [s for s in seqs if s > cut]

    # the raw wire: data-only lines ending with [DONE]
    raw = httpx.post(f"{server.url}/v1/runs/{run.id}/stream", json={"starting_after": cut})
    lines = [line for line in raw.text.splitlines() if line]
    assert all(line.startswith("data: ") for line in lines) and lines[-1] == "data: [DONE]"

    sync = letta.agents.messages.create(agent_id="echo", input="hi")
    with pytest.raises(letta_client.BadRequestError):
        list(letta.runs.messages.stream(sync.usage.run_ids[0]))


def test_streaming_send(letta: Letta) -> None:
    chunks = list(
        letta.agents.messages.stream(agent_id="agent", input="what is 6 * 7", background=True)
    )
    assert chunks[-2].message_type == "stop_reason" and chunks[-2].stop_reason == "end_turn"
    text = "".join(c.content for c in chunks if c.message_type == "assistant_message")
    assert text == "The answer is 42."
    run_id = chunks[-1].run_ids[0]
    assert letta.runs.retrieve(run_id).background is True


def test_retention_and_api_keys(tmp_path: Path) -> None:
    """Past retention a resume is 410; with api_keys set, /v1 needs a key (Bearer or bare)."""
    proc = ServerProcess(
        TEST_PROJECT,
        tmp_path / "threadloom.db",
        env={"THREADLOOM_RESUMABLE_STREAM_TTL_SECONDS": "0.5", "THREADLOOM_API_KEYS": '["k1"]'},
    )
    proc.start()
    try:
        with Letta(base_url=proc.url, api_key="wrong", max_retries=0) as bad:
            with pytest.raises(letta_client.AuthenticationError):
                bad.runs.list()
        with Letta(base_url=proc.url, api_key="k1", max_retries=0) as client:
            run = client.agents.messages.create_async(agent_id="echo", input="hi")
            wait_terminal(client, run.id)
            time.sleep(1.0)
            with pytest.raises(letta_client.APIStatusError) as info:
                list(client.runs.messages.stream(run.id))
            assert info.value.status_code == 410
        bare = httpx.get(f"{proc.url}/v1/runs/", headers={"Authorization": "k1"})
        assert bare.status_code == 200 and len(bare.json()) == 1
        missing = httpx.get(f"{proc.url}/v1/threads/")
        assert missing.status_code == 401 and "detail" in missing.json()
    finally:
        proc.stop()
