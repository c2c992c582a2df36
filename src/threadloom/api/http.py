"""HTTP plumbing shared by every router: JSON responses, error bodies, body parsing rules."""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse as _StarletteJSONResponse
from fastapi.responses import Response
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException

from threadloom.api.json_body import INVALID_JSON, InvalidBody, parse_json
from threadloom.dashboard_assets import SHELL_PATHS
from threadloom.errors import ThreadloomError
from threadloom.serde import dumps

logger = logging.getLogger("threadloom.api")


class JSONResponse(_StarletteJSONResponse):
    """orjson-encoded response that understands datetimes, messages and dataclasses. A
    subclass of FastAPI's JSONResponse so /openapi.json describes its bodies as JSON (FastAPI
    writes `{"type": "string"}` for any other response class)."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return dumps(content)


def error_response(
    status_code: int, detail: str, headers: dict[str, str] | None = None
) -> Response:
    return JSONResponse({"detail": detail}, status_code=status_code, headers=headers)


NO_BODY = INVALID_JSON


class BodyTooLarge(StarletteHTTPException):
    """The request body grew past `max_body_bytes` (`HTTP_MAX_REQUEST_BODY_BYTES`): 413, in the
    reference's words. Raised while the body is being received, so it is never read whole."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"Request body too large (limit: {limit} bytes)")


class JSONRoute(APIRoute):
    """A route whose JSON body is read by the strict parser (`api/json_body.py`), not by
    Python's `json` as FastAPI would."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        if self.body_field is None:
            return handler

        async def strict_json(request: Request) -> Response:
            body = await request.body()
            if body.strip():
                try:
                    # Starlette's Request.json() caches its value here; FastAPI then reads it
                    request._json = parse_json(body)
                except InvalidBody as exc:
                    return error_response(exc.status_code, exc.detail)
            return await handler(request)

        return strict_json


class JSONBodyRoute(JSONRoute):
    """The Agent Server API's routes: one that reads a JSON body answers a request without any
    body 422, as the reference does — even where every field is optional and `{}` is fine."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        if self.body_field is None:
            return handler

        async def needs_body(request: Request) -> Response:
            if not (await request.body()).strip():
                return error_response(422, NO_BODY)
            return await handler(request)

        return needs_body


def _describe(errors: list[Any]) -> str:
    parts = []
    for err in errors:
        loc = ".".join(str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path"))
        msg = err.get("msg", "invalid")
        if err.get("type") == "json_invalid":
            return "Request body is not valid JSON"
        parts.append(f"{loc}: {msg}" if loc else msg)
    return "; ".join(parts) or "Invalid request"


def response_for_error(exc: Exception, method: str, path: str) -> Response:
    """The client's view of an exception from a route: its own status and detail for domain
    and HTTP errors, 503 while a backing service is away, otherwise a logged 500 (never the
    traceback)."""
    if isinstance(exc, ThreadloomError):
        return error_response(exc.status_code, exc.detail, exc.headers)
    if isinstance(exc, StarletteHTTPException):
        return error_response(exc.status_code, str(exc.detail), getattr(exc, "headers", None))
    from threadloom.storage.errors import is_unavailable

    if is_unavailable(exc):
        from threadloom.telemetry.metrics import METRICS

        METRICS.backend_error(exc)
        logger.warning("backing service unavailable on %s %s: %s", method, path, exc)
        return error_response(503, "A backing service is unavailable; try again shortly")
    logger.exception("unhandled error on %s %s", method, path, exc_info=exc)
    return error_response(500, "Internal server error")


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> Response:
        return error_response(422, _describe(list(exc.errors())))

    # any other exception is answered by RequestMiddleware (see `_answered` there for why)
    @app.exception_handler(ThreadloomError)
    @app.exception_handler(StarletteHTTPException)
    async def _error(request: Request, exc: Exception) -> Response:
        return response_for_error(exc, request.method, request.url.path)


OPEN_PATHS = frozenset(
    {"/ok", "/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json", *SHELL_PATHS}
)


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
