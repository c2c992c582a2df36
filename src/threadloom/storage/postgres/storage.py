"""The cluster backend: PostgreSQL for Threadloom's tables, LangGraph's checkpoints and store.

One `AsyncConnectionPool` serves the repositories, the checkpointer and the store; all of it
lives in one schema (`search_path`), so several deployments (or test sessions) can share a
database. `open()` migrates first (safe when many processes start at once, see `migrate`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, cast

import psycopg
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from langgraph.store.postgres.aio import AsyncPostgresStore
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from threadloom.errors import Unavailable
from threadloom.storage.base import Storage
from threadloom.storage.postgres import queries as q
from threadloom.storage.postgres.assistant_cache import AssistantCache
from threadloom.storage.postgres.assistants import PostgresAssistantStore
from threadloom.storage.postgres.crons import PostgresCronStore
from threadloom.storage.postgres.db import (
    Database,
    check_schema,
    connection_kwargs,
    make_pool,
)
from threadloom.storage.postgres.migrate import migrate
from threadloom.storage.postgres.queue import OfferChannel, RunListener
from threadloom.storage.postgres.runs import PostgresRunStore
from threadloom.storage.postgres.saver import PooledPostgresSaver
from threadloom.storage.postgres.store import PostgresMemoryStore
from threadloom.storage.postgres.threads import PostgresThreadStore

if TYPE_CHECKING:
    from threadloom.settings import Settings
    from threadloom.storage.records import Run
    from threadloom.storage.worker_session import WorkerSession


class PostgresStorage(Storage):
    """`Storage` on PostgreSQL. Repositories, `checkpointer` and `store` exist after `open()`."""

    def __init__(
        self,
        url: str,
        *,
        schema: str | None = None,
        pool_min: int = 2,
        pool_max: int = 20,
        pool_timeout: float = 30.0,
        store_index: dict[str, Any] | None = None,
        store_ttl: dict[str, Any] | None = None,
        migrate_on_open: bool = True,
        lease_seconds: float = 30.0,
    ) -> None:
        self.url = url
        self.lease_seconds = lease_seconds
        self.schema = check_schema(schema)
        self.pool_min = pool_min
        self.pool_max = max(pool_max, pool_min)
        self.pool_timeout = pool_timeout
        self.store_index = store_index
        self.store_ttl = store_ttl
        self.migrate_on_open = migrate_on_open
        self._pool: AsyncConnectionPool | None = None
        self._db: Database | None = None

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        store_index: dict[str, Any] | None = None,
        store_ttl: dict[str, Any] | None = None,
    ) -> PostgresStorage:
        assert settings.database_url, "PostgresStorage needs settings.database_url"
        return cls(
            settings.database_url,
            schema=getattr(settings, "database_schema", None),
            pool_max=max(10, min(100, settings.run_slots + 10)),
            pool_timeout=settings.database_pool_timeout_seconds,
            store_index=store_index,
            store_ttl=store_ttl,
            lease_seconds=settings.lease_seconds,
        )

    @property
    def db(self) -> Database:
        if self._db is None:
            raise Unavailable("PostgreSQL storage is not open")
        return self._db

    @property
    def pool(self) -> AsyncConnectionPool:
        return self.db.pool

    async def open(self) -> None:
        if self._pool is not None:
            return
        try:
            if self.migrate_on_open:
                await migrate(self.url, schema=self.schema, store_index=self.store_index)
            pool = make_pool(
                self.url, self.schema, self.pool_min, self.pool_max, timeout=self.pool_timeout
            )
            await pool.open(wait=True, timeout=30.0)
        except (psycopg.OperationalError, PoolTimeout) as exc:
            raise Unavailable(f"PostgreSQL unavailable: {exc}") from exc
        self._pool = pool
        self._db = Database(pool)
        conn = cast(Any, pool)
        self.checkpointer = saver = PooledPostgresSaver(conn)
        self.thread_hints = saver.hints
        self.store = PostgresMemoryStore(
            conn, index=cast(Any, self.store_index), ttl=cast(Any, self.store_ttl)
        )
        cache = AssistantCache()
        self.assistants = PostgresAssistantStore(self._db, cache)
        self.threads = PostgresThreadStore(self._db)
        self.crons = PostgresCronStore(self._db)
        self.runs = PostgresRunStore(self._db, cache, lease_seconds=self.lease_seconds)

    async def close(self) -> None:
        pool, self._pool, self._db = self._pool, None, None
        if pool is None:
            return
        store = getattr(self, "store", None)
        if isinstance(store, AsyncPostgresStore) and store._ttl_sweeper_task is not None:
            await store.stop_ttl_sweeper(timeout=1.0)
        await pool.close()

    async def sweep_store(self) -> int:
        async with self.db.transaction() as cur:
            await cur.execute(q.TRY_STORE_SWEEP_LOCK, {"key": q.store_sweep_lock_key(self.schema)})
            row = await cur.fetchone()
            if not row or not row["locked"]:
                return 0  # another process is sweeping this schema right now
            await cur.execute(q.DELETE_EXPIRED_STORE_ITEMS)
            return int(cur.rowcount or 0)

    async def ping(self) -> None:
        try:
            await self.db.fetchone("SELECT 1 AS ok")
        except (psycopg.Error, PoolTimeout) as exc:
            raise Unavailable(f"PostgreSQL unavailable: {exc}") from exc

    def worker_session(
        self,
        *,
        worker_id: str,
        lease_seconds: float,
        start_run: Callable[[Run], bool],
        wake: Callable[[], None],
    ) -> WorkerSession:
        """Claims plus slots offered for hand-over at insert (`postgres/worker_session.py`)."""
        from threadloom.storage.postgres.worker_session import PostgresWorkerSession

        return PostgresWorkerSession(
            self, worker_id=worker_id, lease_seconds=lease_seconds, start_run=start_run, wake=wake
        )

    async def listen_for_runs(
        self,
        on_run: Callable[[], None],
        *,
        offers: OfferChannel | None = None,
    ) -> Callable[[], Awaitable[None]] | None:
        """Call `on_run` whenever a /wait run becomes due (NOTIFYed at its commit), and
        `offers.on_assigned` with each run handed to this worker; returns a coroutine function
        that stops listening."""
        listener = RunListener(self.url, connection_kwargs(self.schema), on_run, offers=offers)
        listener.start()
        return listener.stop

    # --- checkpoint housekeeping -----------------------------------------------------------
    async def delete_thread_checkpoints(self, thread_id: str) -> None:
        _ = self.db  # Unavailable when closed
        await self.checkpointer.adelete_thread(thread_id)

    async def delete_run_checkpoints(self, thread_id: str, run_id: str) -> None:
        async with self.db.transaction() as cur:
            await cur.execute(q.DELETE_RUN_CHECKPOINTS, {"thread_id": thread_id, "run_id": run_id})
            freed = await cur.fetchall()
            if freed:
                await cur.execute(
                    q.DELETE_UNUSED_BLOBS,
                    {
                        "thread_id": thread_id,
                        "ns": [r["checkpoint_ns"] for r in freed],
                        "channels": [r["channel"] for r in freed],
                        "versions": [r["version"] for r in freed],
                    },
                )

    async def copy_thread_checkpoints(self, source_thread_id: str, target_thread_id: str) -> None:
        params = {"source": source_thread_id, "target": target_thread_id}
        async with self.db.transaction() as cur:
            await cur.execute(q.COPY_CHECKPOINTS, params)
            await cur.execute(q.COPY_BLOBS, params)
            await cur.execute(q.COPY_WRITES, params)

    async def prune_thread_checkpoints(self, thread_id: str) -> None:
        _ = self.db
        await cast(AsyncPostgresSaver, self.checkpointer).aprune(
            [thread_id], strategy="keep_latest"
        )
