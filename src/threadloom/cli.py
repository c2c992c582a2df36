"""`threadloom` command line: dev, serve, worker, migrate, crons."""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import socket
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
from pydantic import ValidationError

import threadloom
from threadloom.console import LOG_FORMATS
from threadloom.dev.reloader import PUBLIC_URL_ENV, RELOAD_CHILD_ENV
from threadloom.settings import DEFAULT_PORT, Settings, load_settings

ENV_PREFIX = "THREADLOOM_"


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
        _fail(f"{exc} (pass --config, or start a project with `threadloom new my-agent`)")
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


def _storage_line(settings: Settings) -> str:
    storage = f"SQLite {settings.resolved_sqlite_path()}"
    if settings.database_url:
        from threadloom.preflight import mask_url

        schema = f" (schema {settings.database_schema})" if settings.database_schema else ""
        storage = f"PostgreSQL {mask_url(settings.database_url)}{schema}"
        if settings.redis_url:
            storage += f"; Redis {mask_url(settings.redis_url)}"
    return storage


@dataclass
class DevExtras:
    """What `threadloom dev` adds around the server (flags `langgraph dev` users know)."""

    browser: bool = False
    studio_url: str | None = None
    debug_port: int | None = None
    wait_for_client: bool = False
    tunnel: bool = False


def _local_url(settings: Settings, project: Any = None) -> str:
    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    prefix = project.http.mount_prefix if project is not None and project.http else None
    return f"{settings.scheme}://{host}:{settings.port}{prefix or ''}"


def _serve(settings: Settings, *, reload: bool, mode: str, extras: DevExtras | None = None) -> None:
    import uvicorn

    from threadloom.console import Banner, print_banner, setup_logging

    sys.setswitchinterval(settings.gil_switch_interval_seconds)
    extras = extras or DevExtras()
    try:
        shape = setup_logging(
            settings.log_level,
            log_format=settings.log_format,
            server_level=settings.server_log_level,
            access_log=settings.access_log,
        )
    except ValueError as exc:
        _fail(str(exc))
    reload_child = os.environ.get(RELOAD_CHILD_ENV)
    if reload_child is None:
        _check_port(settings.host, settings.port)
    if extras.tunnel and reload_child is None:
        from threadloom.dev.tunnel import NOT_INSTALLED, cloudflared

        if cloudflared() is None:  # before anything slow: the answer does not depend on it
            _fail(NOT_INSTALLED)
    if reload:
        _supervise(settings, extras)
        return
    _preflight(settings)
    if extras.debug_port is not None:
        from threadloom.dev.debugger import DebuggerUnavailable, start_debugger

        try:
            start_debugger(settings.host, extras.debug_port, wait_for_client=extras.wait_for_client)
        except DebuggerUnavailable as exc:
            _fail(str(exc))
        except OSError as exc:
            _fail(f"cannot listen for a debugger on port {extras.debug_port}: {exc.strerror}")
    project, registry = _preload(settings)
    local_url = _local_url(settings, project)
    public_url = os.environ.get(PUBLIC_URL_ENV) or local_url
    tunnel = None
    if extras.tunnel and reload_child is None:
        tunnel = _open_tunnel(_local_url(settings))  # the origin; the prefix goes on its URL
        public_url = tunnel.url + local_url.removeprefix(_local_url(settings))
    os.environ.setdefault("LANGGRAPH_API_URL", public_url)  # as `langgraph dev` sets it
    studio = None
    if mode == "dev":
        from threadloom.dev.studio import studio_link

        studio = studio_link(public_url, extras.studio_url)
    if reload_child == "again":
        logging.getLogger("threadloom").info(
            "reloaded: graphs %s", ", ".join(registry.graph_ids) or "(none)"
        )
    else:
        extra = {"Workers": f"{settings.run_slots} runs at once"}
        from threadloom.api.dashboard import dashboard_served

        auth_path = project.auth.path if project.auth is not None else None
        if dashboard_served(settings, auth_configured=auth_path is not None):
            extra = {"Dashboard": f"{local_url}/dashboard", **extra}
        if public_url != local_url:
            extra["Tunnel"] = public_url
        print_banner(
            Banner(
                threadloom.__version__,
                mode,
                local_url,
                _storage_line(settings),
                list(registry.graph_ids),
                studio,
                extra,
            ),
            shape,
        )
    if settings.host not in ("127.0.0.1", "localhost", "::1") and not settings.api_keys:
        logging.getLogger("threadloom").warning(
            "listening on %s without THREADLOOM_API_KEYS: anyone who can reach it can use it",
            settings.host,
        )
    if extras.browser and studio and reload_child != "again":
        from threadloom.dev.studio import open_when_ready

        open_when_ready(studio, f"{local_url}/ok")
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
        log_level=(settings.server_log_level or settings.log_level).lower(),
        log_config=None,
        access_log=settings.access_log,
        ssl_keyfile=str(settings.ssl_keyfile) if settings.ssl_keyfile else None,
        ssl_certfile=str(settings.ssl_certfile) if settings.ssl_certfile else None,
        timeout_graceful_shutdown=int(settings.shutdown_grace_seconds) + 5,
        loop=settings.event_loop,
    )
    try:
        _run_draining(config)
    finally:
        if tunnel is not None:
            tunnel.close()


def _open_tunnel(local_url: str) -> Any:
    from threadloom.dev.tunnel import TunnelError, open_tunnel

    logging.getLogger("threadloom").info("starting a Cloudflare tunnel to %s", local_url)
    try:
        return open_tunnel(local_url)
    except TunnelError as exc:
        _fail(str(exc))


def _supervise(settings: Settings, extras: DevExtras) -> None:
    """`--reload`: a supervisor restarts the server when project files change — only once the
    changed project loads; until then the last good server keeps answering."""
    from threadloom.dev.reloader import Reloader

    local_url = _local_url(settings)
    public_url = None
    tunnel = _open_tunnel(local_url) if extras.tunnel else None
    if tunnel is not None:
        public_url = tunnel.url
    child_args = [a for a in sys.argv[1:] if a not in ("--reload", "--tunnel")]
    try:
        code = Reloader(settings, child_args, public_url=public_url).run()
    finally:
        if tunnel is not None:
            tunnel.close()
    sys.exit(code)


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

    try:
        DrainingServer(config).run()
    except KeyboardInterrupt:  # uvicorn re-raises Ctrl-C once it has shut down: we are done
        pass


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
    click.option(
        "--n-jobs-per-worker",
        "n_jobs_per_worker",
        type=int,
        default=None,
        help="Same as --workers (the `langgraph dev` name)",
    ),
    click.option("--log-level", default=None, help="debug, info, warning, error (all loggers)"),
    click.option(
        "--server-log-level",
        default=None,
        help="Level of the server's own loggers (threadloom, uvicorn); default --log-level",
    ),
    click.option(
        "--log-format",
        type=click.Choice(LOG_FORMATS),
        default=None,
        help="auto (rich on a terminal, else plain), rich, plain, or json (one object per line)",
    ),
    click.option(
        "--ssl-keyfile",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        default=None,
        help="TLS key file: serve https (with --ssl-certfile)",
    ),
    click.option(
        "--ssl-certfile",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        default=None,
        help="TLS certificate file: serve https (with --ssl-keyfile)",
    ),
    click.option(
        "--access-log/--no-access-log",
        default=None,
        help="Log every HTTP request (off by default)",
    ),
]


def common_options(func: Any) -> Any:
    for option in reversed(_common):
        func = option(func)
    return func


def _settings(opts: dict[str, Any], **more: Any) -> Settings:
    """Settings from the environment and the flags; bad values are one line, not a traceback."""
    jobs = opts.pop("n_jobs_per_worker", None)
    if jobs is not None and opts.get("workers") is None:
        opts["workers"] = jobs
    if (opts.get("ssl_keyfile") is None) != (opts.get("ssl_certfile") is None):
        _fail("--ssl-certfile and --ssl-keyfile go together: give both to serve https")
    try:
        return load_settings(**opts, **more)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        _fail(f"invalid setting: {problems}")
        raise  # unreachable: _fail exits


@click.group()
@click.version_option(threadloom.__version__, prog_name="threadloom")
def main() -> None:
    """Threadloom: a self-hosted agent server for LangGraph graphs."""


@main.command()
@common_options
@click.option(
    "--reload/--no-reload",
    default=False,
    help="Restart when project files change; a broken edit keeps the last good server",
)
@click.option(
    "--db", "sqlite_path", type=click.Path(path_type=Path), default=None, help="SQLite file"
)
@click.option(
    "--browser/--no-browser",
    default=False,
    help="Open LangGraph Studio in your browser once the server answers (default: don't)",
)
@click.option(
    "--studio-url",
    default=None,
    help="Origin of the LangGraph Studio to link to (default https://smith.langchain.com)",
)
@click.option(
    "--debug-port", type=int, default=None, help="Listen for a debugger (debugpy) on this port"
)
@click.option(
    "--wait-for-client",
    is_flag=True,
    default=False,
    help="With --debug-port: wait for the debugger to attach before starting",
)
@click.option(
    "--allow-blocking",
    is_flag=True,
    default=False,
    help="Accepted for `langgraph dev` scripts: Threadloom never raises on blocking calls",
)
@click.option(
    "--tunnel",
    is_flag=True,
    default=False,
    help="Expose the server through a Cloudflare quick tunnel (needs cloudflared and internet)",
)
def dev(
    reload: bool,
    sqlite_path: Path | None,
    browser: bool,
    studio_url: str | None,
    debug_port: int | None,
    wait_for_client: bool,
    allow_blocking: bool,
    tunnel: bool,
    **opts: Any,
) -> None:
    """Run the embedded server (SQLite, in-process workers) for development."""
    # as `langgraph dev`: Studio's requests (x-auth-scheme: langsmith) get in as the Studio user
    os.environ.setdefault(ENV_PREFIX + "STUDIO_AUTH", "true")
    if wait_for_client and debug_port is None:
        _fail("--wait-for-client needs --debug-port")
    if tunnel and opts.get("ssl_certfile") is not None:
        _fail("--tunnel serves the tunnel's https; drop --ssl-certfile/--ssl-keyfile, or --tunnel")
    if allow_blocking:
        os.environ.setdefault("LANGGRAPH_ALLOW_BLOCKING", "true")
    settings = _settings(opts, sqlite_path=sqlite_path)
    extras = DevExtras(
        browser=browser,
        studio_url=studio_url,
        debug_port=debug_port,
        wait_for_client=wait_for_client,
        tunnel=tunnel,
    )
    _serve(settings, reload=reload, mode="dev", extras=extras)


@main.command()
@common_options
def serve(**opts: Any) -> None:
    """Run the production API server (PostgreSQL + Redis when THREADLOOM_DATABASE_URL is set)."""
    settings = _settings(opts)
    _serve(settings, reload=False, mode="serve")


@main.command()
@click.option(
    "--config", type=click.Path(path_type=Path), default=None, help="Path to langgraph.json"
)
def check(**opts: Any) -> None:
    """Load the project and import its graphs, as a server would, then exit (0: it loads)."""
    from threadloom.console import setup_logging

    settings = _settings(opts)
    setup_logging("warning", log_format="plain")
    project, registry = _preload(settings)
    if project.http:  # a broken http.app fails here too, as it fails a server's start
        from threadloom.api.custom_app import load_custom_app
        from threadloom.errors import ThreadloomError

        try:
            load_custom_app(project.http, project.base_dir)
        except ThreadloomError as exc:
            _fail(exc.detail)
    click.echo(f"ok: graphs {', '.join(registry.graph_ids) or '(none)'}")


@main.command()
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--force", is_flag=True, default=False, help="Write into a folder that has files")
def new(path: Path, force: bool) -> None:
    """Write a small working project (the offline example agent) into PATH."""
    from threadloom.dev.scaffold import ScaffoldError, write_project

    try:
        written = write_project(path, force=force)
    except ScaffoldError as exc:
        _fail(str(exc))
    click.echo(f"wrote {len(written)} files to {path}")
    click.echo("next:")
    click.echo(f"  cd {path}")
    click.echo("  threadloom dev        # then open http://127.0.0.1:2025/docs")


@main.command()
@click.option("--config", type=click.Path(path_type=Path), default=None)
@click.option("--workers", type=int, default=None)
@click.option("--log-level", default=None)
@click.option("--server-log-level", default=None)
@click.option("--log-format", type=click.Choice(LOG_FORMATS), default=None)
@click.option(
    "--metrics-port",
    type=int,
    default=None,
    help="Serve this worker's /metrics and /ok on this port (THREADLOOM_METRICS_PORT)",
)
def worker(**opts: Any) -> None:
    """Execute runs from the shared queue (cluster shape); no API port (`--metrics-port`
    serves its /metrics and /ok)."""
    from threadloom.console import setup_logging

    settings = _settings(opts)
    setup_logging(
        settings.log_level,
        log_format=settings.log_format,
        server_level=settings.server_log_level,
    )
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
    settings = _settings(opts)
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
