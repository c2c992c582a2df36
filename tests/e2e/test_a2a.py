"""`/a2a/{assistant_id}` driven by the official `a2a-sdk` client (A2A 1.0 over JSON-RPC): card
discovery, send, stream, get, cancel, multi-turn on one context; raw HTTP for the 0.3 method
names and the protocol errors the client never shows."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from a2a.client import A2ACardResolver, Client, ClientConfig, create_client
from a2a.types import (
    CancelTaskRequest,
    GetTaskRequest,
    ListTasksRequest,
    Message,
    SendMessageRequest,
    StreamResponse,
    Task,
    TaskNotCancelableError,
    TaskNotFoundError,
    TaskState,
)
from google.protobuf.json_format import MessageToDict, ParseDict

from tests.support.server import ServerProcess
from threadloom.graphs.registry import system_assistant_id

AGENT = system_assistant_id("agent")
ECHO = system_assistant_id("echo")


@asynccontextmanager
async def a2a_client(
    server: ServerProcess, assistant_id: str, *, streaming: bool = False, polling: bool = False
) -> AsyncIterator[Client]:
    async with httpx.AsyncClient(timeout=60) as http:
        config = ClientConfig(streaming=streaming, polling=polling, httpx_client=http)
        client = await create_client(f"{server.url}/a2a/{assistant_id}", config)
        try:
            yield client
        finally:
            await client.close()


def message(*parts: dict[str, Any], context_id: str | None = None) -> SendMessageRequest:
    body: dict[str, Any] = {
        "messageId": str(uuid.uuid4()),
        "role": "ROLE_USER",
        "parts": list(parts),
    }
    if context_id:
        body["contextId"] = context_id
    return SendMessageRequest(message=ParseDict(body, Message()))


async def send(client: Client, request: SendMessageRequest) -> Task:
    (response,) = [r async for r in client.send_message(request)]
    assert response.HasField("task"), MessageToDict(response)
    return response.task


def texts(task: Task) -> list[str]:
    return [p.text for a in task.artifacts for p in a.parts if p.text]


async def test_agent_cards(server: ServerProcess) -> None:
    async with httpx.AsyncClient(timeout=30) as http:
        card = await A2ACardResolver(http, f"{server.url}/a2a/{AGENT}").get_agent_card()
        assert card.name == "agent"
        assert card.supported_interfaces[0].url == f"{server.url}/a2a/{AGENT}"
        assert card.supported_interfaces[0].protocol_binding == "JSONRPC"
        assert card.capabilities.streaming
        (skill,) = card.skills
        assert skill.id == f"{AGENT}-main"
        assert skill.name == "agent Capabilities"
        raw = (await http.get(f"{server.url}/a2a/{AGENT}/.well-known/agent-card.json")).json()
        assert raw["skills"][0]["metadata"]["inputSchema"]["supportsA2A"] is True
        by_query = await A2ACardResolver(http, server.url).get_agent_card(
            relative_card_path=f"/.well-known/agent-card.json?assistant_id={AGENT}"
        )
        assert by_query == card
        missing = await http.get(f"{server.url}/.well-known/agent-card.json")
        assert missing.status_code == 400
        assert missing.json()["error"]["code"] == -32602
        unknown = await http.get(f"{server.url}/a2a/{uuid.uuid4()}/.well-known/agent-card.json")
        assert unknown.status_code == 400 and "not found" in unknown.json()["detail"]


async def test_send_get_and_a_second_turn(server: ServerProcess) -> None:
    async with a2a_client(server, AGENT) as client:
        first = await send(client, message({"text": "What is 12 * 7?"}))
        assert first.status.state == TaskState.TASK_STATE_COMPLETED
        assert texts(first) == ["The answer is 84."]
        assert first.id == f"{first.context_id}:{first.id.split(':')[1]}"
        history = [MessageToDict(m) for m in first.history]
        assert history[0]["role"] == "ROLE_USER" and history[0]["parts"] == [
            {"text": "What is 12 * 7?"}
        ]
        tool = history[1]["parts"][0]["data"]["tool_results"][0]
        assert (tool["name"], tool["content"]) == ("calculator", "84")
        assert {m["taskId"] for m in history} == {first.id}

        got = await client.get_task(GetTaskRequest(id=first.id, history_length=1))
        assert got.status.state == TaskState.TASK_STATE_COMPLETED
        assert got.status.message.parts[0].text == "Task completed successfully"
        assert [m.parts[0].text for m in got.history] == ["The answer is 84."]

        second = await send(client, message({"text": "hello"}, context_id=first.context_id))
        assert second.context_id == first.context_id and second.id != first.id
        assert texts(second)[0].startswith("Hello!")
        # the context's whole history, each message stamped with the task that added it
        task_of = [(m.role, m.task_id) for m in second.history]
        assert task_of[0] == (1, first.id)  # ROLE_USER
        assert task_of[-1][1] == second.id
        assert len(second.history) == len(first.history) + 2

        with pytest.raises(TaskNotFoundError):
            await client.get_task(GetTaskRequest(id=f"{first.context_id}:{uuid.uuid4()}"))
        with pytest.raises(TaskNotCancelableError):
            await client.cancel_task(CancelTaskRequest(id=first.id))


async def test_stream(server: ServerProcess) -> None:
    async with a2a_client(server, AGENT, streaming=True) as client:
        events: list[StreamResponse] = [
            e async for e in client.send_message(message({"text": "What is 12 * 7?"}))
        ]
    kinds = [e.WhichOneof("payload") for e in events]
    assert kinds[0] == "task" and events[0].task.status.state == TaskState.TASK_STATE_SUBMITTED
    assert kinds[-2:] == ["artifact_update", "status_update"]
    assert set(kinds[1:-2]) == {"status_update"}
    working = [e.status_update.status for e in events[1:-2]]
    assert {s.state for s in working} == {TaskState.TASK_STATE_WORKING}
    streamed = [s.message.parts[0].text for s in working if s.message.parts[0].text]
    assert len(streamed) > 1 and streamed[-1] == "The answer is 84."  # token by token
    assert any(s.message.parts[0].HasField("data") for s in working)  # the tool's result
    assert events[-2].artifact_update.artifact.parts[0].text == "The answer is 84."
    assert events[-2].artifact_update.last_chunk
    assert events[-1].status_update.status.state == TaskState.TASK_STATE_COMPLETED
    task_id = events[0].task.id
    assert {e.status_update.task_id for e in events[1:] if e.HasField("status_update")} == {task_id}


async def test_cancel_a_running_task(server: ServerProcess, http: httpx.AsyncClient) -> None:
    slow = system_assistant_id("slow")
    async with a2a_client(server, slow, polling=True) as client:  # returnImmediately
        task = await send(client, message({"data": {"seconds": 30}}))
        assert task.status.state == TaskState.TASK_STATE_SUBMITTED
        canceled = await client.cancel_task(CancelTaskRequest(id=task.id))
        assert canceled.status.state == TaskState.TASK_STATE_CANCELED
        got = await client.get_task(GetTaskRequest(id=task.id))
        assert got.status.state == TaskState.TASK_STATE_CANCELED
    context_id, run_id = task.id.split(":")
    run = (await http.get(f"/threads/{context_id}/runs/{run_id}")).json()
    assert run["status"] == "interrupted"


async def test_data_parts_failures_and_schema_checks(server: ServerProcess) -> None:
    async with a2a_client(server, system_assistant_id("appender")) as client:
        task = await send(client, message({"data": {"items": ["given"], "delay": 0}}))
        assert task.status.state == TaskState.TASK_STATE_COMPLETED
        # no messages in the output: the answer is the output itself
        assert texts(task) == [
            str({"items": ["given", "after-1"], "delay": 0.0})
        ]  # a protobuf number
        with pytest.raises(Exception, match="does not support A2A conversational messages"):
            await send(client, message({"text": "hi"}))
    async with a2a_client(server, system_assistant_id("failing")) as client:
        failed = await send(client, message({"text": "hi"}))
        assert failed.status.state == TaskState.TASK_STATE_FAILED
        assert failed.status.message.parts[0].text == "Error executing assistant: ValueError"


async def _rpc(http: httpx.AsyncClient, path: str, body: Any, **headers: str) -> httpx.Response:
    return await http.post(path, json=body, headers={"Accept": "application/json", **headers})


async def test_legacy_method_names_and_protocol_errors(http: httpx.AsyncClient) -> None:
    path = f"/a2a/{ECHO}"
    sent = await _rpc(
        http,
        path,
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "message/send",
            "params": {
                "message": {
                    "role": "user",
                    "messageId": "m-1",
                    "parts": [{"kind": "text", "text": "hi"}],
                }
            },
        },
    )
    result = sent.json()["result"]  # 0.3: the Task itself, lower-case states and roles
    assert result["kind"] == "task" and result["status"]["state"] == "completed"
    assert [m["role"] for m in result["history"]] == ["user", "agent"]
    assert result["artifacts"][0]["parts"] == [{"kind": "text", "text": "echo: hi"}]
    got = await _rpc(
        http,
        path,
        {"jsonrpc": "2.0", "id": 2, "method": "tasks/get", "params": {"id": result["id"]}},
    )
    assert got.json()["result"]["status"]["state"] == "completed"

    async with http.stream(
        "POST",
        path,
        json={
            "jsonrpc": "2.0",
            "id": 3,
            "method": "message/stream",
            "params": {
                "message": {
                    "role": "user",
                    "messageId": "m-2",
                    "parts": [{"kind": "text", "text": "yo"}],
                }
            },
        },
        headers={"Accept": "text/event-stream"},
    ) as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        lines = [line async for line in stream.aiter_lines() if line.startswith("data: ")]
    import json

    items = [json.loads(line[6:])["result"] for line in lines]
    assert items[0]["kind"] == "task" and items[0]["status"]["state"] == "submitted"
    assert items[-1] == {**items[-1], "kind": "status-update", "final": True}
    assert items[-1]["status"]["state"] == "completed"
    assert items[-2]["kind"] == "artifact-update"

    errors = {
        "unknown method": ({"jsonrpc": "2.0", "id": 4, "method": "nope"}, -32601),
        "no jsonrpc": ({"id": 5, "method": "tasks/get"}, -32600),
        "no id": ({"jsonrpc": "2.0", "method": "tasks/get"}, -32600),
        "no messageId": (
            {
                "jsonrpc": "2.0",
                "id": 6,
                "method": "message/send",
                "params": {"message": {"role": "user", "parts": [{"kind": "text", "text": "x"}]}},
            },
            -32602,
        ),
        "no task id": ({"jsonrpc": "2.0", "id": 7, "method": "tasks/get", "params": {}}, -32602),
        "unknown task": (
            {"jsonrpc": "2.0", "id": 8, "method": "tasks/get", "params": {"id": "a:b"}},
            -32001,
        ),
        "history too long": (
            {
                "jsonrpc": "2.0",
                "id": 9,
                "method": "tasks/get",
                "params": {"id": result["id"], "historyLength": 11},
            },
            -32602,
        ),
    }
    for name, (body, code) in errors.items():
        answer = await _rpc(http, path, body)
        assert answer.status_code == 200, name
        assert answer.json()["error"]["code"] == code, (name, answer.json())
    broken = await http.post(path, content=b"{", headers={"Accept": "application/json"})
    assert broken.json()["error"]["code"] == -32700
    bad_id = await _rpc(
        http,
        "/a2a/not-a-uuid",
        {"jsonrpc": "2.0", "id": 1, "method": "tasks/get", "params": {"id": "x"}},
    )
    assert bad_id.json()["error"] == {
        "code": -32602,
        "message": "Invalid assistant ID: must be a UUID",
    }
    no_sse = await _rpc(
        http, path, {"jsonrpc": "2.0", "id": 1, "method": "message/stream", "params": {}}
    )
    assert no_sse.status_code == 400 and "text/event-stream" in no_sse.json()["detail"]
    assert (await http.delete(path)).status_code == 405
    assert (await http.get(path)).json()["name"] == "echo"  # GET on the agent's URL: its card


async def test_input_required_resumes_on_the_same_task(server: ServerProcess) -> None:
    async with a2a_client(server, system_assistant_id("approval")) as client:
        paused = await send(client, message({"data": {"request": "deploy"}}))
        assert paused.status.state == TaskState.TASK_STATE_INPUT_REQUIRED
        (artifact,) = paused.artifacts
        assert artifact.name == "Interrupt"
        question = MessageToDict(artifact.parts[0].data)["value"]
        assert question == {"question": "approve deploy?"}
        got = await client.get_task(GetTaskRequest(id=paused.id))
        assert got.status.state == TaskState.TASK_STATE_INPUT_REQUIRED

        answer = message({"data": {"approved": True}}, context_id=paused.context_id)
        answer.message.task_id = paused.id
        done = await send(client, answer)
        assert done.id == paused.id  # the same task, resumed
        assert done.status.state == TaskState.TASK_STATE_COMPLETED
        assert texts(done) == [
            str({"request": "deploy", "decision": {"approved": True}, "done": True})
        ]

        # a second pause, ended by cancelling it
        again = await send(
            client, message({"data": {"request": "drop"}}, context_id=paused.context_id)
        )
        assert again.status.state == TaskState.TASK_STATE_INPUT_REQUIRED
        canceled = await client.cancel_task(CancelTaskRequest(id=again.id))
        assert canceled.status.state == TaskState.TASK_STATE_CANCELED
        got = await client.get_task(GetTaskRequest(id=again.id))
        assert got.status.state == TaskState.TASK_STATE_CANCELED
        resumed = await client.get_task(GetTaskRequest(id=paused.id))
        assert resumed.status.state == TaskState.TASK_STATE_COMPLETED
        later = message({"data": {"approved": True}}, context_id=paused.context_id)
        later.message.task_id = again.id
        with pytest.raises(Exception, match="terminal task"):
            await send(client, later)


async def test_list_tasks(server: ServerProcess, http: httpx.AsyncClient) -> None:
    async with a2a_client(server, ECHO) as client:
        first = await send(client, message({"text": "one"}))
        second = await send(client, message({"text": "two"}, context_id=first.context_id))
        listed = await client.list_tasks(ListTasksRequest(context_id=first.context_id))
        assert [t.id for t in listed.tasks] == [second.id, first.id]  # newest first
        assert listed.total_size == 2 and listed.next_page_token == ""
        assert {t.status.state for t in listed.tasks} == {TaskState.TASK_STATE_COMPLETED}
        paged = await client.list_tasks(
            ListTasksRequest(context_id=first.context_id, page_size=1, history_length=2)
        )
        assert [t.id for t in paged.tasks] == [second.id] and paged.next_page_token == "1"
        assert [m.parts[0].text for m in paged.tasks[0].history] == ["two", "echo: two"]
        rest = await client.list_tasks(
            ListTasksRequest(context_id=first.context_id, page_size=1, page_token="1")
        )
        assert [t.id for t in rest.tasks] == [first.id]
        # without a context: every context's (other tests' runs of echo are tasks too)
        everywhere = await client.list_tasks(ListTasksRequest(page_size=100))
        assert everywhere.total_size >= 2
        stamps = [t.status.timestamp.ToDatetime() for t in everywhere.tasks]
        assert stamps == sorted(stamps, reverse=True)
    bad = await _rpc(
        http,
        f"/a2a/{ECHO}",
        {"jsonrpc": "2.0", "id": 1, "method": "ListTasks", "params": {"pageSize": 0}},
    )
    assert bad.json()["error"]["code"] == -32602
