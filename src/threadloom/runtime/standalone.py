"""`threadloom worker`: a process that executes runs from the shared queue (cluster shape) and
runs the cron scheduler beside them (`runtime/cron_scheduler.py`: any number of processes may),
so crons keep firing while every API process is down.

It opens the same storage and broker as an API process, runs a `WorkerPool`, and stops on SIGTERM
or SIGINT the way an orchestrator expects: stop claiming at once, give running runs
`shutdown_grace_seconds` to finish, put the rest back in the queue (another worker resumes them
from their last checkpoint), then exit 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from typing import TYPE_CHECKING, Any

from threadloom.runtime.cron_scheduler import CronScheduler
from threadloom.runtime.worker import WorkerPool, default_worker_id
from threadloom.settings import Settings
from threadloom.storage import create_storage
from threadloom.telemetry import tracing
from threadloom.telemetry.metrics import METRICS

if TYPE_CHECKING:
    from threadloom.graphs.project import ProjectConfig
    from threadloom.graphs.registry import GraphRegistry

logger = logging.getLogger("threadloom.worker")

READY_LINE = "threadloom worker ready"


async def run_worker(
    settings: Settings,
    registry: GraphRegistry,
    project: ProjectConfig,
    store_index: dict[str, Any] | None = None,
    store_ttl: dict[str, Any] | None = None,
    *,
    webhooks: bool = True,
) -> None:
    """Execute runs and fire crons until SIGTERM/SIGINT, then drain and exit. `store_index` /
    `store_ttl`: the project's store (`graphs/store_config.store_options`), as the API processes
    have it; `webhooks=False`: `http.disable_webhooks`."""
    from threadloom.app import build_custom_auth, server_context
    from threadloom.runtime.broker import build_broker
    from threadloom.services.thread_ttl import policy_for
    from threadloom.services.webhook_payloads import install_webhooks

    tracing.configure()  # OTEL_* asks for traces: this process's runs and nodes too
    custom_auth = build_custom_auth(project, settings)  # a cron's runs run as its creator

    storage = create_storage(settings, store_index=store_index, store_ttl=store_ttl)
    await storage.open()
    broker = build_broker(settings)
    try:
        await broker.start()
        pool = WorkerPool(storage, broker, registry, settings, worker_id=default_worker_id())
        # runs end here in the cluster, so this process delivers their webhooks and callbacks
        sender = install_webhooks(storage, settings, pool.executor, enabled=webhooks)
        METRICS.runtime.slots = pool.slot_usage
        ctx = server_context(
            settings, storage, broker, registry, project, policy_for(project), custom_auth
        )
        scheduler = CronScheduler(ctx)
        try:
            scheduler.start()
            async with contextlib.AsyncExitStack() as serving:
                if settings.metrics_port is not None:
                    from threadloom.runtime.worker_metrics import metrics_server

                    host = settings.metrics_host or settings.host
                    await serving.enter_async_context(
                        metrics_server(storage, broker, host, settings.metrics_port)
                    )
                await _serve_until_signalled(pool, settings)
        finally:
            METRICS.runtime.slots = None
            await scheduler.stop()
            await sender.stop()
    finally:
        with contextlib.suppress(Exception):
            await broker.stop()
        await storage.close()


async def _serve_until_signalled(pool: WorkerPool, settings: Settings) -> None:
    loop = asyncio.get_running_loop()
    signals = asyncio.Queue[int]()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, signals.put_nowait, signum)
    try:
        await pool.start()
        logger.info("%s: id %s, %d slots", READY_LINE, pool.worker_id, pool.slots)
        received = await signals.get()
        logger.info(
            "%s: no new runs; waiting up to %gs for %d running runs",
            signal.Signals(received).name,
            settings.shutdown_grace_seconds,
            len(pool.active_runs),
        )
        await pool.stop()
        logger.info("worker %s stopped", pool.worker_id)
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)
