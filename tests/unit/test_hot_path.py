"""The run-creating routes' hot path: which requests it takes, and that everything it does not
take (or cannot validate) reaches FastAPI exactly as the client sent it."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import orjson
import pytest

from threadloom.api import hot_path
from threadloom.api.http import JSONResponse
from threadloom.api.middleware import RequestMiddleware
from threadloom.api.runs import respond_created, respond_stream, respond_wait
from threadloom.errors import NotFound

THE_CTX = SimpleNamespace(extras={})  # a server context without custom auth


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/runs", (respond_created, None)),
        ("/runs/stream", (respond_stream, None)),
        ("/runs/wait", (respond_wait, None)),
        ("/threads/t-1/runs", (respond_created, "t-1")),
        ("/threads/t-1/runs/stream", (respond_stream, "t-1")),
        ("/threads/t-1/runs/wait", (respond_wait, "t-1")),
        ("/runs/wait/", None),  # FastAPI's redirect, not ours
        ("/runs/batch", None),
        ("/runs/cancel", None),
        ("/runs/crons", None),
        ("/threads", None),
        ("/threads//runs", None),
        ("/threads/a/b/runs", None),
        ("/threads/t-1/runs/crons", None),
        ("/threads/t-1/runsy", None),
        ("/threads/t-1/runs/r-1/cancel", None),
        ("/threads/t-1/runs/wait/x", None),
    ],
)
def test_match(path: str, expected: Any) -> None:
    assert hot_path.match(path) == expected


class Recorder:
    """The ASGI app behind the middleware (FastAPI in the server): what reached it."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        self.bodies.append(body)
        await JSONResponse({"fastapi": True}, status_code=422)(scope, receive, send)


async def call(
    middleware: RequestMiddleware, path: str, chunks: list[bytes], responder: Any = None
) -> tuple[int, Any, dict[bytes, bytes]]:
    calls: list[tuple[Any, ...]] = []

    async def fake_responder(*args: Any) -> Any:
        calls.append(args)
        if responder is not None:
            return await responder(*args)
        return JSONResponse({"created": args[1].assistant_id, "thread": args[2]})

    original = dict(hot_path.STATELESS), dict(hot_path.ON_THREAD)
    for table in (hot_path.STATELESS, hot_path.ON_THREAD):
        for key in table:
            table[key] = fake_responder
    try:
        pending = [
            {"type": "http.request", "body": c, "more_body": i < len(chunks) - 1}
            for i, c in enumerate(chunks)
        ]

        async def receive() -> Any:
            return pending.pop(0) if pending else {"type": "http.disconnect"}

        sent: list[Any] = []

        async def send(message: Any) -> None:
            sent.append(message)

        scope = {
            "type": "http",
            "method": "POST",
            "path": path,
            "headers": [(b"content-type", b"text/plain"), (b"x-request-id", b"req-7")],
            "app": SimpleNamespace(state=SimpleNamespace(ctx=THE_CTX)),
        }
        await middleware(scope, receive, send)
    finally:
        hot_path.STATELESS.update(original[0])
        hot_path.ON_THREAD.update(original[1])
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    if calls:
        assert calls[0][0] is THE_CTX
        # every request header reaches the responder (the run's header rule picks from them)
        assert calls[0][3]["x-request-id"] == "req-7" and "content-type" in calls[0][3]
    return start["status"], orjson.loads(body), dict(start["headers"])


def middleware(inner: Recorder, max_body_bytes: int = 1000) -> RequestMiddleware:
    return RequestMiddleware(inner, max_body_bytes=max_body_bytes, cors={})


async def test_valid_body_is_answered_without_fastapi() -> None:
    inner = Recorder()
    status, body, headers = await call(
        middleware(inner), "/threads/t-9/runs/wait", [b'{"assistant_id":', b' "agent"}']
    )
    assert (status, body) == (200, {"created": "agent", "thread": "t-9"})
    assert inner.bodies == []
    assert b"server-timing" in headers


@pytest.mark.parametrize(
    "chunks",
    [[b"{not json"], [b""], [b"[1, 2]"], [b'{"assistant_id": ""}'], [b'{"after_seconds": -1}']],
)
async def test_invalid_body_reaches_fastapi_unchanged(chunks: list[bytes]) -> None:
    inner = Recorder()
    status, body, _ = await call(middleware(inner), "/runs/wait", chunks)
    assert (status, body) == (422, {"fastapi": True})
    assert inner.bodies == [b"".join(chunks)]


async def test_other_routes_reach_fastapi() -> None:
    inner = Recorder()
    status, _, _ = await call(middleware(inner), "/runs/batch", [b'[{"assistant_id": "a"}]'])
    assert status == 422 and inner.bodies == [b'[{"assistant_id": "a"}]']


async def test_streamed_body_over_the_limit_is_413() -> None:
    inner = Recorder()
    status, body, _ = await call(middleware(inner, max_body_bytes=10), "/runs", [b"x" * 8] * 3)
    assert status == 413 and body == {"detail": "Request body too large (limit: 10 bytes)"}
    assert inner.bodies == []


async def test_errors_become_the_usual_responses() -> None:
    async def missing(*_: Any) -> Any:
        raise NotFound("Assistant agent not found")

    async def broken(*_: Any) -> Any:
        raise RuntimeError("secret internals")

    inner = Recorder()
    status, body, _ = await call(middleware(inner), "/runs", [b'{"assistant_id": "a"}'], missing)
    assert (status, body) == (404, {"detail": "Assistant agent not found"})
    status, body, _ = await call(middleware(inner), "/runs", [b'{"assistant_id": "a"}'], broken)
    assert (status, body) == (500, {"detail": "Internal server error"})


async def test_errors_before_the_response_starts_become_error_responses() -> None:
    """A live response (wait, stream) that fails before its first byte — say its outcome
    read hit a Redis outage — still gets a proper status."""
    from threadloom.errors import Unavailable

    class FailsBeforeStart:
        async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
            raise Unavailable("Redis is unreachable")

    async def live(*_: Any) -> Any:
        return FailsBeforeStart()

    inner = Recorder()
    status, body, _ = await call(middleware(inner), "/runs/wait", [b'{"assistant_id": "a"}'], live)
    assert (status, body) == (503, {"detail": "Redis is unreachable"})


async def test_a_client_gone_mid_body_creates_nothing() -> None:
    """A body cut off by a disconnect is not a request, even when what arrived parses."""
    inner = Recorder()
    calls: list[Any] = []

    async def responder(*args: Any) -> Any:
        calls.append(args)
        return JSONResponse({})

    hot_path.STATELESS["/runs"], original = responder, hot_path.STATELESS["/runs"]
    try:
        messages = [
            {"type": "http.request", "body": b'{"assistant_id": "a"}', "more_body": True},
            {"type": "http.disconnect"},
        ]

        async def receive() -> Any:
            return messages.pop(0)

        sent: list[Any] = []

        async def send(message: Any) -> None:
            sent.append(message)

        scope = {"type": "http", "method": "POST", "path": "/runs", "headers": []}
        await middleware(inner)(scope, receive, send)
    finally:
        hot_path.STATELESS["/runs"] = original
    assert calls == [] and sent == [] and inner.bodies == []
