"""`threadloom` command line: dev, serve, worker, migrate, crons."""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import socket
import sys
from pathlib import Path
from typing import Any

import click

import threadloom
from threadloom.settings import DEFAULT_PORT, Settings, load_settings

ENV_PREFIX = "THREADLOOM_"


def _setup_logging(level: str, pretty: bool) -> None:
    if pretty:
        from rich.logging import RichHandler

        handler: logging.Handler = RichHandler(show_path=False, rich_tracebacks=False, markup=False)
        fmt = "%(message)s"
    else:
        handler = logging.StreamHandler()
        fmt = "%(asctime)s %(levelname)s %(name)s: %(message)s"
    handler.setFormatter(logging.Formatter(fmt))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("alembic", "watchfiles"):  # migrations and file-watch chatter at INFO
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))


def _fail(message: str) -> None:
    click.echo(click.style("error: ", fg="red", bold=True) + message, err=True)
    sys.exit(1)


def _check_port(host: str, port: int) -> None:
    """A port in use is a clear error, never a silent move to another port."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                _fail(f"port {port} on {host} is already in use; pick another with --port")
            _fail(f"cannot listen on {host}:{port}: {exc.strerror}")


def _preload(settings: Settings) -> Any:
    """Load the project and import its graphs now, so errors are one readable line."""
    from threadloom.app import load_project_config
    from threadloom.auth.loader import load_auth
    from threadloom.errors import ThreadloomError
    from threadloom.graphs.registry import GraphRegistry
    from threadloom.graphs.store_config import store_options
    from threadloom.preflight import check_store_extensions

    try:
        project = load_project_config(settings)
        registry = GraphRegistry.from_project(project, activate=True)
        load_auth(project)  # a broken auth.path: one line, and no server open to everyone
        check_store_extensions(settings, store_options(project)[0])
    except ThreadloomError as exc:
        _fail(exc.detail)
    except FileNotFoundError as exc:
        _fail(str(exc))
    return project, registry


def _preflight(settings: Settings) -> None:
    """Cluster shape: PostgreSQL and Redis reachable now, or one clear line and exit 1."""
    from threadloom.preflight import BackendUnreachable, check_backends

    if settings.database_url and not settings.redis_url:
        logging.getLogger("threadloom").warning(
            "PostgreSQL without THREADLOOM_REDIS_URL: streams and cancels stay inside this "
            "process, so run exactly one `threadloom serve` and no `threadloom worker`"
        )
    try:
        asyncio.run(check_backends(settings))
    except BackendUnreachable as exc:
        _fail(str(exc))


def _export(settings: dict[str, Any]) -> None:
    """Pass settings to a reloading child process through the environment."""
    for key, value in settings.items():
        if value is not None:
            os.environ[ENV_PREFIX + key.upper()] = str(value)


def _banner(settings: Settings, graph_ids: list[str], mode: str) -> None:
    url = f"http://{settings.host}:{settings.port}"
    storage = f"SQLite {settings.resolved_sqlite_path()}"
    if settings.database_url:
        from threadloom.preflight import mask_url

        schema = f" (schema {settings.database_schema})" if settings.database_schema else ""
        storage = f"PostgreSQL {mask_url(settings.database_url)}{schema}"
        if settings.redis_url:
            storage += f"; Redis {mask_url(settings.redis_url)}"
    click.echo(click.style(f"Threadloom {threadloom.__version__}", bold=True) + f" ({mode})")
    click.echo(f"  API:     {url}")
    click.echo(f"  Docs:    {url}/docs")
    click.echo(f"  Storage: {storage}")
    click.echo(f"  Graphs:  {', '.join(graph_ids) or '(none)'}")


def _serve(settings: Settings, *, reload: bool, pretty: bool, mode: str) -> None:
    import uvicorn

    sys.setswitchinterval(settings.gil_switch_interval_seconds)

    _setup_logging(settings.log_level, pretty)
    _check_port(settings.host, settings.port)
    _preflight(settings)
    project, registry = _preload(settings)
    _banner(settings, list(registry.graph_ids), mode)
    if settings.host not in ("127.0.0.1", "localhost", "::1") and not settings.api_keys:
        logging.getLogger("threadloom").warning(
            "listening on %s without THREADLOOM_API_KEYS: anyone who can reach it can use it",
            settings.host,
        )
    if reload:
        uvicorn.run(
            "threadloom.cli:app_from_env",
            factory=True,
            host=settings.host,
            port=settings.port,
            reload=True,
            reload_dirs=[str(settings.project_dir())],
            reload_excludes=[".threadloom/*", "*.db", "*.db-*"],
            log_level=settings.log_level,
            log_config=None,
            loop=settings.event_loop,
        )
        return
    from threadloom.app import create_app
    from threadloom.errors import ThreadloomError

    try:  # what create_app reads from the environment the project set (LANGGRAPH_THREAD_TTL…)
        app = create_app(settings, project, registry)
    except ThreadloomError as exc:
        _fail(exc.detail)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        log_config=None,
        access_log=settings.access_log,
        timeout_graceful_shutdown=int(settings.shutdown_grace_seconds) + 5,
        loop=settings.event_loop,
    )
    _run_draining(config)


def _run_draining(config: Any) -> None:
    """uvicorn's server, plus: on SIGTERM/SIGINT in-process workers stop claiming at once,
    while uvicorn drains open connections (which can be streams of running runs)."""
    import uvicorn

    class DrainingServer(uvicorn.Server):
        def handle_exit(self, sig: int, frame: Any) -> None:
            pool = getattr(config.app.state, "worker_pool", None)
            if pool is not None:
                pool.stop_claiming()
            super().handle_exit(sig, frame)

    DrainingServer(config).run()


def app_from_env() -> Any:
    """uvicorn factory for --reload: settings come from THREADLOOM_* variables."""
    from threadloom.app import create_app

    return create_app(Settings())


_common = [
    click.option("--host", default=None, help="Interface to bind (default 127.0.0.1)"),
    click.option("--port", type=int, default=None, help=f"Port (default {DEFAULT_PORT})"),
    click.option(
        "--config",
        type=click.Path(path_type=Path),
        default=None,
        help="Path to langgraph.json (default ./langgraph.json)",
    ),
    click.option("--workers", type=int, default=None, help="Runs executed at once by this process"),
    click.option("--log-level", default=None, help="debug, info, warning, error"),
]


def common_options(func: Any) -> Any:
    for option in reversed(_common):
        func = option(func)
    return func


@click.group()
@click.version_option(threadloom.__version__, prog_name="threadloom")
def main() -> None:
    """Threadloom: a self-hosted agent server for LangGraph graphs."""


@main.command()
@common_options
@click.option("--reload/--no-reload", default=False, help="Restart when project files change")
@click.option(
    "--db", "sqlite_path", type=click.Path(path_type=Path), default=None, help="SQLite file"
)
def dev(reload: bool, sqlite_path: Path | None, **opts: Any) -> None:
    """Run the embedded server (SQLite, in-process workers) for development."""
    # as `langgraph dev`: Studio's requests (x-auth-scheme: langsmith) get in as the Studio user
    os.environ.setdefault(ENV_PREFIX + "STUDIO_AUTH", "true")
    overrides = {**opts, "sqlite_path": sqlite_path}
    settings = load_settings(**overrides)
    if reload:
        _export({k: v for k, v in overrides.items() if v is not None})
    _serve(settings, reload=reload, pretty=True, mode="dev")


@main.command()
@common_options
def serve(**opts: Any) -> None:
    """Run the production API server (PostgreSQL + Redis when THREADLOOM_DATABASE_URL is set)."""
    settings = load_settings(**opts)
    _serve(settings, reload=False, pretty=False, mode="serve")


@main.command()
@click.option("--config", type=click.Path(path_type=Path), default=None)
@click.option("--workers", type=int, default=None)
@click.option("--log-level", default=None)
def worker(**opts: Any) -> None:
    """Execute runs from the shared queue (cluster shape); no HTTP."""
    settings = load_settings(**opts)
    _setup_logging(settings.log_level, pretty=False)
    if not settings.database_url or not settings.redis_url:
        _fail(
            "threadloom worker needs THREADLOOM_DATABASE_URL (PostgreSQL) and THREADLOOM_REDIS_URL"
        )
    if settings.run_slots < 1:
        _fail("threadloom worker needs --workers of at least 1")
    _preflight(settings)
    project, registry = _preload(settings)
    from threadloom.errors import ThreadloomError
    from threadloom.graphs.store_config import store_options
    from threadloom.preflight import describe
    from threadloom.runtime.standalone import run_worker
    from threadloom.storage.errors import is_unavailable

    try:
        asyncio.run(
            run_worker(
                settings,
                registry,
                project,
                *store_options(project),
                webhooks=not (project.http and project.http.disable_webhooks),
            )
        )
    except ThreadloomError as exc:
        _fail(exc.detail)
    except Exception as exc:
        if not is_unavailable(exc):
            raise
        _fail(f"a backing service became unavailable during start-up: {describe(exc)}")


@main.command()
@click.option("--config", type=click.Path(path_type=Path), default=None)
def migrate(**opts: Any) -> None:
    """Create or upgrade the database schema, then exit."""
    settings = load_settings(**opts)
    _preflight(settings)
    from threadloom.storage import migrate_storage

    asyncio.run(migrate_storage(settings))
    click.echo("database is up to date")


@main.command()
@click.option("--config", type=click.Path(path_type=Path), default=None)
@click.option(
    "--db", "sqlite_path", type=click.Path(path_type=Path), default=None, help="SQLite file"
)
@click.option("--next", "count", type=click.IntRange(1, 100), default=3, help="Firings shown")
@click.option("--limit", type=click.IntRange(1, 10000), default=100, help="Crons shown")
def crons(count: int, limit: int, **opts: Any) -> None:
    """List the crons, soonest first, with their next firings (UTC)."""
    settings = load_settings(**opts)
    _preflight(settings)
    from threadloom.services.crons import upcoming
    from threadloom.storage import create_storage

    async def read() -> tuple[list[Any], int]:
        storage = create_storage(settings)
        await storage.open()
        try:
            page = await storage.crons.search(
                limit=limit, sort_by="next_run_date", sort_order="asc"
            )
            return page.items, page.total
        finally:
            await storage.close()

    items, total = asyncio.run(read())
    if not items:
        click.echo("no crons")
        return
    from rich.console import Console
    from rich.table import Table

    table = Table()
    for column in ("cron_id", "assistant_id", "thread_id", "schedule", "timezone", "next (UTC)"):
        table.add_column(column, no_wrap=True)
    for cron in items:
        firings = upcoming(cron, count)
        table.add_row(
            cron.cron_id,
            cron.assistant_id,
            cron.thread_id or "(new thread each time)",
            cron.schedule,
            cron.timezone or "UTC",
            "\n".join(f.strftime("%Y-%m-%d %H:%M:%S") for f in firings)
            or ("disabled" if not cron.enabled else "ended"),
        )
    Console(width=240).print(table)
    if total > len(items):
        click.echo(f"{len(items)} of at least {total} crons shown; --limit shows more")


if __name__ == "__main__":  # pragma: no cover
    main()
