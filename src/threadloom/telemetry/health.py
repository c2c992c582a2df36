"""Asking the backing services whether they answer: `/ok?check_db=1` of an API process and of
a worker's metrics port."""

from __future__ import annotations

import asyncio
from typing import Any

HEALTHY = "healthy"
UNHEALTHY = "unhealthy"
CHECK_TIMEOUT_SECONDS = 3.0  # as the reference: a health check answers, slow services fail it


async def probe_services(storage: Any, broker: Any, *, cluster: bool) -> dict[str, str]:
    """The database (`sqlite` or `postgres`) and the broker's service (`redis` in the cluster
    shape), asked at once: `healthy` or `unhealthy` each."""
    checks: dict[str, Any] = {"postgres" if cluster else "sqlite": storage.ping()}
    if broker.service is not None:
        checks[broker.service] = broker.ping()
    results = await asyncio.gather(
        *(asyncio.wait_for(check, CHECK_TIMEOUT_SECONDS) for check in checks.values()),
        return_exceptions=True,
    )
    out = {}
    for name, result in zip(checks, results, strict=True):
        if isinstance(result, asyncio.CancelledError):
            raise result
        out[name] = UNHEALTHY if isinstance(result, BaseException) else HEALTHY
    return out
