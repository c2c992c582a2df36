"""The bundled example agent, driven as the README shows: tokens, tools, approval, resume."""

from __future__ import annotations

from langgraph_sdk.client import LangGraphClient


async def test_agent_streams_pauses_for_approval_and_resumes(client: LangGraphClient) -> None:
    thread = await client.threads.create()
    tid = thread["thread_id"]

    tokens = [
        part.data
        async for part in client.runs.stream(
            tid,
            "agent",
            input={"messages": [{"role": "user", "content": "What is 12 * 7?"}]},
            stream_mode="messages-tuple",
        )
        if part.event == "messages"
    ]
    assert tokens, "no tokens streamed"
    state = await client.threads.get_state(tid)
    messages = state["values"]["messages"]
    assert any(m["type"] == "tool" and "84" in str(m["content"]) for m in messages)
    assert messages[-1]["type"] == "ai" and "84" in messages[-1]["content"]
    assert messages[-1]["usage_metadata"]["total_tokens"] > 0

    paused = await client.runs.wait(
        tid, "agent", input={"messages": [{"role": "user", "content": "Send an email to Ann"}]}
    )
    assert paused["__interrupt__"][0]["value"]["tool_calls"][0]["name"] == "send_email"
    assert (await client.threads.get(tid))["status"] == "interrupted"

    done = await client.runs.wait(tid, "agent", command={"resume": {"approved": True}})
    assert "sent" in done["messages"][-1]["content"]
    assert (await client.threads.get(tid))["status"] == "idle"

    runs = await client.runs.list(tid)
    assert [r["status"] for r in runs] == ["success", "success", "success"]
    assert runs[1]["stop_reason"] == "requires_approval"
    assert runs[2]["usage"]["total_tokens"] > 0
