"""`http.app`: a user's Starlette or FastAPI app served beside the Agent Server API.

Assembled as the reference assembles it (langgraph-api `server.py`, observed with `langgraph dev`):

- route precedence: `/ok` and the API docs (`/docs`, `/openapi.json`) cannot be shadowed; then
  the user's routes, which win over `/`, `/info` and every API route (a user `POST /runs/wait`
  answers instead of the API's); then the API;
- the user's middleware wraps every route, the API's included. With `middleware_order:
  "middleware_first"` (the default) it runs before authentication, so it sees requests that
  authentication then refuses; with `"auth_first"` it runs after it (`RequestMiddleware` first);
- the user's lifespan runs inside the server's (storage and workers are up before it starts and
  still up while it stops); `on_startup`/`on_shutdown` hooks are refused, as by the reference;
- the user's app's `state` is the server's: its routes read what its lifespan or module set;
- the user's exception handlers apply, except FastAPI's defaults, which would change the API's
  error bodies (the reference's API errors have the same shape as Threadloom's own).

Authentication of custom routes: static API keys (THREADLOOM_API_KEYS) guard every route but the
open ones (health, docs), the user's included. `http.enable_custom_route_auth` is about custom
auth (`auth.path`): `CustomApp.guarded` is where that decision lives, for the auth layer to use.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import BaseRoute, Match
from starlette.types import Scope

from threadloom.graphs.errors import GraphLoadError, ProjectError
from threadloom.graphs.loader import import_entry_module
from threadloom.graphs.project import JS_SUFFIXES, GraphSpec, HttpConfig

# the API's routes a user's route cannot shadow, and the ones it can (reference: `/metrics` is
# unshadowable too; Threadloom serves no `/metrics`)
UNSHADOWABLE = frozenset({"/ok", "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"})


@dataclass
class CustomApp:
    """The user's app, loaded; `routes` are its routes in its own order."""

    app: Starlette
    routes: list[BaseRoute]
    middleware_first: bool
    route_auth: bool  # `http.enable_custom_route_auth`

    def shadows(self, scope: Scope) -> bool:
        """Does one of the user's routes answer this request (a full match: path and method)?
        The run-creating fast path asks before it takes a request the router would give them."""
        return any(route.matches(scope)[0] is Match.FULL for route in self.routes)

    def guarded(self, scope: Scope) -> bool:
        """Whether custom auth must authenticate this request: every API request does; one a
        user's route answers only with `http.enable_custom_route_auth` (as the reference)."""
        return self.route_auth or not self.shadows(scope)

    def lifespan(self) -> AbstractAsyncContextManager[Any]:
        return self.app.router.lifespan_context(self.app)


def load_custom_app(http: HttpConfig, base_dir: Path) -> CustomApp | None:
    """The app `http.app` names (`"./app.py:app"` or `"package.module:app"`), or None.

    Raises ProjectError with one line when it cannot be imported or is not a Starlette app."""
    if not http.app:
        return None
    where = f"http.app {http.app!r}"
    try:
        spec = GraphSpec(path=http.app)
    except ValueError as exc:
        raise ProjectError(f"{where}: {exc}") from None
    if spec.target.endswith(JS_SUFFIXES):
        raise ProjectError(f"{where}: a JavaScript app is not supported")
    try:
        module, _ = import_entry_module(None, spec, base_dir)
    except GraphLoadError as exc:
        raise ProjectError(f"{where}: {exc.detail}") from None
    obj: Any = module
    for part in spec.attr.split("."):
        obj = getattr(obj, part, None)
    if obj is None:
        raise ProjectError(f"{where}: no variable {spec.attr!r} in {spec.target}")
    if not isinstance(obj, Starlette):
        raise ProjectError(
            f"{where}: expected a Starlette or FastAPI application, got {type(obj).__name__}"
        )
    for hook in ("on_startup", "on_shutdown"):
        if getattr(obj.router, hook, None):
            raise ProjectError(f"{where}: {hook} handlers are not supported; use a lifespan")
    return CustomApp(
        app=obj,
        routes=list(obj.routes),
        middleware_first=http.middleware_order != "auth_first",
        route_auth=http.enable_custom_route_auth,
    )


def attach(api: FastAPI, custom: CustomApp) -> None:
    """Put the user's routes, state and exception handlers into the API app (call after the
    API's routes are added and before its middleware stack is built)."""
    ours = list(api.router.routes)
    first = [r for r in ours if getattr(r, "path", None) in UNSHADOWABLE]
    api.router.routes[:] = [*first, *custom.routes, *(r for r in ours if r not in first)]
    api.state = custom.app.state
    defaults = _fastapi_default_handlers()
    for key, handler in custom.app.exception_handlers.items():
        if handler not in defaults:
            api.exception_handlers[key] = handler


def with_custom_middleware(custom: CustomApp | None, ours: Middleware) -> list[Middleware]:
    """The app's middleware, outermost first: the user's before or after the server's own."""
    if custom is None:
        return [ours]
    theirs = list(custom.app.user_middleware)
    return [*theirs, ours] if custom.middleware_first else [ours, *theirs]


def combined_lifespan(custom: CustomApp | None, ours: Any) -> Any:
    """The server's lifespan with the user's inside it (the user's state is not passed on to
    requests, as by the reference)."""
    if custom is None:
        return ours

    @asynccontextmanager
    async def both(app: FastAPI) -> AsyncIterator[None]:
        async with ours(app), custom.lifespan():
            yield

    return both


def _fastapi_default_handlers() -> set[Any]:
    from fastapi import exception_handlers as defaults

    return {
        defaults.http_exception_handler,
        defaults.request_validation_exception_handler,
        defaults.websocket_request_validation_exception_handler,
    }
