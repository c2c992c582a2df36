"""A `threadloom worker`'s own small HTTP server: `/metrics` and `/ok` on `--metrics-port`.

A worker has no API port, but it is where runs execute, so its run metrics live in its own
process (each process exposes its own, docs/metrics.md). Prometheus scrapes every worker's
port as one more target, as the reference's queue workers serve theirs. The server runs on the
worker's event loop; uvicorn's signal handling is left to the worker (standalone.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import uvicorn
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from threadloom.telemetry.health import HEALTHY, probe_services
from threadloom.telemetry.metrics import METRICS

logger = logging.getLogger("threadloom.worker")


def metrics_app(storage: Any, broker: Any) -> Starlette:
    async def metrics(request: Request) -> Response:
        if request.query_params.get("format") != "json":
            return Response(generate_latest(METRICS.registry), media_type=CONTENT_TYPE_LATEST)
        body: dict[str, Any] = {}
        slots = METRICS.runtime.slots
        if slots is not None:
            total, active = slots()
            body["workers"] = {"max": total, "active": active, "available": total - active}
        return JSONResponse(body)

    async def ok(request: Request) -> Response:
        if request.query_params.get("check_db", "0") in ("0", ""):
            return JSONResponse({"ok": True})
        services = await probe_services(storage, broker, cluster=True)
        down = [name for name, state in services.items() if state != HEALTHY]
        if down:
            detail = f"Backing service unavailable: {', '.join(down)}"
            return JSONResponse(
                {"detail": detail, "ok": False, "services": services}, status_code=503
            )
        return JSONResponse({"ok": True, "services": services})

    async def not_found(request: Request, exc: Exception) -> Response:
        return JSONResponse({"detail": "Not Found"}, status_code=404)

    return Starlette(
        routes=[Route("/metrics", metrics), Route("/ok", ok)],
        exception_handlers={404: not_found},
    )


class _Server(uvicorn.Server):
    def capture_signals(self) -> contextlib.AbstractContextManager[None]:  # type: ignore[override]
        return contextlib.nullcontext()  # SIGTERM/SIGINT are the worker's (standalone.py)


@contextlib.asynccontextmanager
async def metrics_server(storage: Any, broker: Any, host: str, port: int) -> AsyncIterator[_Server]:
    """Serve while the block runs; stop (without waiting for idle scrapers) after it."""
    config = uvicorn.Config(
        metrics_app(storage, broker),
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        lifespan="off",
    )
    server = _Server(config)
    task = asyncio.create_task(server.serve(), name="threadloom-worker-metrics")
    while not server.started:
        if task.done():
            task.result()  # the port could not be bound: say why
            raise OSError(f"worker metrics server on {host}:{port} did not start")
        await asyncio.sleep(0.01)
    logger.info("worker metrics on http://%s:%d/metrics", host, port)
    try:
        yield server
    finally:
        server.should_exit = True
        with contextlib.suppress(Exception):
            await task
