"""The built-in dashboard: its page and assets, and the three JSON views no API route gives
(overview numbers, runs across threads, one run with its measures). Everything else the page
shows it reads from the ordinary API routes, under the same authentication.

Served only where it is safe (`dashboard_served`): with API keys or custom auth, or on a
loopback-only server, unless the `dashboard` setting says otherwise.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Depends, Query
from starlette.responses import Response

from threadloom import dashboard_assets
from threadloom.api.deps import get_ctx
from threadloom.api.docs import SSE
from threadloom.api.http import JSONResponse
from threadloom.api.sse import EventStreamResponse, encode_events
from threadloom.errors import NotFound
from threadloom.services import dashboard as service
from threadloom.services.context import ServerContext
from threadloom.settings import Settings

router = APIRouter(tags=["Dashboard"], default_response_class=JSONResponse)

LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
# the shell is tiny and changes with the package: always revalidated, never stale
NO_CACHE = {"cache-control": "no-cache", "x-content-type-options": "nosniff"}
SECURITY = {
    **NO_CACHE,
    "content-security-policy": "default-src 'self'; img-src 'self' data:; "
    "style-src 'self'; script-src 'self'; frame-ancestors 'none'",
    "referrer-policy": "no-referrer",
}


def dashboard_served(settings: Settings, *, auth_configured: bool) -> bool:
    """`auto`: when every API call needs credentials, or only this machine can connect."""
    if settings.dashboard != "auto":
        return settings.dashboard == "on"
    return auth_configured or bool(settings.api_keys) or settings.host in LOOPBACK


@router.get("/dashboard", include_in_schema=False)
async def page() -> Response:
    return Response(dashboard_assets.read("index.html"), media_type="text/html", headers=SECURITY)


@router.get("/dashboard/assets/{name}", include_in_schema=False)
async def asset(name: str) -> Response:
    content_type = dashboard_assets.CONTENT_TYPES.get(name)
    if content_type is None:
        raise NotFound(f"No dashboard asset {name!r}")
    return Response(dashboard_assets.read(name), media_type=content_type, headers=NO_CACHE)


@router.get("/dashboard/api/overview", summary="Dashboard: the last hour's runs, live")
async def overview(ctx: ServerContext = Depends(get_ctx)) -> Any:
    return await service.overview(ctx)


@router.get("/dashboard/api/runs", summary="Dashboard: runs across threads, newest first")
async def runs(
    status: str | None = None,
    assistant_id: str | None = None,
    thread_id: str | None = None,
    created_after: str | None = None,
    created_before: str | None = None,
    cursor: str | None = None,
    limit: int = Query(50),
    ctx: ServerContext = Depends(get_ctx),
) -> Any:
    return await service.list_runs(
        ctx,
        status=status,
        assistant_id=assistant_id,
        thread_id=thread_id,
        created_after=created_after,
        created_before=created_before,
        cursor=cursor,
        limit=limit,
    )


@router.get("/dashboard/api/runs/{run_id}", summary="Dashboard: one run and its measures")
async def run(run_id: str, ctx: ServerContext = Depends(get_ctx)) -> Any:
    return await service.run_detail(ctx, run_id)


@router.get(
    "/dashboard/api/runs/{run_id}/events", summary="Dashboard: a run's event log", responses=SSE
)
async def run_events(run_id: str, ctx: ServerContext = Depends(get_ctx)) -> Any:
    batches = await service.run_events(ctx, run_id)

    async def frames() -> AsyncIterator[bytes]:
        async for batch in batches:
            yield encode_events(batch)

    return EventStreamResponse(frames(), heartbeat_seconds=ctx.settings.stream_keepalive_seconds)
