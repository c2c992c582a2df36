"""The ASGI application: wiring storage, broker, graphs and workers behind the HTTP routers."""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from starlette.middleware import Middleware

import threadloom
from threadloom.api import (
    a2a,
    assistants,
    crons,
    dashboard,
    mcp,
    metrics,
    runs,
    store,
    system,
    thread_protocol,
    thread_stream,
    threads,
)
from threadloom.api.compat import letta_routes as letta_api
from threadloom.api.compat import seekr_routes as seekr_api
from threadloom.api.custom_app import (
    attach,
    combined_lifespan,
    load_custom_app,
    with_custom_middleware,
)
from threadloom.api.docs import install_document, without_webhooks
from threadloom.api.http import install_error_handlers
from threadloom.api.middleware import RequestMiddleware
from threadloom.api.route_groups import disabled_groups, enabled
from threadloom.auth import CustomAuth
from threadloom.auth.loader import load_auth
from threadloom.auth.openapi import install_security_schemes
from threadloom.graphs.project import (
    CorsConfig,
    ProjectConfig,
    graph_configs_from_env,
    project_from_env,
)
from threadloom.graphs.registry import GraphRegistry, system_assistant_id
from threadloom.graphs.store_config import store_options, sweep_interval_seconds
from threadloom.graphs.unsupported import check_supported
from threadloom.runtime.broker import Broker, build_broker
from threadloom.runtime.cron_scheduler import CronScheduler
from threadloom.runtime.store_sweeper import StoreSweeper
from threadloom.runtime.ttl_sweeper import ThreadTTLSweeper
from threadloom.services.assistants import mirror_config_context
from threadloom.services.context import ServerContext
from threadloom.services.run_headers import header_patterns
from threadloom.services.thread_ttl import ThreadTTLPolicy, policy_for
from threadloom.settings import Settings
from threadloom.storage import create_storage
from threadloom.storage.base import Storage
from threadloom.telemetry import tracing
from threadloom.telemetry.metrics import METRICS

logger = logging.getLogger("threadloom")

EXPOSED_HEADERS = [
    "x-pagination-total",
    "x-pagination-next",
    "content-location",
    "location",
    "server-timing",
]


# every route the server has, hottest first; the auth matrix test walks this same table
ROUTERS = (
    runs.router,
    runs.stateless,
    crons.router,
    threads.router,
    thread_stream.router,
    thread_protocol.router,
    assistants.router,
    system.router,
    metrics.router,
    letta_api.router,
    seekr_api.router,
    store.router,  # `http.disable_store` drops it with its group (api/route_groups.py)
    dashboard.router,  # only where `dashboard_served` (api/dashboard.py)
    mcp.router,  # `http.disable_mcp`, likewise
    a2a.router,  # `http.disable_a2a` (its agent cards too)
)


def cors_options(project: ProjectConfig) -> tuple[dict[str, Any], bool]:
    """(CORSMiddleware options, whether `http.cors` gave them). `http.cors` replaces the
    defaults whole, as in the reference: what it leaves out takes Starlette's defaults."""
    given = project.http.cors if project.http else None
    if given is None:
        return {
            "allow_origins": ["*"],
            "allow_methods": ["*"],
            "allow_headers": ["*"],
            "expose_headers": EXPOSED_HEADERS,
        }, False
    return given.model_dump(exclude_none=True, include=set(CorsConfig.model_fields)), True


def load_project_config(settings: Settings) -> ProjectConfig:
    """`langgraph.json` if present; the LangGraph CLI's env JSON (LANGSERVE_GRAPHS…) wins.

    A project asking for a setting Threadloom cannot honour yet is refused here (ProjectError),
    so every entry point (dev, serve, worker, a reloading child) refuses it the same way."""
    path = Path(settings.config)
    project = project_from_env(path, base_dir=Path.cwd())
    if project is None:
        raise FileNotFoundError(
            f"No project: {path} does not exist and LANGSERVE_GRAPHS is not set"
        )
    check_supported(project)
    return project


def build_custom_auth(project: ProjectConfig, settings: Settings) -> CustomAuth | None:
    """`auth.path`'s handlers, loaded before serving (a broken auth file fails start-up)."""
    auth = load_auth(project)
    if auth is None:
        return None
    return CustomAuth(auth, project, studio=settings.studio_auth)


def server_context(
    settings: Settings,
    storage: Storage,
    broker: Broker,
    registry: GraphRegistry,
    project: ProjectConfig,
    thread_ttl: ThreadTTLPolicy,
    custom_auth: CustomAuth | None,
) -> ServerContext:
    """The context services run in: an API process's, and a worker's cron scheduler's (its
    runs are created as an API process would create them)."""
    http = project.http
    ctx = ServerContext(
        settings=settings,
        storage=storage,
        broker=broker,
        registry=registry,
        project=project,
        thread_ttl=thread_ttl,
        header_patterns=header_patterns(http.configurable_headers if http else None),
    )
    if custom_auth is not None:
        ctx.extras["custom_auth"] = custom_auth
    return ctx


async def sync_system_assistants(
    ctx: ServerContext, configs: dict[str, dict[str, Any]] | None = None
) -> None:
    """One assistant per graph; `configs` (`LANGGRAPH_CONFIG`) is what a new one is created
    with, `context` mirroring its `configurable` (an existing one keeps its own)."""
    for graph_id in ctx.registry.graph_ids:
        config, context = mirror_config_context((configs or {}).get(graph_id), None)
        await ctx.storage.assistants.upsert_system(
            assistant_id=system_assistant_id(graph_id),
            graph_id=graph_id,
            name=ctx.registry.display_name(graph_id),
            description=ctx.registry.description(graph_id),
            config=config,
            context=context,
        )


def create_app(
    settings: Settings,
    project: ProjectConfig | None = None,
    registry: GraphRegistry | None = None,
) -> FastAPI:
    """Build the app. The project is loaded (and its graphs imported) before serving starts,
    so a broken graph fails start-up rather than the first request."""
    project = project or load_project_config(settings)
    tracing.configure()  # OTEL_* asks for traces: on now, or a clear start-up error
    registry = registry or GraphRegistry.from_project(project, activate=True)
    custom_auth = build_custom_auth(project, settings)
    graph_configs = graph_configs_from_env()  # read once the project's env is applied
    thread_ttl = policy_for(project)  # likewise: the project's env may set LANGGRAPH_THREAD_TTL
    http = project.http
    custom = load_custom_app(http, project.base_dir) if http else None
    webhooks_enabled = not (http and http.disable_webhooks)
    store_index, store_ttl = store_options(project)  # embeddings load now, not on first use

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        storage = create_storage(settings, store_index=store_index, store_ttl=store_ttl)
        await storage.open()
        broker = build_broker(settings)
        await broker.start()
        ctx = server_context(settings, storage, broker, registry, project, thread_ttl, custom_auth)
        app.state.ctx = ctx
        await sync_system_assistants(ctx, graph_configs)
        thread_sweeper = ThreadTTLSweeper(storage, broker, thread_ttl)
        thread_sweeper.start()
        pool = None
        if settings.run_slots > 0:
            from threadloom.runtime.worker import WorkerPool

            pool = WorkerPool(
                storage,
                broker,
                registry,
                settings,
                worker_id=f"{socket.gethostname()}:{os.getpid()}",
            )
            from threadloom.services.webhook_payloads import install_webhooks

            webhooks = install_webhooks(storage, settings, pool.executor, enabled=webhooks_enabled)
            await pool.start()
            METRICS.runtime.slots = pool.slot_usage
        app.state.worker_pool = pool
        store_sweeper = StoreSweeper(storage, sweep_interval_seconds(project))
        store_sweeper.start()
        cron_scheduler = CronScheduler(ctx)
        ctx.extras["cron_scheduler"] = cron_scheduler
        cron_scheduler.start()
        try:
            yield
        finally:
            await cron_scheduler.stop()
            await store_sweeper.stop()
            await thread_sweeper.stop()
            if pool is not None:
                METRICS.runtime.slots = None
                await pool.stop()
                await webhooks.stop()
            await broker.stop()
            await storage.close()

    app = FastAPI(
        title="Threadloom",
        version=threadloom.__version__,
        description="Self-hosted agent server speaking the LangGraph Agent Server API.",
        lifespan=combined_lifespan(custom, lifespan),
    )
    install_error_handlers(app)
    # Routes are added flat, hottest first: FastAPI's include_router wraps each router in a
    # matcher that re-scans it per request, which profiling showed at ~0.6 ms a request.
    served = dashboard.dashboard_served(settings, auth_configured=custom_auth is not None)
    for router in ROUTERS:
        if router is dashboard.router and not served:
            continue
        app.router.routes.extend(router.routes)
    disabled = disabled_groups(http)
    app.router.routes[:] = enabled(app.router.routes, disabled)
    install_document(app, authenticated=bool(settings.api_keys) or custom_auth is not None)
    if not webhooks_enabled:
        without_webhooks(app)
    if custom is not None:
        attach(app, custom)
    cors, user_cors = cors_options(project)
    # the fast paths skip what is inside RequestMiddleware: not the user's middleware
    fast_paths_allowed = custom is None or custom.middleware_first or not custom.app.user_middleware
    ours = Middleware(
        RequestMiddleware,
        max_body_bytes=settings.max_body_bytes,
        cors=cors,
        api_keys=settings.api_keys,
        refuse_null_origin=not user_cors,
        mount_prefix=http.mount_prefix if http else None,
        custom=custom,
        hot_path_enabled="runs" not in disabled and fast_paths_allowed,
        store_fast_path_enabled="store" not in disabled and fast_paths_allowed,
        command_fast_path_enabled="event_streaming" not in disabled and fast_paths_allowed,
        custom_auth=custom_auth,
    )
    app.user_middleware[:] = with_custom_middleware(custom, ours)
    if custom_auth is not None:
        install_security_schemes(app, project)
    app.state.settings = settings
    app.state.registry = registry
    return app
