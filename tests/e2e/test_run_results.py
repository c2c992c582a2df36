"""What runs answer, compared with the reference server: output schemas, join headers, a join
that outlives the streaming client, context defaults, cancel actions, request headers in the
run's configurable, LANGGRAPH_CONFIG and the config schema."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
from langgraph_sdk.client import LangGraphClient

SHAPED_OUT = {"answer": "re: q"}
SHAPED_STATE = {"question": "q", "answer": "re: q", "scratch": "internal notes"}


async def test_wait_join_and_stream_follow_the_output_schema(client: LangGraphClient) -> None:
    tid = (await client.threads.create())["thread_id"]
    assert await client.runs.wait(tid, "runs_shaped", input={"question": "q"}) == SHAPED_OUT
    assert (await client.threads.get_state(tid))["values"] == SHAPED_STATE
    assert (await client.threads.get(tid))["values"] == SHAPED_STATE
    assert await client.runs.wait(None, "runs_shaped", input={"question": "q"}) == SHAPED_OUT

    run = await client.runs.create(tid, "runs_shaped", input={"question": "q"})
    assert await client.runs.join(tid, run["run_id"]) == SHAPED_OUT

    events = [
        (part.event, part.data)
        async for part in client.runs.stream(
            tid, "runs_shaped", input={"question": "q"}, stream_mode=["values", "updates"]
        )
        if part.event != "metadata"
    ]
    # no values event for the input (it writes no output key), as in the reference
    assert events == [("updates", {"answer": {"answer": "re: q"}}), ("values", SHAPED_OUT)]


async def test_join_routes_say_where_the_run_is(
    client: LangGraphClient, http: httpx.AsyncClient
) -> None:
    tid = (await client.threads.create())["thread_id"]
    run = await client.runs.create(tid, "runs_shaped", input={"question": "q"})
    path = f"/threads/{tid}/runs/{run['run_id']}"
    joined = await http.get(f"{path}/join")
    assert joined.json() == SHAPED_OUT
    assert joined.headers["content-location"] == path
    assert joined.headers["location"] == f"{path}/join"
    async with http.stream("GET", f"{path}/stream") as streamed:
        await streamed.aread()
    assert streamed.headers["content-location"] == path
    assert streamed.headers["location"] == f"{path}/stream"

    slow = await client.runs.create(tid, "slow", input={"seconds": 0.2})
    slow_path = f"/threads/{tid}/runs/{slow['run_id']}"
    cancelled = await http.post(f"{slow_path}/cancel", params={"wait": 1})
    assert cancelled.status_code == 200
    assert cancelled.headers["content-location"] == slow_path
    assert cancelled.headers["location"] == f"{slow_path}/join"


async def test_join_answers_after_the_streaming_client_went_away(
    client: LangGraphClient, http: httpx.AsyncClient
) -> None:
    tid = (await client.threads.create())["thread_id"]
    async with http.stream(
        "POST",
        f"/threads/{tid}/runs/stream",
        json={"assistant_id": "slow", "input": {"seconds": 0.3}, "stream_mode": "custom"},
    ) as streamed:
        rid = streamed.headers["content-location"].rsplit("/", 1)[-1]
        async for line in streamed.aiter_lines():
            if line.startswith("event: custom"):
                break
        join = asyncio.ensure_future(client.runs.join(tid, rid))
        await asyncio.sleep(0.1)  # let the join park beside the stream's reader
    # the stream's client is gone (on_disconnect defaults to continue): the run goes on
    assert await join == {"steps": 5, "seconds": 0.3}
    assert (await client.runs.get(tid, rid))["status"] == "success"


async def test_limit_zero_is_an_empty_page(
    client: LangGraphClient, http: httpx.AsyncClient
) -> None:
    tid = (await client.threads.create())["thread_id"]
    await client.runs.wait(tid, "runs_shaped", input={"question": "q"})
    assert await client.runs.list(tid, limit=0) == []
    history = await http.get(f"/threads/{tid}/history", params={"limit": 0})
    assert history.status_code == 200 and history.json() == []
    assert len(await client.runs.list(tid)) == 1


async def test_context_schema_defaults_when_a_run_sends_no_context(
    client: LangGraphClient,
) -> None:
    tid = (await client.threads.create())["thread_id"]
    assert (await client.runs.wait(tid, "runs_contextual", input={}))["model"] == "default-model"
    assert (await client.runs.wait(None, "runs_contextual", input={}))["model"] == "default-model"
    partial = await client.runs.wait(None, "runs_contextual", input={}, context={"model": "m2"})
    assert partial["model"] == "m2"

    paused = (await client.threads.create())["thread_id"]
    first = await client.runs.wait(paused, "runs_contextual", input={"ask": True})
    assert first["__interrupt__"][0]["value"] == "which?"
    resumed = await client.runs.wait(paused, "runs_contextual", command={"resume": "yes"})
    assert resumed == {"ask": True, "model": "default-model", "reply": "yes"}


async def test_an_unknown_cancel_action_interrupts(
    client: LangGraphClient, http: httpx.AsyncClient
) -> None:
    tid = (await client.threads.create())["thread_id"]
    one = await client.runs.create(tid, "slow", input={"seconds": 0.3})
    r = await http.post(f"/threads/{tid}/runs/{one['run_id']}/cancel", params={"action": "bogus"})
    assert r.status_code == 202
    assert (await client.runs.join(tid, one["run_id"])) is not None
    assert (await client.runs.get(tid, one["run_id"]))["status"] == "interrupted"

    other = await client.runs.create(tid, "slow", input={"seconds": 0.3})
    r = await http.post(
        "/runs/cancel",
        params={"action": "bogus"},
        json={"thread_id": tid, "run_ids": [other["run_id"]]},
    )
    assert r.status_code == 204
    await client.runs.join(tid, other["run_id"])
    assert (await client.runs.get(tid, other["run_id"]))["status"] == "interrupted"
    # nothing left to cancel: the reference's 404, not a 422 about the action
    r = await http.post("/runs/cancel", params={"action": "bogus"}, json={"status": "pending"})
    assert r.status_code == 404


def _seen(result: dict) -> dict:
    return result["seen"]


async def test_request_headers_in_the_runs_configurable(http: httpx.AsyncClient) -> None:
    headers = {
        "x-custom-thing": "abc",
        "x-api-key": "secret",
        "user-agent": "agent/1",
        "x-request-id": "req-123",
        "langsmith-trace": "20240101T000000000000Ztrace",
        "baggage": "langsmith-project=p%20x,langsmith-tags=a%2Cb,other=1",
    }
    body = {"assistant_id": "runs_headers", "input": {}}
    # no x-* header without http.configurable_headers (the reference's default); the request id
    # and LangSmith's trace headers always
    seen = _seen((await http.post("/runs/wait", json=body, headers=headers)).json())
    assert seen == {"prefix": "from-env", "langgraph_request_id": "req-123"}

    tid = (await http.post("/threads", json={})).json()["thread_id"]
    created = await http.post(f"/threads/{tid}/runs", json=body, headers=headers)
    run = created.json()
    await http.get(f"/threads/{tid}/runs/{run['run_id']}/join")
    configurable = (await http.get(f"/threads/{tid}/runs/{run['run_id']}")).json()["kwargs"][
        "config"
    ]["configurable"]
    assert "x-custom-thing" not in configurable and "x-api-key" not in configurable
    assert "user-agent" not in configurable
    assert configurable["langsmith-trace"] == "20240101T000000000000Ztrace"
    assert configurable["langsmith-project"] == "p x"
    assert configurable["langsmith-tags"] == ["a", "b"]

    # without an x-request-id every run still gets one; /runs/batch is served by FastAPI
    batch = await http.post("/runs/batch", json=[{**body, "on_completion": "keep"}])
    item = batch.json()[0]
    await http.get(f"/threads/{item['thread_id']}/runs/{item['run_id']}/join")
    kept = (await http.get(f"/threads/{item['thread_id']}/runs/{item['run_id']}")).json()
    assert uuid.UUID(kept["kwargs"]["config"]["configurable"]["langgraph_request_id"])


async def _system_assistant(client: LangGraphClient, graph_id: str) -> dict[str, Any]:
    """The graph's system assistant (the /assistants/{id} routes take UUIDs only)."""
    (found,) = await client.assistants.search(
        graph_id=graph_id, metadata={"created_by": "system"}, limit=1
    )
    return dict(found)


async def test_langgraph_config_env_configures_the_system_assistant(
    client: LangGraphClient,
) -> None:
    assistant = await _system_assistant(client, "runs_headers")
    assert assistant["config"] == {"configurable": {"prefix": "from-env"}}
    assert assistant["context"] == {"prefix": "from-env"}
    result = await client.runs.wait(None, "runs_headers", input={})
    assert result["seen"]["prefix"] == "from-env"
    assert (await _system_assistant(client, "echo"))["config"] == {}


async def test_config_schema_is_the_context_schema(client: LangGraphClient) -> None:
    assistant = await _system_assistant(client, "runs_contextual")
    schemas = await client.assistants.get_schemas(assistant["assistant_id"])
    expected = {
        "properties": {
            "model": {"default": "default-model", "title": "Model", "type": "string"},
            "temperature": {"default": 0.5, "title": "Temperature", "type": "number"},
        },
        "title": "ModelContext",
        "type": "object",
    }
    assert schemas["config_schema"] == expected
    assert schemas["context_schema"] == expected
    plain = await client.assistants.get_schemas(
        (await _system_assistant(client, "echo"))["assistant_id"]
    )
    assert plain["config_schema"] == {}
