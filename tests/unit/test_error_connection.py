"""After an unexpected error (a 500) the client's keep-alive connection stays usable: the next
request on it is answered, not reset. Served by a real uvicorn, as in production, with the
app's error handling (`install_error_handlers` + `RequestMiddleware`) around a route that fails
the way a real bug would."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from starlette.middleware import Middleware

from threadloom.api.http import install_error_handlers
from threadloom.api.middleware import RequestMiddleware


def _app() -> FastAPI:
    app = FastAPI(middleware=[Middleware(RequestMiddleware, max_body_bytes=1 << 20, cors={})])
    install_error_handlers(app)

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("a bug with a secret in its message")

    @app.post("/boom")
    async def boom_post(body: dict[str, int]) -> None:
        raise KeyError("missing")

    @app.get("/fine")
    async def fine() -> dict[str, bool]:
        return {"ok": True}

    return app


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = uvicorn.Config(_app(), host="127.0.0.1", port=port, log_level="critical")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=lambda: asyncio.run(server.serve()), daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(5)


def test_connection_survives_a_500(url: str) -> None:
    with httpx.Client(base_url=url, timeout=5) as client:
        for _ in range(5):
            r = client.get("/boom")
            assert r.status_code == 500
            assert r.json() == {"detail": "Internal server error"}  # no traceback, no message
            r = client.post("/boom", json={"a": 1})
            assert r.status_code == 500 and r.json()["detail"] == "Internal server error"
            assert client.get("/fine").json() == {"ok": True}  # same connection, answered


def test_one_connection_for_all(url: str) -> None:
    """httpx reuses the connection only if the server kept it open after the 500."""
    peers = set()

    def record(response: httpx.Response) -> None:
        stream = response.extensions["network_stream"]
        peers.add(stream.get_extra_info("client_addr"))

    with httpx.Client(base_url=url, timeout=5, event_hooks={"response": [record]}) as client:
        for _ in range(3):
            assert client.get("/boom").status_code == 500
            assert client.get("/fine").status_code == 200
    assert len(peers) == 1
