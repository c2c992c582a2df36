"""Calling the project's `@auth.authenticate` handler for a request.

The handler's parameters are injected by name, as the reference does: `request`, `body`, `user`,
`path`, `method`, `scopes`, `path_params`, `query_params`, `headers` (bytes → bytes),
`authorization` and `scope`. What it raises decides the answer: `Auth.exceptions.HTTPException`
keeps its status, detail and headers (a 401 stays a 401); anything else is a 403 whose detail
says nothing of the handler's internals (the error is logged).
"""

from __future__ import annotations

import inspect
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from langgraph_sdk import Auth
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.routing import Match
from starlette.types import Receive, Scope

from threadloom.auth.users import AuthUser, RequestAuth, normalize
from threadloom.errors import Forbidden, Rejected

logger = logging.getLogger("threadloom.auth")

SUPPORTED_PARAMETERS = frozenset(
    {
        "request",
        "body",
        "user",
        "path",
        "method",
        "scopes",
        "path_params",
        "query_params",
        "headers",
        "authorization",
        "scope",
    }
)

STUDIO_IDENTITY = "langgraph-studio-user"


def parameter_names(fn: Callable[..., Any]) -> frozenset[str]:
    """The supported parameters `fn` declares; ValueError for a required one nobody can give."""
    params = inspect.signature(fn).parameters
    unsupported = [
        name
        for name, p in params.items()
        if name not in SUPPORTED_PARAMETERS
        and p.default is p.empty
        and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)
    ]
    if unsupported:
        raise ValueError(
            f"the authenticate handler has required parameters Threadloom cannot supply: "
            f"{', '.join(unsupported)} (supported: {', '.join(sorted(SUPPORTED_PARAMETERS))})"
        )
    return frozenset(name for name in params if name in SUPPORTED_PARAMETERS)


class _TTLCache:
    """`auth.cache`: successful authentications keyed by the listed headers' values."""

    def __init__(self, keys: list[str], ttl_seconds: float, max_size: int) -> None:
        self.keys = [k.lower().encode("latin-1") for k in keys]
        self.ttl = ttl_seconds
        self.max_size = max_size
        self.entries: OrderedDict[tuple[bytes, ...], tuple[float, RequestAuth]] = OrderedDict()

    def key_of(self, headers: list[tuple[bytes, bytes]]) -> tuple[bytes, ...] | None:
        found = dict(headers)
        values = tuple(found.get(k, b"") for k in self.keys)
        return values if any(values) else None

    def get(self, key: tuple[bytes, ...]) -> RequestAuth | None:
        hit = self.entries.get(key)
        if hit is None:
            return None
        if hit[0] < time.monotonic():
            del self.entries[key]
            return None
        self.entries.move_to_end(key)
        return hit[1]

    def put(self, key: tuple[bytes, ...], value: RequestAuth) -> None:
        self.entries[key] = (time.monotonic() + self.ttl, value)
        self.entries.move_to_end(key)
        while len(self.entries) > self.max_size:
            self.entries.popitem(last=False)


class Authenticator:
    """One project's authenticate handler, ready to call per request."""

    def __init__(
        self,
        auth: Auth,
        *,
        studio: bool = False,
        cache_keys: list[str] | None = None,
        cache_ttl_seconds: float | None = None,
        cache_max_size: int | None = None,
    ) -> None:
        fn = auth._authenticate_handler
        assert fn is not None  # the loader refuses an Auth without one
        self.names = parameter_names(fn)
        self.fn: Callable[..., Awaitable[Any]] = (
            fn if inspect.iscoroutinefunction(fn) else _in_thread(fn)
        )
        self.studio = studio
        self.wants_body = "body" in self.names or "request" in self.names
        self.cache = (
            _TTLCache(cache_keys, cache_ttl_seconds or 60, cache_max_size or 1000)
            if cache_keys
            else None
        )

    async def authenticate(
        self, scope: Scope, receive: Receive, body: bytes | None = None
    ) -> RequestAuth:
        """The caller, or `Rejected` / `Forbidden`. `body` is the request's body when the
        handler asks for `body` or `request` (the middleware reads it first)."""
        headers: list[tuple[bytes, bytes]] = scope["headers"]
        if self.studio and any(k == b"x-auth-scheme" and v == b"langsmith" for k, v in headers):
            return RequestAuth(
                AuthUser.of(
                    {"identity": STUDIO_IDENTITY, "kind": "StudioUser", "is_authenticated": True},
                    [],
                ),
                (),
            )
        cache_key = self.cache.key_of(headers) if self.cache is not None else None
        if cache_key is not None:
            assert self.cache is not None
            cached = self.cache.get(cache_key)
            if cached is not None:
                return cached
        try:
            result = await self.fn(**self._arguments(scope, receive, body))
            caller = normalize(result)
        except Auth.exceptions.HTTPException as exc:
            raise Rejected(
                exc.status_code, str(exc.detail), dict(exc.headers or {}) or None
            ) from None
        except Exception as exc:
            logger.warning(
                "authenticate handler failed on %s %s: %r", scope["method"], scope["path"], exc
            )
            raise Forbidden("Forbidden") from None
        if cache_key is not None:
            assert self.cache is not None
            self.cache.put(cache_key, caller)
        return caller

    def _arguments(self, scope: Scope, receive: Receive, body: bytes | None) -> dict[str, Any]:
        names = self.names
        args: dict[str, Any] = {}
        if "scope" in names:
            args["scope"] = scope
        if "request" in names:
            args["request"] = Request(scope, _replay(body or b"", receive))
        if "body" in names:
            args["body"] = _json_or_none(body)
        if "user" in names:
            args["user"] = None
        if "scopes" in names:
            args["scopes"] = []
        if "path" in names:
            args["path"] = scope["path"]
        if "method" in names:
            args["method"] = scope["method"]
        if "path_params" in names:
            args["path_params"] = _path_params(scope)
        if "query_params" in names:
            args["query_params"] = QueryParams(scope.get("query_string", b""))
        if "headers" in names:
            args["headers"] = dict(scope["headers"])
        if "authorization" in names:
            value = next((v for k, v in scope["headers"] if k == b"authorization"), None)
            args["authorization"] = value.decode("latin-1") if value is not None else None
        return args


def _in_thread(fn: Callable[..., Any]) -> Callable[..., Awaitable[Any]]:
    async def call(**kwargs: Any) -> Any:
        return await run_in_threadpool(fn, **kwargs)

    return call


def _json_or_none(body: bytes | None) -> Any:
    if not body:
        return None
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return None


def _replay(body: bytes, receive: Receive) -> Receive:
    async def again() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    return again


def _path_params(scope: Scope) -> dict[str, str]:
    """The route's path parameters (the router has not run yet, so match its table here)."""
    app = scope.get("app")
    router = getattr(app, "router", None)
    for route in getattr(router, "routes", ()):
        match, child = route.matches(scope)
        if match is Match.FULL:
            return {k: str(v) for k, v in child.get("path_params", {}).items()}
    return {}
