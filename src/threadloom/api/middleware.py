"""The one ASGI layer in front of every route (each layer costs on every request)."""

from __future__ import annotations

import time
from typing import Any

from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from threadloom.api import hot_path
from threadloom.api.http import OPEN_PATHS, api_key_of, error_response, key_allowed
from threadloom.auth import SCOPE_KEY, CustomAuth, is_exempt
from threadloom.errors import ThreadloomError


class RequestMiddleware:
    """One ASGI layer for what every request needs (each layer costs on every request):
    - every request body is JSON whatever its Content-Type (Studio sends text/plain);
    - bodies over the configured size get 413;
    - `Server-Timing: app;dur=<ms>` on every response: time from receiving the request to
      starting the response, so clients and benchmarks can tell server time from network time;
    - CORS only for requests that carry an `Origin` (browsers), skipped for everyone else;
    - with static API keys configured, every route but health and docs needs one (401);
    - with custom auth (`auth.path`), every route but health, docs and info is authenticated by
      the project's handler; the caller rides in the scope to the route's context (auth/);
    - the run-creating routes skip FastAPI's per-request machinery (api/hot_path.py).
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int,
        cors: dict[str, Any],
        api_keys: list[str] | None = None,
        custom_auth: CustomAuth | None = None,
    ) -> None:
        self.app = app
        self.cors = CORSMiddleware(app, **cors)
        self.max_body_bytes = max_body_bytes
        self.api_keys = list(api_keys or [])
        self.custom_auth = custom_auth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        app: ASGIApp = self.app
        if self.api_keys and not self._authorised(scope):
            await error_response(401, "Missing or invalid API key")(scope, receive, send)
            return
        if self.custom_auth is not None and not is_exempt(scope["method"], scope["path"]):
            authenticated = await self._authenticate(scope, receive, send)
            if authenticated is None:
                return
            scope, receive = authenticated
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
            if scope["method"] == "POST" and app is self.app:
                route = hot_path.match(scope["path"])
                if route is not None:
                    await hot_path.serve(
                        app, scope, receive, self._timed(send, start), route, self.max_body_bytes
                    )
                    return
        elif any(key == b"origin" for key, _ in scope["headers"]):
            app = self.cors

        await app(scope, receive, self._timed(send, start))

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
                body = await hot_path.read_body(receive, self.max_body_bytes)
            except hot_path.BodyTooLarge:
                await error_response(413, "Request body too large")(scope, receive, send)
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
