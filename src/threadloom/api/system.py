"""Health and server information: `/ok`, `/info`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

import threadloom
from threadloom.api.deps import get_ctx
from threadloom.api.docs import InfoOut, OkOut
from threadloom.api.http import JSONResponse
from threadloom.services import health
from threadloom.services.context import ServerContext

router = APIRouter(tags=["System"], default_response_class=JSONResponse)


def _langgraph_version() -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("langgraph")
    except PackageNotFoundError:  # pragma: no cover
        return None


@router.get("/", summary="Health check (for load balancers)", include_in_schema=False)
@router.get(
    "/ok",
    summary="Health check",
    responses={200: {"model": OkOut}, 503: {"description": "The database is unreachable"}},
)
async def ok(check_db: int = 0, ctx: ServerContext = Depends(get_ctx)) -> Any:
    """`check_db=1` asks every backing service (SQLite, or PostgreSQL and Redis): 503 naming
    the ones that did not answer."""
    if not check_db:
        return {"ok": True}
    services = await health.check_services(ctx)
    down = [name for name, state in services.items() if state != health.HEALTHY]
    if down:
        return JSONResponse(
            {
                "detail": f"Backing service unavailable: {', '.join(down)}",
                "ok": False,
                "services": services,
            },
            status_code=503,
        )
    return {"ok": True, "services": services}


@router.get(
    "/info", summary="Server version and feature flags", responses={200: {"model": InfoOut}}
)
async def info(ctx: ServerContext = Depends(get_ctx)) -> Any:
    return {
        "version": threadloom.__version__,
        "server": "threadloom",
        "langgraph_py_version": _langgraph_version(),
        "flags": health.flags(ctx),
        "host": {
            "kind": "self-hosted",
            "project_id": None,
            "host_revision_id": None,
            "revision_id": None,
            "tenant_id": None,
        },
        "storage": "postgres" if ctx.settings.is_cluster else "sqlite",
        "graphs": list(ctx.registry.graph_ids),
    }
