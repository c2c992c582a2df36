"""Isolation for tests that need the real PostgreSQL and Redis services.

Each test session gets a fresh schema with a random name (dropped at the end), and Redis keys under
a random prefix (deleted at the end). When a service is unreachable the tests that need it skip,
saying so; CI always has both.
"""

from __future__ import annotations

import atexit
import os
import secrets
import socket
from urllib.parse import urlparse

import pytest

PG_URL = os.environ.get("THREADLOOM_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("THREADLOOM_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def _reachable(url: str, default_port: int) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection(
            (parsed.hostname or "127.0.0.1", parsed.port or default_port), 1.0
        ):
            return True
    except OSError:
        return False


def _unavailable(reason: str) -> None:
    """Skip on a developer machine without the service; fail in CI, where it must be there."""
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


def require_postgres() -> str:
    """The test database URL, or skip the test with the reason."""
    if not _reachable(PG_URL, 5432):
        _unavailable(f"PostgreSQL unreachable at {PG_URL} (set THREADLOOM_TEST_PG_URL)")
    return PG_URL


def require_redis() -> str:
    """The test Redis URL, or skip the test with the reason."""
    if not _reachable(REDIS_URL, 6379):
        _unavailable(f"Redis unreachable at {REDIS_URL} (set THREADLOOM_TEST_REDIS_URL)")
    return REDIS_URL


def random_name(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(6)}"


async def drop_schema(url: str, schema: str) -> None:
    """Drop a test schema and everything in it."""
    import psycopg

    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


async def delete_redis_prefix(url: str, prefix: str) -> None:
    """Delete every key a test wrote under `prefix`."""
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(url)
    try:
        keys = [key async for key in client.scan_iter(match=f"{prefix}:*", count=1000)]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


# --- the contract suite's postgres backend --------------------------------------------------
_SESSION = secrets.token_hex(4)
_SCHEMAS: set[str] = set()


def schema_for(key: str) -> str:
    """One schema per test (same key → same schema, so a reopened storage sees the same
    data), all named after this session and dropped when it ends."""
    import hashlib

    digest = hashlib.blake2b(key.encode(), digest_size=6).hexdigest()
    schema = f"tl_{_SESSION}_{digest}"
    if not _SCHEMAS:
        atexit.register(_drop_session_schemas)
    _SCHEMAS.add(schema)
    return schema


def _drop_session_schemas() -> None:
    import psycopg

    try:
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            for schema in sorted(_SCHEMAS):
                conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    except psycopg.Error:
        pass
    _SCHEMAS.clear()
