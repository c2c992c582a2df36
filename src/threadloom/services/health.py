"""What `/ok?check_db=1`, `/info` and `/metrics` read: the backing services' health, which of
the server's features this deployment has switched on, and the whole queue's gauges."""

from __future__ import annotations

import logging
from typing import Any

from threadloom.serde import utcnow
from threadloom.services.context import ServerContext
from threadloom.storage.errors import is_unavailable
from threadloom.telemetry import tracing
from threadloom.telemetry.health import HEALTHY, probe_services
from threadloom.telemetry.metrics import METRICS

__all__ = ["HEALTHY", "check_services", "flags", "queue_gauges"]

logger = logging.getLogger(__name__)


async def check_services(ctx: ServerContext) -> dict[str, str]:
    """Each backing service, asked at once (telemetry/health.py): `healthy` or `unhealthy`."""
    return await probe_services(ctx.storage, ctx.broker, cluster=ctx.settings.is_cluster)


async def queue_gauges(ctx: ServerContext) -> dict[str, Any] | None:
    """The whole queue's gauges (the reference's JSON `queue` object), read now; None while
    the database does not answer — a scrape still serves everything else then, which is
    when it matters most."""
    try:
        stats = await ctx.storage.runs.queue_stats(utcnow())
    except Exception as exc:
        if not is_unavailable(exc):
            raise
        METRICS.backend_error(exc)
        logger.warning("queue gauges skipped: %s", exc)
        return None
    return stats.as_json()


def flags(ctx: ServerContext) -> dict[str, bool]:
    """`/info` `flags`: the reference's five keys (Studio reads them), then Threadloom's."""
    project = ctx.project
    http = project.http if project is not None else None
    store = project.store if project is not None else None

    def group(name: str) -> bool:
        return not (http is not None and getattr(http, f"disable_{name}", False))

    return {
        "assistants": True,
        "crons": True,
        "langsmith": False,
        "langsmith_tracing_replicas": False,
        "langsmith_tracing_session_on_runs": False,
        # Threadloom's: what this deployment serves and does
        "threads": group("threads"),
        "runs": group("runs"),
        "store": group("store"),
        "semantic_search": bool(store is not None and store.index is not None),
        "webhooks": group("webhooks"),
        "custom_auth": "custom_auth" in ctx.extras,
        "api_keys": bool(ctx.settings.api_keys),
        "metrics": group("meta"),
        "tracing": tracing.TRACER is not None,
        "cluster": ctx.settings.is_cluster,
    }
