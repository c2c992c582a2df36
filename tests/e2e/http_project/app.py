"""A user's FastAPI app for `http.app`: its own routes (some shadowing API paths), a middleware,
a lifespan, and state its routes read."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    app.state.lifespan_ran = True
    yield


app = FastAPI(lifespan=lifespan)
app.state.made_at_import = "yes"


class TagResponses:
    """Marks every response it sees with `x-custom-middleware: seen`."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def tagged(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [
                    *message.get("headers", []),
                    (b"x-custom-middleware", b"seen"),
                ]
            await send(message)

        await self.app(scope, receive, tagged)


app.add_middleware(TagResponses)


@app.get("/custom/hello")
async def hello(request: Request) -> dict[str, Any]:
    return {
        "hello": "world",
        "lifespan_ran": getattr(request.app.state, "lifespan_ran", False),
        "made_at_import": getattr(request.app.state, "made_at_import", None),
        "root_path": request.scope.get("root_path", ""),
    }


@app.post("/custom/size")
async def size(request: Request) -> dict[str, int]:
    return {"size": len(await request.body())}


@app.get("/info")
async def shadow_info() -> dict[str, str]:
    return {"custom": "info"}


@app.get("/ok")
async def shadow_ok() -> dict[str, str]:
    return {"custom": "ok"}


@app.post("/runs/wait")
async def shadow_wait() -> dict[str, str]:
    return {"custom": "wait"}


@app.get("/assistants/custom-shadow")
async def shadow_assistant() -> dict[str, str]:
    return {"custom": "assistant"}
