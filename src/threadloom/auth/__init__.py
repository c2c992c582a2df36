"""Custom auth (`langgraph.json` `auth.path`, the `langgraph_sdk.auth.Auth` API).

- `loader`: `auth.path` → the project's `Auth` object;
- `authenticate`: its `@auth.authenticate` handler, called by the request middleware;
- `policy`: its `@auth.on…` handlers, resolved most specific first;
- `guarded`: the storage view every request with a caller gets, so every route is authorized;
- `users`: the caller, as handlers and graphs see it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import MutableMapping
from typing import Any

from langgraph_sdk import Auth

from threadloom.auth.authenticate import Authenticator
from threadloom.auth.guarded import GuardedStorage
from threadloom.auth.policy import Policy
from threadloom.auth.users import RequestAuth
from threadloom.dashboard_assets import SHELL_PATHS
from threadloom.errors import Forbidden
from threadloom.graphs.project import ProjectConfig
from threadloom.services.context import ServerContext

SCOPE_KEY = "threadloom.caller"
# what custom auth leaves open, as the reference: health, docs and the server's info
EXEMPT_PATHS = frozenset(
    {
        "/",
        "/ok",
        "/docs",
        "/docs/oauth2-redirect",
        "/redoc",
        "/openapi.json",
        "/info",
        "/metrics",
    }
    | SHELL_PATHS  # the dashboard's page and assets hold no data; its API calls are guarded
)


def is_exempt(method: str, path: str) -> bool:
    return method == "OPTIONS" or path in EXEMPT_PATHS


class CustomAuth:
    """A project's custom auth, ready to serve: authenticate requests, scope their context."""

    def __init__(self, auth: Auth, project: ProjectConfig, *, studio: bool) -> None:
        config = project.auth
        assert config is not None
        cache = config.cache
        self.auth = auth
        self.authenticator = Authenticator(
            auth,
            studio=studio and not config.disable_studio_auth,
            cache_keys=list(cache.cache_keys) if cache is not None else None,
            cache_ttl_seconds=cache.ttl_seconds if cache is not None else None,
            cache_max_size=cache.max_size if cache is not None else None,
        )
        self.policy = Policy(auth)

    def context_for(self, ctx: ServerContext, caller: RequestAuth) -> ServerContext:
        """The server context one request works in: its caller, the storage it may see, and
        the `@auth.on.store` decision every store action asks (services/store.py)."""
        policy = self.policy

        async def store_authorize(action: str, value: dict[str, Any]) -> dict[str, Any] | None:
            return await policy.authorize(caller, "store", action, value)

        return dataclasses.replace(
            ctx,
            storage=GuardedStorage(ctx.storage, self.policy, caller),  # type: ignore[arg-type]
            caller=caller,
            extras={**ctx.extras, "store_authorize": store_authorize},
        )


def request_context(ctx: ServerContext, scope: MutableMapping[str, Any]) -> ServerContext:
    """The context a route gets: the server's, scoped to the request's caller when there is
    one. Both ways into a route (FastAPI's `get_ctx` and the hot path) come through here."""
    custom: CustomAuth | None = ctx.extras.get("custom_auth")
    if custom is None:
        return ctx
    caller = scope.get(SCOPE_KEY)
    if caller is None:
        # fail closed: a request the middleware did not authenticate never sees the data
        if is_exempt(str(scope.get("method")), str(scope.get("path"))):
            return ctx
        raise Forbidden("Forbidden")
    return custom.context_for(ctx, caller)
