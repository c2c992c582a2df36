"""Heartbeats: SSE comment lines while a stream is quiet, newlines before a /wait result."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest

from tests.support.server import TEST_PROJECT, ServerProcess


@pytest.fixture(scope="module")
def chatty_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    db: Path = tmp_path_factory.mktemp("beats") / "threadloom.db"
    proc = ServerProcess(TEST_PROJECT, db, env={"THREADLOOM_HEARTBEAT_INTERVAL_SECONDS": "0.1"})
    proc.start()
    yield proc
    proc.stop()


async def test_sse_heartbeat_comments(chatty_server: ServerProcess) -> None:
    async with httpx.AsyncClient(base_url=chatty_server.url, timeout=30) as http:
        body = {"assistant_id": "slow", "input": {"seconds": 0.15}, "stream_mode": "values"}
        async with http.stream("POST", "/runs/stream", json=body) as response:
            raw = b"".join([chunk async for chunk in response.aiter_raw()])
    assert b": heartbeat\r\n\r\n" in raw
    assert raw.startswith(b"event: metadata")
    assert raw.count(b"event: values") >= 5


async def test_wait_keepalive_then_json(chatty_server: ServerProcess) -> None:
    async with httpx.AsyncClient(base_url=chatty_server.url, timeout=30) as http:
        body = {"assistant_id": "slow", "input": {"seconds": 0.1}}
        response = await http.post("/runs/wait", json=body)
    text = response.content
    assert text.startswith(b"\n")  # keep-alives went out while the run worked
    assert orjson.loads(text)["steps"] == 5
