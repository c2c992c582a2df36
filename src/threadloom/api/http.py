"""HTTP plumbing shared by every router: JSON responses, error bodies, body parsing rules."""

from __future__ import annotations

import hmac
import logging
import time
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.cors import CORSMiddleware
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


OPEN_PATHS = frozenset({"/ok", "/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json"})


def api_key_of(authorization: str | None, x_api_key: str | None) -> str | None:
    """The key a client presented: `Authorization: Bearer <key>`, a bare `Authorization: <key>`
    (SeekrFlow's SDK), or `x-api-key` (the LangGraph SDK)."""
    if authorization:
        value = authorization.strip()
        if value.lower().startswith("bearer "):
            value = value[7:].strip()
        if value:
            return value
    return x_api_key or None


def key_allowed(given: str | None, keys: list[str]) -> bool:
    return given is not None and any(hmac.compare_digest(given, k) for k in keys)


class RequestMiddleware:
    """One ASGI layer for what every request needs (each layer costs on every request):
    - every request body is JSON whatever its Content-Type (Studio sends text/plain);
    - bodies over the configured size get 413;
    - `Server-Timing: app;dur=<ms>` on every response: time from receiving the request to
      starting the response, so clients and benchmarks can tell server time from network time;
    - CORS only for requests that carry an `Origin` (browsers), skipped for everyone else;
    - with static API keys configured, every route but health and docs needs one (401).
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int,
        cors: dict[str, Any],
        api_keys: list[str] | None = None,
    ) -> None:
        self.app = app
        self.cors = CORSMiddleware(app, **cors)
        self.max_body_bytes = max_body_bytes
        self.api_keys = list(api_keys or [])

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        app: ASGIApp = self.app
        if self.api_keys and not self._authorised(scope):
            await error_response(401, "Missing or invalid API key")(scope, receive, send)
            return
        if scope["method"] in ("POST", "PUT", "PATCH", "DELETE"):
            headers = []
            for key, value in scope["headers"]:
                if (
                    key == b"content-length"
                    and value.isdigit()
                    and int(value) > self.max_body_bytes
                ):
                    await error_response(413, "Request body too large")(scope, receive, send)
                    return
                if key == b"origin":
                    app = self.cors
                if key != b"content-type":
                    headers.append((key, value))
            headers.append((b"content-type", b"application/json"))
            scope = {**scope, "headers": headers}
        elif any(key == b"origin" for key, _ in scope["headers"]):
            app = self.cors

        async def timed_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                elapsed = (time.perf_counter() - start) * 1000
                message["headers"] = [
                    *message.get("headers", ()),
                    (b"server-timing", b"app;dur=%.3f" % elapsed),
                ]
            await send(message)

        await app(scope, receive, timed_send)

    def _authorised(self, scope: Scope) -> bool:
        if scope["method"] == "OPTIONS" or scope["path"] in OPEN_PATHS:
            return True
        if scope["path"].startswith("/v1/"):
            return True  # the Letta/SeekrFlow routers check keys in their own dependency
        authorization = x_api_key = None
        for key, value in scope["headers"]:
            if key == b"authorization":
                authorization = value.decode("latin-1")
            elif key == b"x-api-key":
                x_api_key = value.decode("latin-1")
        return key_allowed(api_key_of(authorization, x_api_key), self.api_keys)
