"""HTTP plumbing shared by every router: JSON responses, error bodies, body parsing rules."""

from __future__ import annotations

import logging
import time
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from threadloom.errors import ThreadloomError
from threadloom.serde import dumps

logger = logging.getLogger("threadloom.api")


class JSONResponse(Response):
    """orjson-encoded response that understands datetimes, messages and dataclasses."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return dumps(content)


def error_response(
    status_code: int, detail: str, headers: dict[str, str] | None = None
) -> Response:
    return JSONResponse({"detail": detail}, status_code=status_code, headers=headers)


def _describe(errors: list[Any]) -> str:
    parts = []
    for err in errors:
        loc = ".".join(str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path"))
        msg = err.get("msg", "invalid")
        if err.get("type") == "json_invalid":
            return "Request body is not valid JSON"
        parts.append(f"{loc}: {msg}" if loc else msg)
    return "; ".join(parts) or "Invalid request"


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ThreadloomError)
    async def _domain(_: Request, exc: ThreadloomError) -> Response:
        return error_response(exc.status_code, exc.detail)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> Response:
        return error_response(422, _describe(list(exc.errors())))

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> Response:
        return error_response(exc.status_code, str(exc.detail), getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        from threadloom.storage.errors import is_unavailable

        if is_unavailable(exc):
            logger.warning(
                "backing service unavailable on %s %s: %s", request.method, request.url.path, exc
            )
            return error_response(503, "A backing service is unavailable; try again shortly")
        logger.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_response(500, "Internal server error")


class JSONBodyMiddleware:
    """Treat every request body as JSON whatever its Content-Type (Studio sends text/plain),
    and refuse bodies over the configured size with 413."""

    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH", "DELETE"):
            await self.app(scope, receive, send)
            return
        headers = [(k, v) for k, v in scope["headers"] if k != b"content-type"]
        length = next((v for k, v in scope["headers"] if k == b"content-length"), None)
        if length is not None and length.isdigit() and int(length) > self.max_body_bytes:
            await error_response(413, "Request body too large")(scope, receive, send)
            return
        headers.append((b"content-type", b"application/json"))
        scope = {**scope, "headers": headers}
        await self.app(scope, receive, send)


class ServerTimingMiddleware:
    """`Server-Timing: app;dur=<ms>` on every response: the time from receiving the request to
    starting the response, so clients and benchmarks can tell server time from network time."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()

        async def timed_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                elapsed = (time.perf_counter() - start) * 1000
                headers = list(message.get("headers", ()))
                headers.append((b"server-timing", b"app;dur=%.3f" % elapsed))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, timed_send)
