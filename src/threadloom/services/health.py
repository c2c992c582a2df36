"""What `/ok?check_db=1` and `/info` report: the backing services' health, and which of the
server's features this deployment has switched on."""

from __future__ import annotations

from threadloom.services.context import ServerContext
from threadloom.telemetry import tracing
from threadloom.telemetry.health import HEALTHY, probe_services

__all__ = ["HEALTHY", "check_services", "flags"]


async def check_services(ctx: ServerContext) -> dict[str, str]:
    """Each backing service, asked at once (telemetry/health.py): `healthy` or `unhealthy`."""
    return await probe_services(ctx.storage, ctx.broker, cluster=ctx.settings.is_cluster)


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
