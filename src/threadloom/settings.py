"""Server settings: `THREADLOOM_*` environment variables (plus the LangGraph names users already set).

Project content (graphs, env, auth, store...) lives in `langgraph.json`; this holds only how the
server runs. The CLI fills these from its flags.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_PORT = 2025  # 2024 (langgraph dev's default) is taken by a system process on our machines


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="THREADLOOM_", extra="ignore", populate_by_name=True
    )

    # where the project is
    config: Path = Field(default=Path("langgraph.json"), description="Path to langgraph.json")

    # HTTP
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    log_level: str = "info"
    access_log: bool = Field(default=False, description="Log every request (costs ~1 ms each)")
    ssl_keyfile: Path | None = Field(default=None, description="TLS key: serve https")
    ssl_certfile: Path | None = Field(default=None, description="TLS certificate: serve https")
    server_log_level: str | None = Field(
        default=None,
        description="Level of the server's own loggers (threadloom, uvicorn); default log_level",
    )
    log_format: str = Field(
        default="auto",
        description="auto (rich on a terminal, plain otherwise), rich, plain or json",
    )
    gil_switch_interval_seconds: float = Field(
        default=0.0005,
        gt=0,
        description="How long a thread may hold the GIL when others wait. Graphs' sync nodes "
        "run in threads; with Python's 5 ms default, the event loop waited up to 5 ms behind "
        "a busy node after every socket write",
    )
    event_loop: str = Field(
        default="asyncio",
        description="uvicorn loop: asyncio, uvloop or auto. asyncio by default: graphs' sync "
        "nodes run in threads, and that hand-off measured slower under uvloop",
    )

    # custom auth
    studio_auth: bool = Field(
        default=False,
        description="Let requests with `x-auth-scheme: langsmith` in as the Studio user, as "
        "`langgraph dev` does (on under `threadloom dev`; `auth.disable_studio_auth` turns it "
        "off). Never for a server others can reach: the header proves nothing",
    )

    # storage: SQLite file by default, PostgreSQL when a URL is given
    database_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices(
            "THREADLOOM_DATABASE_URL", "DATABASE_URI", "POSTGRES_URI", "database_url"
        ),
    )
    sqlite_path: Path | None = Field(
        default=None, description="SQLite file; default <project>/.threadloom/threadloom.db"
    )
    database_schema: str | None = Field(
        default=None,
        description="PostgreSQL schema for all tables (default: the server's search_path)",
    )
    database_pool_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        description="How long a request waits for a PostgreSQL connection before it fails (503)",
    )
    redis_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("THREADLOOM_REDIS_URL", "REDIS_URI", "redis_url"),
    )
    redis_prefix: str = Field(
        default="threadloom",
        min_length=1,
        description="Key and channel prefix, so deployments can share one Redis",
    )
    redis_max_connections: int = Field(
        default=4096,
        ge=8,
        description="Redis connections per process at most. Every client streaming or waiting "
        "on a run holds one while it reads; past the cap, readers wait for a free one",
    )

    # workers
    run_slots: int = Field(
        default=500,
        ge=0,
        validation_alias=AliasChoices(
            "THREADLOOM_RUN_SLOTS",
            "THREADLOOM_WORKERS",
            "N_JOBS_PER_WORKER",
            "run_slots",
            "workers",
        ),
        description="Runs executed at once by this process (0 = API only); `--workers`",
    )
    metrics_port: int | None = Field(
        default=None,
        ge=0,
        le=65535,
        description="`threadloom worker` only: serve this process's /metrics and /ok on this "
        "port (`--metrics-port`; off when unset). API processes serve them on their own port",
    )
    metrics_host: str | None = Field(
        default=None, description="Address of the worker's metrics port (default: `host`)"
    )
    run_timeout_seconds: float = Field(
        default=86400.0,
        gt=0,
        validation_alias=AliasChoices(
            "THREADLOOM_RUN_TIMEOUT_SECONDS", "BG_JOB_TIMEOUT_SECS", "run_timeout_seconds"
        ),
    )
    max_attempts: int = Field(
        default=3,
        ge=1,
        validation_alias=AliasChoices(
            "THREADLOOM_MAX_ATTEMPTS", "BG_JOB_MAX_RETRIES", "max_attempts"
        ),
    )
    shutdown_grace_seconds: float = Field(
        default=30.0,
        ge=0,
        validation_alias=AliasChoices(
            "THREADLOOM_SHUTDOWN_GRACE_SECONDS",
            "BG_JOB_SHUTDOWN_GRACE_PERIOD_SECS",
            "shutdown_grace_seconds",
        ),
    )
    stateless_checkpoint_delay_seconds: float = Field(
        default=0.1,
        ge=0,
        description="A stateless run's checkpoints are written at most this late, and not at "
        "all if the run ends (and its thread with it) sooner; 0 writes them at once. A run's "
        "`durability: sync` always writes them at once",
    )
    lease_seconds: float = Field(default=30.0, gt=0, description="A claimed run's lease")
    cron_lease_seconds: float = Field(
        default=30.0,
        gt=0,
        description="How long a scheduler holds the due cron firings it claimed; one killed "
        "before making their runs has them fired by another scheduler after this",
    )
    lease_heartbeat_seconds: float = Field(
        default=10.0,
        gt=0,
        validation_alias=AliasChoices(
            "THREADLOOM_LEASE_HEARTBEAT_SECONDS",
            "THREADLOOM_HEARTBEAT_SECONDS",
            "lease_heartbeat_seconds",
            "heartbeat_seconds",
        ),
        description="How often a worker renews the leases of the runs it holds",
    )

    # streaming
    stream_keepalive_seconds: float = Field(
        default=5.0,
        gt=0,
        validation_alias=AliasChoices(
            "THREADLOOM_STREAM_KEEPALIVE_SECONDS",
            "THREADLOOM_HEARTBEAT_INTERVAL_SECONDS",
            "stream_keepalive_seconds",
            "heartbeat_interval_seconds",
        ),
        description="Idle streams and /wait answers send a keep-alive this often",
    )
    stream_buffer_events: int = Field(
        default=10_000, ge=16, description="Events kept per run for replay and slow readers"
    )
    resumable_stream_ttl_seconds: float = Field(
        default=120.0,
        validation_alias=AliasChoices(
            "THREADLOOM_RESUMABLE_STREAM_TTL_SECONDS",
            "RESUMABLE_STREAM_TTL_SECONDS",
            "resumable_stream_ttl_seconds",
        ),
    )

    # security
    api_keys: list[str] = Field(default_factory=list, description="Static API keys (x-api-key)")
    allow_private_network: bool = Field(
        default=False,
        validation_alias=AliasChoices(
            "THREADLOOM_ALLOW_PRIVATE_NETWORK", "ALLOW_PRIVATE_NETWORK", "allow_private_network"
        ),
    )
    max_body_bytes: int = Field(
        default=300 * 1024 * 1024,
        gt=0,
        validation_alias=AliasChoices(
            "THREADLOOM_MAX_BODY_BYTES", "HTTP_MAX_REQUEST_BODY_BYTES", "max_body_bytes"
        ),
        description="Request bodies larger than this get 413 (the reference's setting too)",
    )

    # the built-in dashboard (/dashboard)
    dashboard: Literal["auto", "on", "off"] = Field(
        default="auto",
        description="Serve the dashboard at /dashboard: `auto` when the API needs a key or "
        "custom auth, or the server listens on loopback only; `on` always (anyone who reaches "
        "an unauthenticated server sees every thread); `off` never",
    )

    # webhooks and callbacks
    webhook_secret: str | None = Field(default=None, description="HMAC-SHA256 signing secret")
    webhook_require_https: bool = False
    webhook_allowed_domains: list[str] = Field(default_factory=list)
    webhook_timeout_seconds: float = Field(default=10.0, gt=0)
    webhook_max_attempts: int = Field(default=5, ge=1)

    @property
    def scheme(self) -> str:
        return "https" if self.ssl_certfile is not None else "http"

    def project_dir(self) -> Path:
        return self.config.resolve().parent

    def resolved_sqlite_path(self) -> Path:
        if self.sqlite_path is not None:
            return self.sqlite_path
        return self.project_dir() / ".threadloom" / "threadloom.db"

    @property
    def is_cluster(self) -> bool:
        return bool(self.database_url)


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment, with explicit (CLI) values winning."""
    clean = {k: v for k, v in overrides.items() if v is not None}
    return Settings(**clean)  # type: ignore[arg-type]


def env_flag(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}
