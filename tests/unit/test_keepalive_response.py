"""`/wait`'s keep-alive response across a backing-service outage."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest

from threadloom.api import sse
from threadloom.api.sse import KeepAliveJSONResponse
from threadloom.errors import Unavailable


async def respond(response: KeepAliveJSONResponse) -> tuple[int, bytes]:
    sent: list[Any] = []

    async def receive() -> Any:
        await asyncio.sleep(3600)  # the client stays

    async def send(message: Any) -> None:
        sent.append(message)

    await response({"type": "http"}, receive, send)
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    return status, b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")


async def test_an_outage_after_the_first_keepalive_is_waited_out(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sse, "OUTAGE_RETRY_SECONDS", 0.01)
    calls = 0

    async def result() -> Any:
        nonlocal calls
        calls += 1
        if calls == 1:
            await asyncio.sleep(0.05)  # long enough for a keep-alive to go out
            raise Unavailable("Redis is unreachable")
        return {"messages": ["done"]}

    status, body = await respond(KeepAliveJSONResponse(result, heartbeat_seconds=0.01))
    assert status == 200 and calls == 2
    assert body.startswith(b"\n") and orjson.loads(body) == {"messages": ["done"]}


async def test_an_outage_before_the_first_byte_is_raised() -> None:
    """Nothing was sent yet: the caller turns it into a 503."""

    async def result() -> Any:
        raise Unavailable("Redis is unreachable")

    with pytest.raises(Unavailable):
        await respond(KeepAliveJSONResponse(result, heartbeat_seconds=5))


async def test_other_errors_after_the_first_keepalive_still_end_the_response() -> None:
    async def result() -> Any:
        await asyncio.sleep(0.05)
        raise RuntimeError("a bug")

    with pytest.raises(RuntimeError):
        await respond(KeepAliveJSONResponse(result, heartbeat_seconds=0.01))
