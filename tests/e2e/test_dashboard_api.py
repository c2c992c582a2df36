"""The dashboard's JSON views over real HTTP, both shapes: keyset pages of runs across
threads with their filters, one run's measures and event log, the overview, bad input."""

from __future__ import annotations

import uuid

import httpx
import orjson
from langgraph_sdk.client import LangGraphClient

HI = {"messages": [{"role": "user", "content": "hi"}]}


async def _runs(http: httpx.AsyncClient, **params: object) -> dict:
    response = await http.get("/dashboard/api/runs", params=params)
    assert response.status_code == 200, response.text
    return response.json()


async def test_keyset_pages_and_filters(http: httpx.AsyncClient, client: LangGraphClient) -> None:
    thread = await client.threads.create()
    tid = thread["thread_id"]
    made = [await client.runs.wait(tid, "echo", input=HI) for _ in range(3)]
    assert len(made) == 3
    failed = await client.runs.create(tid, "failing", input=HI)
    await client.runs.join(tid, failed["run_id"])
    ours = [r["run_id"] for r in await client.runs.list(tid, limit=10)]  # newest first

    seen: list[str] = []
    cursor = None
    while True:
        page = await _runs(http, thread_id=tid, limit=3, **({"cursor": cursor} if cursor else {}))
        seen += [r["run_id"] for r in page["runs"]]
        cursor = page["next"]
        if cursor is None:
            break
    assert seen == ours

    errors = await _runs(http, thread_id=tid, status="error")
    assert [r["run_id"] for r in errors["runs"]] == [failed["run_id"]]
    assert errors["runs"][0]["error"]
    first = (await client.runs.get(tid, ours[-1]))["created_at"]
    newer = await _runs(http, thread_id=tid, created_after=first)
    assert [r["run_id"] for r in newer["runs"]] == ours  # created_after is inclusive
    older = await _runs(http, thread_id=tid, created_before=first)
    assert older["runs"] == []
    other = await _runs(http, thread_id=tid, assistant_id=str(uuid.uuid4()))
    assert other["runs"] == []


async def test_one_run_with_its_measures_and_event_log(
    http: httpx.AsyncClient, client: LangGraphClient
) -> None:
    thread = await client.threads.create()
    tid = thread["thread_id"]
    await client.runs.wait(
        tid, "agent", input={"messages": [{"role": "user", "content": "what is 2+2?"}]}
    )
    run = (await client.runs.list(tid, limit=1))[0]
    detail = (await http.get(f"/dashboard/api/runs/{run['run_id']}")).json()
    assert detail["status"] == "success" and detail["thread_id"] == tid
    assert detail["usage"]["total_tokens"] > 0 and detail["usage"]["step_count"] >= 1
    assert detail["steps"] and detail["steps"][0]["type"] in ("llm", "tool")
    assert detail["queue_wait_ms"] is not None and detail["duration_ms"] >= detail["ttft_ms"]
    assert detail["input"]["messages"][0]["content"] == "what is 2+2?"
    assert detail["output"]["messages"][-1]["type"] == "ai"

    async with http.stream("GET", f"/dashboard/api/runs/{run['run_id']}/events") as events:
        assert events.headers["content-type"].startswith("text/event-stream")
        body = (await events.aread()).decode()
    names = [line[7:] for line in body.splitlines() if line.startswith("event: ")]
    assert names[0] == "metadata" and "values" in names
    ids = [line for line in body.splitlines() if line.startswith("id: ")]
    assert ids  # numbered, so the page can show where each event stands


async def test_overview_counts_new_runs(http: httpx.AsyncClient, client: LangGraphClient) -> None:
    before = (await http.get("/dashboard/api/overview")).json()
    thread = await client.threads.create()
    await client.runs.wait(thread["thread_id"], "echo", input=HI)
    failing = await client.runs.create(thread["thread_id"], "failing", input=HI)
    seen_inflight = (await http.get("/dashboard/api/overview")).json()  # may catch it pending
    await client.runs.join(thread["thread_id"], failing["run_id"])
    after = (await http.get("/dashboard/api/overview")).json()
    assert after["runs"] >= before["runs"] + 2 and seen_inflight["runs"] >= before["runs"] + 2
    assert after["errors"] >= before["errors"] + 1  # its end is read though it was seen before
    assert len(after["series"]["runs"]) == 60 and sum(after["series"]["runs"]) == after["runs"]
    assert after["duration_ms"]["p50"] is not None


async def test_the_page_and_its_assets_ship_in_the_package(http: httpx.AsyncClient) -> None:
    page = await http.get("/dashboard")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in page.headers["content-security-policy"]
    for name, kind in (("app.js", "text/javascript"), ("app.css", "text/css")):
        asset = await http.get(f"/dashboard/assets/{name}")
        assert asset.status_code == 200 and asset.headers["content-type"].startswith(kind)
        assert name in page.text  # the page loads it from the server, nothing from elsewhere
    assert "http" not in page.text.replace("http-equiv", "")  # no outside URL at all
    missing = await http.get("/dashboard/assets/../app.py")
    assert missing.status_code == 404


async def test_bad_input_is_a_clear_4xx(http: httpx.AsyncClient) -> None:
    for params, needle in (
        ({"status": "bogus"}, "Invalid status"),
        ({"limit": 0}, "Invalid limit"),
        ({"limit": 1000}, "Invalid limit"),
        ({"cursor": "not-a-cursor"}, "Invalid cursor"),
        ({"created_after": "yesterday"}, "Invalid created_after"),
        ({"created_before": "2026-13-45"}, "Invalid created_before"),
    ):
        response = await http.get("/dashboard/api/runs", params=params)
        assert response.status_code == 422, (params, response.text)
        assert needle in response.json()["detail"]
    limit = await http.get("/dashboard/api/runs", params={"limit": "many"})
    assert limit.status_code == 422 and limit.json()["detail"]
    unknown = str(uuid.uuid4())
    for path in (f"/dashboard/api/runs/{unknown}", f"/dashboard/api/runs/{unknown}/events"):
        response = await http.get(path)
        assert (
            response.status_code == 404 and "not found" in orjson.loads(response.content)["detail"]
        )


async def test_under_custom_auth_each_user_sees_only_their_runs(auth_server: object) -> None:
    a = {"Authorization": "Bearer token-a"}
    b = {"Authorization": "Bearer token-b"}
    async with httpx.AsyncClient(base_url=auth_server.url, timeout=60) as http:  # type: ignore[attr-defined]
        before = (await http.get("/dashboard/api/overview", headers=a)).json()["runs"]
        mine_before = (await http.get("/dashboard/api/overview", headers=b)).json()["runs"]
        thread = (await http.post("/threads", json={}, headers=b)).json()
        done = await http.post(
            f"/threads/{thread['thread_id']}/runs/wait",
            json={"assistant_id": "echo", "input": HI},
            headers=b,
        )
        assert done.status_code == 200, done.text
        assert (await http.get("/dashboard/api/overview", headers=a)).json()["runs"] == before
        assert (await http.get("/dashboard/api/overview", headers=b)).json()[
            "runs"
        ] == mine_before + 1
        listed = (
            await http.get(
                "/dashboard/api/runs", params={"thread_id": thread["thread_id"]}, headers=a
            )
        ).json()
        assert listed["runs"] == []
        assert (await http.get("/dashboard/api/overview")).status_code == 401
