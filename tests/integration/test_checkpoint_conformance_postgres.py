"""The cluster shape's checkpointer (`PooledPostgresSaver`, on the storage's pool) passes
LangGraph's checkpointer conformance suite. SQLite's: tests/unit/test_checkpoint_conformance.py."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from tests.support.conformance import CAPABILITIES, check_capability
from tests.support.pg import drop_schema, random_name, require_postgres
from threadloom.storage.base import Storage
from threadloom.storage.postgres import PostgresStorage
from threadloom.storage.postgres.saver import PooledPostgresSaver

# AsyncPostgresSaver has no copy_thread or delete_for_runs (prune it has: thread TTLs use it)
NOT_IMPLEMENTED = {"copy_thread", "delete_for_runs"}


@pytest.mark.parametrize("capability", CAPABILITIES)
async def test_postgres_saver_conformance(capability: str) -> None:
    url = require_postgres()

    async def open_storage() -> tuple[Storage, Callable[[], Awaitable[None]]]:
        schema = random_name("tlconform")
        storage = PostgresStorage(url, schema=schema, pool_max=4)
        await storage.open()
        assert isinstance(storage.checkpointer, PooledPostgresSaver)

        async def cleanup() -> None:
            await drop_schema(url, schema)

        return storage, cleanup

    implemented = await check_capability("PooledPostgresSaver", open_storage, capability)
    assert implemented is (capability not in NOT_IMPLEMENTED)
