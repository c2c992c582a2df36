"""Bring a PostgreSQL schema to the newest version (startup and `threadloom migrate`).

Threadloom's own tables are versioned alembic migrations (raw SQL, in `migrations/`); the
LangGraph checkpointer and store tables come from those packages' own `setup()`. All of it runs
under one advisory lock per schema, so any number of API servers and workers may start at once:
the first migrates, the others wait and then find nothing to do.

The lock is taken with `pg_try_advisory_lock` in a polling loop, not a blocking
`pg_advisory_lock`: LangGraph's migrations use `CREATE INDEX CONCURRENTLY`, which waits for every
transaction that holds a snapshot — including a waiter blocked inside `pg_advisory_lock`, which
would deadlock with the lock holder.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from pathlib import Path
from typing import Any, Literal, cast

import psycopg
from psycopg import AsyncConnection, sql
from psycopg.rows import DictRow

from threadloom.storage.errors import PGVECTOR_MISSING, MissingExtension
from threadloom.storage.postgres.db import check_schema, connection_kwargs

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
LOCK_POLL_SECONDS = 0.1


def lock_key(schema: str | None) -> int:
    """A stable signed 64-bit advisory lock key per schema."""
    digest = hashlib.blake2b(f"threadloom-migrate:{schema or ''}".encode(), digest_size=8)
    return int.from_bytes(digest.digest(), "big", signed=True)


def sqlalchemy_url(url: str) -> str:
    """`postgresql://…` → `postgresql+psycopg://…` (alembic runs on SQLAlchemy + psycopg 3)."""
    for prefix in ("postgresql+psycopg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _alembic_upgrade(url: str, schema: str | None, revision: str) -> None:
    alembic_command(url, schema, "upgrade", revision)


def alembic_command(
    url: str, schema: str | None, name: Literal["upgrade", "downgrade"], revision: str
) -> None:
    """Synchronous: alembic's own connection (inside the caller's advisory lock, if any)."""
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import create_engine
    from sqlalchemy.pool import NullPool

    options = connection_kwargs(schema)["options"]
    engine = create_engine(
        sqlalchemy_url(url), poolclass=NullPool, connect_args={"options": options}
    )
    try:
        with engine.connect() as connection:
            config = Config()
            config.set_main_option("script_location", str(MIGRATIONS_DIR))
            config.attributes["connection"] = connection
            config.attributes["schema"] = schema
            getattr(command, name)(config, revision)
            connection.commit()
    finally:
        engine.dispose()


async def _acquire(conn: AsyncConnection[Any], key: int, wait_seconds: float) -> None:
    deadline = time.monotonic() + wait_seconds
    while True:
        cur = await conn.execute("SELECT pg_try_advisory_lock(%s) AS ok", (key,))
        row = await cur.fetchone()
        if row is not None and (row["ok"] if isinstance(row, dict) else row[0]):
            return
        if time.monotonic() > deadline:
            raise TimeoutError("timed out waiting for another process's migration")
        await asyncio.sleep(LOCK_POLL_SECONDS)


async def ensure_pgvector(conn: AsyncConnection[DictRow]) -> None:
    """Create the `vector` extension in `public` (once per database, shared by every schema on
    `search_path`); a server without it fails start-up with one line saying how to install it."""
    row = await (
        await conn.execute("SELECT 1 AS ok FROM pg_extension WHERE extname = 'vector'")
    ).fetchone()
    if row is not None:
        return
    available = await (
        await conn.execute("SELECT 1 AS ok FROM pg_available_extensions WHERE name = 'vector'")
    ).fetchone()
    if available is None:
        raise MissingExtension(PGVECTOR_MISSING)
    try:
        await conn.execute("CREATE EXTENSION IF NOT EXISTS vector SCHEMA public")
    except (psycopg.errors.UniqueViolation, psycopg.errors.DuplicateObject):
        pass  # another schema's migration created it at the same moment
    except psycopg.errors.InsufficientPrivilege as exc:
        raise MissingExtension(
            f"store.index needs the pgvector extension, and this role may not create it ({exc});"
            " run `CREATE EXTENSION vector SCHEMA public` as a superuser once"
        ) from None


async def _fractional_store_ttl(conn: AsyncConnection[DictRow]) -> None:
    """LangGraph's store keeps `ttl_minutes` as INT, so a TTL of 0.5 minutes became 0 and its
    first refresh expired the item at once; the Store API takes minutes as a number. Widened
    once, in place (the other backend's column is REAL already)."""
    row = await (
        await conn.execute(
            "SELECT data_type FROM information_schema.columns WHERE table_schema ="
            " current_schema() AND table_name = 'store' AND column_name = 'ttl_minutes'"
        )
    ).fetchone()
    if row is not None and row["data_type"] == "integer":
        await conn.execute("ALTER TABLE store ALTER COLUMN ttl_minutes TYPE double precision")


async def migrate(
    url: str,
    *,
    schema: str | None = None,
    store_index: dict[str, Any] | None = None,
    revision: str = "head",
    lock_timeout: float = 600.0,
) -> None:
    """Create or upgrade Threadloom's, the checkpointer's and the store's tables. Idempotent."""
    from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
    from langgraph.store.postgres.aio import AsyncPostgresStore

    check_schema(schema)
    kwargs = connection_kwargs(schema)
    conn = cast(AsyncConnection[DictRow], await AsyncConnection.connect(url, **kwargs))
    try:
        key = lock_key(schema)
        await _acquire(conn, key, lock_timeout)
        try:
            if schema is not None:
                await conn.execute(
                    sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema))
                )
            await asyncio.to_thread(_alembic_upgrade, url, schema, revision)
            await AsyncPostgresSaver(conn).setup()
            if store_index:
                await ensure_pgvector(conn)
            await AsyncPostgresStore(conn, index=cast(Any, store_index)).setup()
            await _fractional_store_ttl(conn)
        finally:
            await conn.execute("SELECT pg_advisory_unlock(%s)", (key,))
    finally:
        await conn.close()


def migrate_blocking(url: str, *, schema: str | None = None) -> None:
    """`migrate` for synchronous callers (the CLI)."""
    asyncio.run(migrate(url, schema=schema))
