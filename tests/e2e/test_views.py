"""One run, three views: the same run read through LangGraph, Letta and SeekrFlow agrees on
identity, status (the mapping table of other-apis.md §3.3) and analytics."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

import httpx
import pytest
from langgraph_sdk.client import LangGraphClient

HI = {"messages": [{"role": "user", "content": "what is 2 + 3"}]}

# canonical outcome → (graph, input, config, cancel?, LangGraph, Letta status/stop, SeekrFlow)
CASES: dict[str, tuple[str, Any, dict[str, Any] | None, bool, str, str, str | None, str]] = {
    "finished": ("agent", HI, None, False, "success", "completed", "end_turn", "completed"),
    "awaiting_input": (
        "approval",
        {"request": "x"},
        None,
        False,
        "success",
        "completed",
        "requires_approval",
        "completed",
    ),
    "max_steps": (
        "slow",
        {"seconds": 0.01},
        {"recursion_limit": 2},
        False,
        "error",
        "completed",
        "max_steps",
        "failed",
    ),
    "exception": ("failing", HI, None, False, "error", "failed", "error", "failed"),
    "cancelled": (
        "slow",
        {"seconds": 0.3},
        None,
        True,
        "interrupted",
        "cancelled",
        "cancelled",
        "cancelled",
    ),
}


async def _ended(client: LangGraphClient, tid: str, rid: str) -> dict[str, Any]:
    for _ in range(400):
        run = await client.runs.get(tid, rid)
        if run["status"] not in ("pending", "running"):
            return dict(run)
        await asyncio.sleep(0.025)
    raise AssertionError("run did not end")


@pytest.mark.parametrize("case", list(CASES))
async def test_status_mapping_table(
    case: str, client: LangGraphClient, http: httpx.AsyncClient
) -> None:
    graph, graph_input, config, cancel, lg_status, letta_status, letta_stop, seekr_status = CASES[
        case
    ]
    thread = await client.threads.create()
    tid = thread["thread_id"]
    run = await client.runs.create(tid, graph, input=graph_input, config=config)  # type: ignore[arg-type]
    rid = run["run_id"]
    if cancel:
        for _ in range(400):
            if (await client.runs.get(tid, rid))["status"] == "running":
                break
            await asyncio.sleep(0.01)
        await client.runs.cancel(tid, rid)
    lg = await _ended(client, tid, rid)
    letta = (await http.get(f"/v1/runs/run-{rid}")).json()
    seekr = (await http.get(f"/v1/threads/{tid}/runs/{rid}")).json()

    assert lg["status"] == lg_status
    assert (letta["status"], letta["stop_reason"]) == (letta_status, letta_stop)
    assert seekr["status"] == seekr_status and seekr["is_active"] is False

    # identity and timestamps agree
    assert letta["id"] == f"run-{rid}" and seekr["id"] == rid
    assert (
        letta["agent_id"] == f"agent-{lg['assistant_id']}"
        and seekr["agent_id"] == lg["assistant_id"]
    )
    assert letta["conversation_id"] == seekr["thread_id"] == tid
    ended = {"completed": "completed_at", "failed": "failed_at", "cancelled": "cancelled_at"}
    # one instant, each API in its own spelling (LangGraph `+00:00`, Letta `Z`)
    assert (
        _instant(letta["completed_at"])
        == _instant(lg["ended_at"])
        == _instant(seekr[ended[seekr_status]])
    )
    # analytics agree in every view
    for key in ("ttft_ns", "total_duration_ns"):
        assert lg[key] == letta[key] == seekr[key]
    assert lg["total_duration_ns"] > 0
    if lg_status in ("error",) and letta_stop == "error":
        assert "ValueError" in letta["metadata"]["error"]
        assert seekr["meta_data"]["error"]["error"] == "ValueError"

    # and each view's list filter finds it under its own vocabulary
    listed = (
        await http.get(
            "/v1/runs/",
            params={"agent_id": lg["assistant_id"], "statuses": letta_status, "limit": 1000},
        )
    ).json()
    assert f"run-{rid}" in [r["id"] for r in listed]
    assert [r["status"] for r in (await http.get(f"/v1/threads/{tid}/runs")).json()] == [
        seekr_status
    ]


async def test_usage_agrees_across_views(client: LangGraphClient, http: httpx.AsyncClient) -> None:
    thread = await client.threads.create()
    tid = thread["thread_id"]
    run = await client.runs.create(tid, "agent", input=HI)
    lg = await _ended(client, tid, run["run_id"])
    letta = (await http.get(f"/v1/runs/run-{run['run_id']}/usage")).json()
    seekr = (await http.get(f"/v1/threads/{tid}/runs/{run['run_id']}")).json()
    assert lg["usage"]["total_tokens"] == letta["total_tokens"] == seekr["usage"]["total_tokens"]
    assert lg["usage"]["prompt_tokens"] == letta["prompt_tokens"] == seekr["usage"]["prompt_tokens"]
    assert lg["usage"]["step_count"] == 2 and lg["step_count"] == 3  # 2 LLM calls + 1 tool call
    assert 0 < lg["ttft_ns"] < lg["total_duration_ns"]


def _instant(value: Any) -> Any:
    """A timestamp as an aware datetime (ISO strings) or as it is (SeekrFlow's epoch numbers)."""
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if isinstance(value, str) else value
