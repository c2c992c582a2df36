"""Crons through the official SDK's `client.crons.*`, both shapes: the Cron object and its
defaults, PATCH rules (metadata merge, `end_time: null` clears, empty body 400), search /
count with pagination headers and select, a thread's crons going with it, bad input as 4xx,
and firing (a schedule with a seconds field fires every second: thread crons run on their
thread, stateless `keep` crons leave their threads, disabled crons do not fire)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from langgraph_sdk.client import LangGraphClient

from tests.support.server import ServerProcess

EVERY_SECOND = "* * * * * *"  # croniter's optional sixth field: seconds
FIELDS = {
    "cron_id",
    "assistant_id",
    "thread_id",
    "user_id",
    "end_time",
    "schedule",
    "timezone",
    "payload",
    "next_run_date",
    "metadata",
    "on_run_completed",
    "enabled",
    "created_at",
    "updated_at",
}
END = datetime(2030, 1, 1, tzinfo=UTC)
HELLO = {"messages": [{"role": "user", "content": "hi"}]}


async def _until(check: Any, within: float = 30.0) -> Any:
    deadline = time.monotonic() + within
    while True:
        result = await check()
        if result or time.monotonic() > deadline:
            return result
        await asyncio.sleep(0.2)


async def test_create_stateless_cron_fields_and_defaults(
    client: LangGraphClient, http: httpx.AsyncClient
) -> None:
    cron = await client.crons.create("echo", schedule="*/5 * * * *")
    assert set(cron) == FIELDS
    assert cron["thread_id"] is None
    assert cron["on_run_completed"] == "delete"
    assert cron["enabled"] is True
    assert cron["timezone"] is None
    assert cron["end_time"] is None
    assert cron["metadata"] == {}
    assert cron["user_id"] == ""
    assert cron["payload"]["config"]["configurable"]["cron_id"] == cron["cron_id"]
    assert cron["payload"]["assistant_id"] == cron["assistant_id"]  # the graph resolved
    assert (await http.get(f"/runs/crons/{cron['cron_id']}")).json() == cron
    await client.crons.delete(cron["cron_id"])
    assert (await http.get(f"/runs/crons/{cron['cron_id']}")).status_code == 404


async def test_thread_cron_timezone_and_payload(client: LangGraphClient) -> None:
    thread = await client.threads.create()
    cron = await client.crons.create_for_thread(
        thread["thread_id"],
        "echo",
        schedule="0 3 * * *",
        timezone="America/New_York",
        input={"x": 1},
        metadata={"a": 1},
        multitask_strategy="reject",
        end_time=END,
    )
    assert cron["thread_id"] == thread["thread_id"]
    assert cron["on_run_completed"] is None
    assert cron["timezone"] == "America/New_York"
    assert cron["metadata"] == {"a": 1}
    assert cron["payload"]["input"] == {"x": 1}
    assert cron["payload"]["multitask_strategy"] == "reject"
    assert cron["end_time"].startswith("2030-01-01T00:00:00")
    # 03:00 in New York is 08:00 UTC in winter, 07:00 in summer (DST is the library's)
    assert cron["next_run_date"][11:16] in ("07:00", "08:00")


async def test_patch_merges_metadata_clears_end_time_and_recomputes(
    client: LangGraphClient, http: httpx.AsyncClient
) -> None:
    cron = await client.crons.create("echo", schedule="0 3 * * *", metadata={"a": 1}, end_time=END)
    cid = cron["cron_id"]
    patched = await client.crons.update(cid, metadata={"b": 2}, end_time=None)
    assert patched["metadata"] == {"a": 1, "b": 2}
    assert patched["end_time"] is None
    moved = await client.crons.update(cid, schedule="30 4 * * *", timezone="UTC")
    assert moved["next_run_date"][11:16] == "04:30"
    off = await client.crons.update(cid, enabled=False, input={"y": 2})
    assert off["enabled"] is False
    assert off["payload"]["input"] == {"y": 2}
    assert off["payload"]["config"]["configurable"]["cron_id"] == cid
    empty = await http.patch(f"/runs/crons/{cid}", json={})
    assert empty.status_code == 400
    assert empty.json()["detail"] == "Request body cannot be empty"


async def test_search_count_select_and_pagination(client: LangGraphClient) -> None:
    tag = uuid.uuid4().hex
    assistant = await client.assistants.create(graph_id="echo")
    aid = assistant["assistant_id"]
    made = [
        await client.crons.create(aid, schedule="0 3 * * *", metadata={"tag": tag, "i": i})
        for i in range(3)
    ]
    await client.crons.update(made[0]["cron_id"], enabled=False)
    found = await client.crons.search(assistant_id=aid)
    assert [c["cron_id"] for c in found] == [c["cron_id"] for c in reversed(made)]
    asc = await client.crons.search(assistant_id=aid, sort_by="created_at", sort_order="asc")
    assert [c["cron_id"] for c in asc] == [c["cron_id"] for c in made]
    assert len(await client.crons.search(assistant_id=aid, enabled=False)) == 1
    assert len(await client.crons.search(metadata={"tag": tag, "i": 1})) == 1
    picked = await client.crons.search(assistant_id=aid, select=["cron_id", "schedule"])
    assert all(set(c) == {"cron_id", "schedule"} for c in picked)
    assert await client.crons.count(assistant_id=aid) == 3
    assert await client.crons.count(metadata={"tag": tag, "i": 2}) == 1


async def test_search_pagination_headers(http: httpx.AsyncClient, client: LangGraphClient) -> None:
    assistant = await client.assistants.create(graph_id="echo")
    aid = assistant["assistant_id"]
    for _ in range(3):
        await client.crons.create(aid, schedule="0 3 * * *")
    r = await http.post("/runs/crons/search", json={"assistant_id": aid, "limit": 2})
    assert r.status_code == 200
    assert r.headers["x-pagination-total"] == "3"
    assert r.headers["x-pagination-next"] == "2"


async def test_deleting_thread_or_assistant_deletes_its_crons(
    client: LangGraphClient, http: httpx.AsyncClient
) -> None:
    thread = await client.threads.create()
    cron = await client.crons.create_for_thread(thread["thread_id"], "echo", schedule="0 3 * * *")
    await client.threads.delete(thread["thread_id"])
    assert (await http.get(f"/runs/crons/{cron['cron_id']}")).status_code == 404
    assistant = await client.assistants.create(graph_id="echo")
    other = await client.crons.create(assistant["assistant_id"], schedule="0 3 * * *")
    await client.assistants.delete(assistant["assistant_id"])
    assert (await http.get(f"/runs/crons/{other['cron_id']}")).status_code == 404


BAD = [
    ({"assistant_id": "echo", "schedule": "bogus"}, 422, "Invalid cron schedule"),
    ({"assistant_id": "echo", "schedule": "* * * * *", "timezone": "Mars/Base"}, 422, "timezone"),
    ({"assistant_id": "nope", "schedule": "* * * * *"}, 404, "Assistant 'nope' not found"),
    ({"assistant_id": str(uuid.UUID(int=0)), "schedule": "* * * * *"}, 404, "not found"),
    ({"schedule": "* * * * *"}, 422, "assistant_id"),
    ({"assistant_id": "echo", "schedule": 5}, 422, "schedule"),
    ({"assistant_id": "echo", "schedule": "* * * * *", "on_run_completed": "x"}, 422, "on_run"),
    ({"assistant_id": "echo", "schedule": "* * * * *", "enabled": "yes"}, 422, "enabled"),
    ({"assistant_id": "echo", "schedule": "* * * * *", "end_time": "soon"}, 422, "end_time"),
]


@pytest.mark.parametrize(("body", "status", "detail"), BAD)
async def test_bad_create_is_4xx_and_writes_nothing(
    http: httpx.AsyncClient, body: dict[str, Any], status: int, detail: str
) -> None:
    before = (await http.post("/runs/crons/count", json={})).json()
    r = await http.post("/runs/crons", json=body)
    assert r.status_code == status, r.text
    assert detail in r.json()["detail"]
    assert (await http.post("/runs/crons/count", json={})).json() == before


async def test_bad_ids_and_missing(http: httpx.AsyncClient) -> None:
    zero = str(uuid.UUID(int=0))
    r = await http.post(
        f"/threads/{zero}/runs/crons", json={"assistant_id": "echo", "schedule": "* * * * *"}
    )
    assert r.status_code == 404
    bad_thread = await http.post(
        "/threads/not-a-uuid/runs/crons", json={"assistant_id": "echo", "schedule": "* * * * *"}
    )
    assert bad_thread.status_code == 422
    assert bad_thread.json()["detail"] == "Invalid thread ID: must be a UUID"
    assert (await http.get("/runs/crons/not-a-uuid")).status_code == 422
    assert (await http.get(f"/runs/crons/{zero}")).status_code == 404
    assert (await http.patch(f"/runs/crons/{zero}", json={"enabled": True})).status_code == 404
    assert (await http.delete(f"/runs/crons/{zero}")).status_code == 404
    bad_sort = await http.post("/runs/crons/search", json={"sort_by": "bogus"})
    assert bad_sort.status_code == 422
    bad_select = await http.post("/runs/crons/search", json={"select": ["bogus"]})
    assert bad_select.status_code == 422


async def test_info_reports_crons(http: httpx.AsyncClient) -> None:
    assert (await http.get("/info")).json()["flags"]["crons"] is True


async def test_thread_cron_fires_on_its_thread(
    client: LangGraphClient, http: httpx.AsyncClient
) -> None:
    thread = await client.threads.create()
    tid = thread["thread_id"]
    cron = await client.crons.create_for_thread(
        tid, "echo", schedule=EVERY_SECOND, input=HELLO, metadata={"from": "cron"}
    )

    async def ran() -> list[Any]:
        return [r for r in await client.runs.list(tid) if r["status"] == "success"]

    done = await _until(ran)
    await client.crons.update(cron["cron_id"], enabled=False)
    assert done, "the cron never fired"
    assert done[0]["metadata"]["from"] == "cron"
    assert done[0]["kwargs"]["config"]["configurable"]["cron_id"] == cron["cron_id"]
    # the cron's next firing moved on (claimed and advanced)
    later = (await http.get(f"/runs/crons/{cron['cron_id']}")).json()
    assert later["next_run_date"] > cron["next_run_date"]


async def test_stateless_keep_cron_leaves_a_thread_per_firing(client: LangGraphClient) -> None:
    assistant = await client.assistants.create(graph_id="echo")
    aid = assistant["assistant_id"]
    cron = await client.crons.create(
        aid, schedule=EVERY_SECOND, input=HELLO, on_run_completed="keep"
    )

    async def kept() -> list[Any]:
        threads = await client.threads.search(metadata={"assistant_id": aid})
        return [t for t in threads if t["status"] == "idle"]

    threads = await _until(kept)
    await client.crons.delete(cron["cron_id"])
    assert threads, "the cron never fired"
    assert threads[0]["values"]["messages"][0]["content"] == "hi"


async def test_disabled_cron_does_not_fire(client: LangGraphClient) -> None:
    thread = await client.threads.create()
    tid = thread["thread_id"]
    cron = await client.crons.create_for_thread(
        tid, "echo", schedule=EVERY_SECOND, input=HELLO, enabled=False
    )
    # a cron that fires every second, created after the disabled one, proves the scheduler ran
    other = await client.threads.create()
    probe = await client.crons.create_for_thread(
        other["thread_id"], "echo", schedule=EVERY_SECOND, input=HELLO
    )

    async def probe_ran() -> list[Any]:
        runs = await client.runs.list(other["thread_id"])
        return [r for r in runs if r["status"] == "success"][:1] * (len(runs) >= 2)

    assert await _until(probe_ran)
    await client.crons.delete(probe["cron_id"])
    assert await client.runs.list(tid) == []
    await client.crons.delete(cron["cron_id"])


async def test_crons_cli_lists_next_firings(client: LangGraphClient, server: ServerProcess) -> None:
    """`threadloom crons` reads the crons from the server's database: soonest first, each with
    its next firings in UTC (New York's 03:30 is 08:30 UTC in winter), disabled ones marked."""
    thread = await client.threads.create()
    cron = await client.crons.create_for_thread(
        thread["thread_id"], "echo", schedule="30 3 * * *", timezone="America/New_York"
    )
    off = await client.crons.create("echo", schedule="0 0 1 1 *", enabled=False)
    args = [sys.executable, "-m", "threadloom.cli", "crons", "--config", str(server.config)]
    args += ["--next", "2", "--limit", "10000"]
    if server.command == "dev":
        args += ["--db", str(server.db_path)]
    env = {**os.environ, **server.env}
    done = await asyncio.to_thread(
        subprocess.run, args, capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 0, done.stderr
    line = next(row for row in done.stdout.splitlines() if cron["cron_id"] in row)
    first = datetime.fromisoformat(cron["next_run_date"]).astimezone(UTC)
    assert first.strftime("%Y-%m-%d %H:%M:%S") in line
    assert first.strftime("%H:%M") in ("08:30", "07:30")  # EST or EDT
    assert thread["thread_id"] in line and "America/New_York" in line
    assert "disabled" in next(row for row in done.stdout.splitlines() if off["cron_id"] in row)
