"""`GET /metrics`: this process's Prometheus metrics (telemetry/metrics.py), as the reference
serves them: Prometheus text by default, `?format=json` for its JSON snapshot (`queue`, `api`,
`workers`). Open under custom auth like `/ok` (as the reference); static API keys apply.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.responses import Response

from threadloom.api.deps import get_ctx
from threadloom.api.http import JSONResponse
from threadloom.services import health
from threadloom.services.context import ServerContext
from threadloom.telemetry.metrics import METRICS, http_requests_json

router = APIRouter(tags=["System"], default_response_class=JSONResponse)

FORMATS = ("prometheus", "json")


@router.get(
    "/metrics",
    summary="Prometheus metrics of this process",
    responses={200: {"content": {"text/plain": {}, "application/json": {}}}},
)
async def metrics(format: str = "prometheus", ctx: ServerContext = Depends(get_ctx)) -> Any:
    queue = await health.queue_gauges(ctx)
    METRICS.runtime.queue = queue
    if format != "json":  # an unknown format falls back to Prometheus, as the reference
        return Response(generate_latest(METRICS.registry), media_type=CONTENT_TYPE_LATEST)
    body: dict[str, Any] = {
        "queue": queue,
        "api": {"http_requests_total": http_requests_json(METRICS)},
    }
    slots = METRICS.runtime.slots
    if slots is not None:
        total, active = slots()
        body["workers"] = {"max": total, "active": active, "available": total - active}
    return body
