"""The one ASGI layer in front of every route (each layer costs on every request)."""

from __future__ import annotations

import time
from typing import Any

from starlette.middleware.cors import CORSMiddleware
from starlette.responses import RedirectResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from threadloom.api import command_fast_path, hot_path, run_list_fast_path, store_fast_path
from threadloom.api.custom_app import CustomApp
from threadloom.api.http import (
    OPEN_PATHS,
    BodyTooLarge,
    api_key_of,
    error_response,
    key_allowed,
    response_for_error,
)
from threadloom.auth import SCOPE_KEY, CustomAuth, is_exempt
from threadloom.errors import ThreadloomError
from threadloom.serde import dumps
from threadloom.telemetry import tracing
from threadloom.telemetry.metrics import METRICS, UNMATCHED

# with `http.mount_prefix`, what still answers at the root (as the reference: health checks)
ROOT_PATHS = frozenset({"/", "/ok", "/metrics"})


class RequestMiddleware:
    """One ASGI layer for what every request needs (each layer costs on every request):
    - `http.mount_prefix`: the API answers under the prefix only; `/` and `/ok` at the root too;
    - every request body is JSON whatever its Content-Type (Studio sends text/plain), except on
      the routes of the user's `http.app`;
    - bodies over the configured size get 413, by Content-Length before anything is read, and
      while a chunked body is received (it is never read past the limit);
    - `Server-Timing: app;dur=<ms>` on every response: time from receiving the request to
      starting the response, so clients and benchmarks can tell server time from network time;
    - CORS only for requests that carry an `Origin` (browsers), skipped for everyone else; with
      the default policy (any origin) `Origin: null` (sandboxed frames, `file:` pages) is not
      allowed;
    - with static API keys configured, every route but health and docs needs one (401);
    - with custom auth (`auth.path`), every route but health, docs and info is authenticated by
      the project's handler (a route of the user's `http.app` only with
      `http.enable_custom_route_auth`); the caller rides in the scope to the route's context
      (auth/);
    - the run-creating routes skip FastAPI's per-request machinery (api/hot_path.py), unless
      `http.disable_runs` removed them or a route of the user's app answers the request; so do
      the Store API's item routes (api/store_fast_path.py), unless `http.disable_store`, and
      the thread protocol's commands (api/command_fast_path.py), unless its group is disabled,
      and a thread's run list (api/run_list_fast_path.py), with the run-creating routes.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int,
        cors: dict[str, Any],
        api_keys: list[str] | None = None,
        refuse_null_origin: bool = False,
        mount_prefix: str | None = None,
        custom: CustomApp | None = None,
        hot_path_enabled: bool = True,
        store_fast_path_enabled: bool = True,
        command_fast_path_enabled: bool = True,
        custom_auth: CustomAuth | None = None,
    ) -> None:
        self.app = app
        self.cors = CORSMiddleware(app, **cors)
        self.null_cors = self.cors
        if refuse_null_origin:
            origins = [o for o in cors.get("allow_origins", ()) if o != "*"]
            self.null_cors = CORSMiddleware(app, **{**cors, "allow_origins": origins})
        self.max_body_bytes = max_body_bytes
        self.api_keys = list(api_keys or [])
        self.prefix = mount_prefix or ""
        self.custom = custom
        self.hot_path = hot_path_enabled
        self.store_fast_path = store_fast_path_enabled
        self.command_fast_path = command_fast_path_enabled
        self.custom_auth = custom_auth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await self._websocket(scope, receive, send)
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        if tracing.TRACER is not None:
            await self._traced(scope, receive, send, start)
            return
        seen = _Seen(send)
        try:
            await self._serve(scope, receive, seen.send, start, seen)
        finally:
            METRICS.observe_http(
                scope["method"], seen.route(), seen.status, time.perf_counter() - start
            )

    async def _traced(self, scope: Scope, receive: Receive, send: Send, start: float) -> None:
        """`_serve` inside a SERVER span (telemetry/tracing.py), named for the route template
        once routing has found it."""
        from opentelemetry.trace import SpanKind, Status, StatusCode

        method = scope["method"]
        seen = _Seen(send)
        with tracing.TRACER.start_as_current_span(
            method,
            context=tracing.http_parent(scope["headers"]),
            kind=SpanKind.SERVER,
            attributes={"http.request.method": method, "url.path": scope["path"]},
        ) as span:
            try:
                await self._serve(scope, receive, seen.send, start, seen)
            finally:
                route = seen.route()
                METRICS.observe_http(method, route, seen.status, time.perf_counter() - start)
                if route != UNMATCHED:
                    span.update_name(f"{method} {route}")
                    span.set_attribute("http.route", route)
                span.set_attribute("http.response.status_code", seen.status)
                if seen.status >= 500:
                    span.set_status(Status(StatusCode.ERROR))

    async def _serve(
        self, scope: Scope, receive: Receive, send: Send, start: float, seen: _Seen
    ) -> None:
        path = scope["path"]
        if self.prefix:
            routed = self._under_prefix(scope)
            if routed is None:
                await error_response(404, "Not Found")(scope, receive, send)
                return
            if not routed:  # the prefix itself: to its root, as Starlette's Mount does
                await RedirectResponse(f"{self.prefix}/", 307)(scope, receive, send)
                return
            scope, path = routed
        app: ASGIApp = self.app
        if self.api_keys and not self._authorised(scope, path):
            await error_response(401, "Missing or invalid API key")(scope, receive, send)
            return
        origin = None
        guard = self.custom_auth is not None and not is_exempt(scope["method"], path)
        if guard and self.custom is not None and not self.custom.guarded(scope):
            guard = False  # a user's route without `http.enable_custom_route_auth`
        if scope["method"] in ("POST", "PUT", "PATCH", "DELETE"):
            custom_route = self.custom is not None and self.custom.shadows(scope)
            headers = []
            for key, value in scope["headers"]:
                if key == b"content-length":
                    if value.isdigit() and int(value) > self.max_body_bytes:
                        too_large = BodyTooLarge(self.max_body_bytes).detail
                        await error_response(413, too_large)(scope, receive, send)
                        return
                elif key == b"origin":
                    origin = value
                elif key == b"content-type" and not custom_route:
                    continue
                headers.append((key, value))
            if not custom_route:
                headers.append((b"content-type", b"application/json"))
            scope = {**scope, "headers": headers}
            receive = _limited(receive, self.max_body_bytes)
            if guard:
                authenticated = await self._authenticate(scope, receive, send)
                if authenticated is None:
                    return
                scope, receive = authenticated
                guard = False
            if origin is None and self.hot_path and scope["method"] == "POST" and not custom_route:
                route = hot_path.match(path)
                if route is not None:
                    seen.template = hot_path.template(path, route)
                    await hot_path.serve(app, scope, receive, self._timed(send, start), route)
                    return
        else:
            for key, value in scope["headers"]:
                if key == b"origin":
                    origin = value
                    break
        if guard:
            authenticated = await self._authenticate(scope, receive, send)
            if authenticated is None:
                return
            scope, receive = authenticated
        if (
            origin is None
            and self.store_fast_path
            and store_fast_path.match(scope["method"], path)
            and (self.custom is None or not self.custom.shadows(scope))
        ):
            await store_fast_path.serve(app, scope, receive, self._timed(send, start), path)
            return
        if (
            origin is None
            and self.hot_path
            and (listed := run_list_fast_path.match(scope["method"], path)) is not None
            and (self.custom is None or not self.custom.shadows(scope))
        ):
            seen.template = run_list_fast_path.TEMPLATE
            await run_list_fast_path.serve(app, scope, receive, self._timed(send, start), listed)
            return
        if (
            origin is None
            and self.command_fast_path
            and (thread_id := command_fast_path.match(scope["method"], path)) is not None
            and (self.custom is None or not self.custom.shadows(scope))
        ):
            seen.template = command_fast_path.TEMPLATE
            await command_fast_path.serve(scope, receive, self._timed(send, start), thread_id)
            return
        if origin is not None:
            app = self.null_cors if origin == b"null" else self.cors
        seen.scope = scope  # the router writes the matched route into it
        await _answered(app, scope, receive, self._timed(send, start))

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        """A WebSocket handshake passes the checks an HTTP request does — the mount prefix,
        API keys, custom auth (the handler sees it as a `GET` of its path) — and a refused one
        gets the HTTP status a request would (or a 4000 + status close where the server cannot
        send a response to a handshake)."""
        path: str = scope["path"]
        if self.prefix:
            routed = self._under_prefix(scope)
            if not routed:
                await _refuse_handshake(scope, receive, send, 404, "Not Found")
                return
            scope, path = routed
        as_request = {**scope, "method": "GET"}
        if self.api_keys and not self._authorised(as_request, path):
            await _refuse_handshake(scope, receive, send, 401, "Missing or invalid API key")
            return
        if self.custom_auth is not None and not is_exempt("GET", path):
            try:
                caller = await self.custom_auth.authenticator.authenticate(as_request, receive)
            except ThreadloomError as exc:
                await _refuse_handshake(scope, receive, send, exc.status_code, exc.detail)
                return
            scope = {**scope, SCOPE_KEY: caller}
        await self.app(scope, receive, send)

    def _under_prefix(self, scope: Scope) -> tuple[Scope, str] | tuple[()] | None:
        """(scope for the app, path inside the prefix); () for the bare prefix; None when the
        path is neither under the prefix nor one of the root paths."""
        path: str = scope["path"]
        prefix = self.prefix
        if path.startswith(prefix):
            rest = path[len(prefix) :]
            if not rest:
                return ()
            if rest[0] == "/":
                # Starlette routes on the path less `root_path` (what its Mount does)
                return {**scope, "root_path": scope.get("root_path", "") + prefix}, rest
        if path in ROOT_PATHS:
            return scope, path
        return None

    async def _authenticate(
        self, scope: Scope, receive: Receive, send: Send
    ) -> tuple[Scope, Receive] | None:
        """The scope with its caller (and a `receive` that replays a body the handler read);
        None when the answer (401/403/…) has been sent."""
        assert self.custom_auth is not None
        authenticator = self.custom_auth.authenticator
        body = None
        if authenticator.wants_body and scope["method"] in ("POST", "PUT", "PATCH", "DELETE"):
            try:
                body = await hot_path.read_body(receive)
            except BodyTooLarge as exc:
                await error_response(413, exc.detail)(scope, receive, send)
                return None
            if body is None:
                return None  # the client went away
            receive = hot_path.replay(body, receive)
        try:
            caller = await authenticator.authenticate(scope, receive, body)
        except ThreadloomError as exc:
            await error_response(exc.status_code, exc.detail, exc.headers)(scope, receive, send)
            return None
        return {**scope, SCOPE_KEY: caller}, receive

    @staticmethod
    def _timed(send: Send, start: float) -> Send:
        async def timed_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                elapsed = (time.perf_counter() - start) * 1000
                message["headers"] = [
                    *message.get("headers", ()),
                    (b"server-timing", b"app;dur=%.3f" % elapsed),
                ]
            await send(message)

        return timed_send

    def _authorised(self, scope: Scope, path: str) -> bool:
        if scope["method"] == "OPTIONS" or path in OPEN_PATHS:
            return True
        if path.startswith("/v1/"):
            return True  # the Letta/SeekrFlow routers check keys in their own dependency
        authorization = x_api_key = None
        for key, value in scope["headers"]:
            if key == b"authorization":
                authorization = value.decode("latin-1")
            elif key == b"x-api-key":
                x_api_key = value.decode("latin-1")
        # either header may carry the key: beside custom auth, `Authorization` carries the
        # user's token and `x-api-key` the server's key
        return key_allowed(api_key_of(authorization, None), self.api_keys) or key_allowed(
            x_api_key, self.api_keys
        )


class _Seen:
    """What the metrics (and the request's span) need of a request once it is answered: its
    status and its route template (`UNMATCHED`, not counted, when no route took it)."""

    __slots__ = ("_send", "scope", "status", "template")

    def __init__(self, send: Send) -> None:
        self._send = send
        self.status = 0
        self.template: str | None = None
        self.scope: Scope | None = None

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
        await self._send(message)

    def route(self) -> str:
        if self.template is not None:
            return self.template
        if self.scope is not None:
            route = self.scope.get("route")
            path = getattr(route, "path", None) if route is not None else None
            if isinstance(path, str):
                return path
        return UNMATCHED


async def _refuse_handshake(
    scope: Scope, receive: Receive, send: Send, status: int, detail: str
) -> None:
    """Deny a WebSocket upgrade with an HTTP response when the server can send one."""
    message = await receive()  # websocket.connect
    if message.get("type") != "websocket.connect":
        return
    if "websocket.http.response" in scope.get("extensions", {}):
        await send(
            {
                "type": "websocket.http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send(
            {
                "type": "websocket.http.response.body",
                "body": dumps({"detail": detail}),
            }
        )
        return
    await send({"type": "websocket.close", "code": 4000 + status})


async def _answered(app: ASGIApp, scope: Scope, receive: Receive, send: Send) -> None:
    """Run `app`; an exception before its response started becomes the error response here.

    Not in a FastAPI `Exception` handler: Starlette's ServerErrorMiddleware, which runs those,
    re-raises after answering, and the server then drops the connection, so the client's next
    request on the same keep-alive connection was reset. Answered here, the 500 (logged,
    without the traceback) leaves the connection usable. An exception after the response
    started still propagates: the server cuts a response it cannot finish.
    """
    started = False

    async def tracking_send(message: Message) -> None:
        nonlocal started
        started = True
        await send(message)

    try:
        await app(scope, receive, tracking_send)
    except Exception as exc:
        if started:
            raise
        await response_for_error(exc, scope["method"], scope["path"])(scope, receive, send)


def _limited(receive: Receive, limit: int) -> Receive:
    """`receive` that raises `BodyTooLarge` once the body passes `limit` bytes: the route's
    error handling answers 413 (the hot path answers it itself)."""
    size = 0

    async def limited() -> Message:
        nonlocal size
        message = await receive()
        if message["type"] == "http.request":
            size += len(message.get("body", b""))
            if size > limit:
                raise BodyTooLarge(limit)
        return message

    return limited
