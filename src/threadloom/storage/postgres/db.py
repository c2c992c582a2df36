"""The connection pool the repositories, the LangGraph checkpointer and the store share.

Pool connections are autocommit with dict rows and `prepare_threshold=0` (what the LangGraph
savers require), live in the Threadloom schema through `search_path`, and use UTC so timestamps
come back aware and comparable. Repositories run one-statement reads directly and multi-statement
changes inside `transaction()`.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any, cast

import orjson
from psycopg import AsyncConnection, AsyncCursor
from psycopg.rows import DictRow, dict_row
from psycopg.types.json import set_json_loads
from psycopg_pool import AsyncConnectionPool

from threadloom.errors import Unprocessable

_SCHEMA_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")

Cursor = AsyncCursor[DictRow]


def check_schema(schema: str | None) -> str | None:
    """Schema names go into `search_path` and DDL: allow plain identifiers only."""
    if schema is not None and not _SCHEMA_NAME.match(schema):
        raise Unprocessable(f"Invalid PostgreSQL schema name {schema!r}")
    return schema


def connection_kwargs(schema: str | None) -> dict[str, Any]:
    """Keyword arguments for every connection Threadloom opens to PostgreSQL."""
    options = "-c TimeZone=UTC"
    if schema is not None:
        options += f" -c search_path={schema},public"
    return {
        "autocommit": True,
        "prepare_threshold": 0,
        "row_factory": dict_row,
        "options": options,
    }


async def _configure(conn: AsyncConnection[Any]) -> None:
    set_json_loads(orjson.loads, conn)


def make_pool(
    url: str, schema: str | None, min_size: int, max_size: int, *, timeout: float = 30.0
) -> AsyncConnectionPool:
    """`timeout` bounds the wait for a connection, so an outage turns into 503s promptly; the
    pool keeps reconnecting in the background and recovers by itself."""
    return AsyncConnectionPool(
        url,
        min_size=min_size,
        max_size=max_size,
        timeout=timeout,
        kwargs=connection_kwargs(schema),
        configure=_configure,
        open=False,
        name="threadloom",
    )


class Database:
    """Thin helpers over the pool: one statement, or one transaction."""

    def __init__(self, pool: AsyncConnectionPool) -> None:
        self.pool = pool

    async def fetchone(self, sql: str, params: Any = None) -> dict[str, Any] | None:
        async with self.pool.connection() as conn:
            cur = await conn.execute(sql, params)
            return cast(dict[str, Any] | None, await cur.fetchone())

    async def fetchall(self, sql: str, params: Any = None) -> list[dict[str, Any]]:
        async with self.pool.connection() as conn:
            cur = await conn.execute(sql, params)
            return cast(list[dict[str, Any]], await cur.fetchall())

    async def fetchall_with(
        self, settings: Sequence[str], sql: str, params: Any = None
    ) -> list[dict[str, Any]]:
        """One read under `SET LOCAL` planner settings, in a single round trip (pipeline mode:
        BEGIN, the settings, the query and COMMIT are sent together)."""
        async with (
            self.pool.connection() as conn,
            conn.pipeline(),
            conn.cursor(row_factory=dict_row) as cur,
        ):
            try:
                await cur.execute("BEGIN")
                for setting in settings:
                    await cur.execute(setting)
                await cur.execute(sql, params)
                await conn.execute("COMMIT")
                return cast(list[dict[str, Any]], await cur.fetchall())
            except BaseException:
                with contextlib.suppress(Exception):
                    await conn.rollback()
                raise

    async def execute(self, sql: str, params: Any = None) -> int:
        async with self.pool.connection() as conn:
            cur = await conn.execute(sql, params)
            return cur.rowcount

    @asynccontextmanager
    async def transaction(self, *, pipeline: bool = False) -> AsyncIterator[Cursor]:
        """A cursor inside BEGIN … COMMIT (rolled back if the block raises).

        `pipeline=True` (psycopg pipeline mode) for the per-run hot paths: statements whose
        results are not fetched ride along with the next fetch or the COMMIT, so BEGIN costs no
        round trip of its own and trailing writes share COMMIT's. Errors of such statements
        surface at that later sync, so callers must not expect them at `execute`.
        """
        async with self.pool.connection() as conn:
            if not pipeline:
                async with conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
                    yield cur
                return
            async with (
                conn.pipeline(),
                conn.transaction(),
                conn.cursor(row_factory=dict_row) as cur,
            ):
                yield cur
