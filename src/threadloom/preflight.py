"""Start-up checks of the cluster's backing services: one clear line instead of a traceback.

`threadloom serve` and `threadloom worker` call `check_backends` before they start anything, so
an unreachable PostgreSQL or Redis is reported as "what URL (password masked), what failed" and
the process exits non-zero, instead of a server that comes up and answers 503s.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

from threadloom.settings import Settings

CONNECT_TIMEOUT_SECONDS = 5.0
_KV_PASSWORD = re.compile(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", re.IGNORECASE)


class BackendUnreachable(Exception):
    """A backing service refused or failed the start-up check; `str()` is the whole story."""


def mask_url(url: str) -> str:
    """The URL with its password replaced by `***` (URL and key=value DSN forms)."""
    if "://" not in url:
        return _KV_PASSWORD.sub(r"\1***", url)
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable URL>"
    masked = parts
    if parts.password is not None:
        userinfo = f"{parts.username or ''}:***"
        host = parts.netloc.rsplit("@", 1)[1]
        masked = parts._replace(netloc=f"{userinfo}@{host}")
    query = _KV_PASSWORD.sub(r"\1***", masked.query.replace("&", " ")).replace(" ", "&")
    return urlunsplit(masked._replace(query=query))


def describe(exc: BaseException) -> str:
    """A one-line reason from a driver exception (drivers put hints on later lines)."""
    text = " ".join(line.strip() for line in str(exc).splitlines() if line.strip())
    return text or type(exc).__name__


async def check_postgres(url: str, timeout: float = CONNECT_TIMEOUT_SECONDS) -> None:  # noqa: ASYNC109
    """Connect once and run `SELECT 1`."""
    import psycopg

    try:
        conn = await psycopg.AsyncConnection.connect(url, connect_timeout=max(1, int(timeout)))
        try:
            await conn.execute("SELECT 1")
        finally:
            await conn.close()
    except (psycopg.Error, OSError) as exc:
        raise BackendUnreachable(
            f"cannot use PostgreSQL at {mask_url(url)}: {describe(exc)}"
        ) from exc


async def check_redis(url: str, timeout: float = CONNECT_TIMEOUT_SECONDS) -> None:  # noqa: ASYNC109
    """Connect once and PING."""
    import redis.asyncio as aioredis
    import redis.exceptions

    client = aioredis.Redis.from_url(
        url, socket_connect_timeout=timeout, socket_timeout=timeout, retry_on_timeout=False
    )
    try:
        await client.ping()
    except (redis.exceptions.RedisError, OSError) as exc:
        raise BackendUnreachable(f"cannot use Redis at {mask_url(url)}: {describe(exc)}") from exc
    finally:
        await client.aclose()


async def check_backends(settings: Settings) -> None:
    """Check every configured backing service; raises `BackendUnreachable`."""
    if settings.database_url:
        await check_postgres(settings.database_url)
    if settings.redis_url:
        await check_redis(settings.redis_url)


def check_store_extensions(settings: Settings, store_index: object | None) -> None:
    """With `store.index`, the database must do vectors: pgvector on PostgreSQL, loadable
    sqlite-vec on SQLite. Raises `MissingExtension` with one line saying how to get it."""
    if store_index is None:
        return
    from threadloom.storage.errors import PGVECTOR_MISSING, MissingExtension

    if not settings.database_url:
        from threadloom.storage.sqlite.store import vector_connection

        vector_connection(":memory:", 0).close()
        return
    import psycopg

    try:
        with psycopg.connect(settings.database_url, connect_timeout=5) as conn:
            row = conn.execute(
                "SELECT 1 FROM pg_available_extensions WHERE name = 'vector'"
            ).fetchone()
    except psycopg.Error:
        return  # reachability is check_backends' to report; migrate reports it again
    if row is None:
        raise MissingExtension(PGVECTOR_MISSING)
