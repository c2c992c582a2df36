"""The embedded shape's checkpointer (`InlineSqliteSaver`, as `threadloom dev` attaches it)
passes LangGraph's checkpointer conformance suite. PostgreSQL's:
tests/integration/test_checkpoint_conformance_postgres.py."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from tests.support.conformance import CAPABILITIES, check_capability
from threadloom.settings import Settings
from threadloom.storage import create_storage
from threadloom.storage.base import Storage
from threadloom.storage.sqlite.inline import InlineSqliteSaver

# LangGraph's SqliteSaver has none of these, and Threadloom adds none
NOT_IMPLEMENTED = {"copy_thread", "delete_for_runs", "prune"}


@pytest.mark.parametrize("capability", CAPABILITIES)
async def test_sqlite_saver_conformance(tmp_path: Path, capability: str) -> None:
    opened = 0

    async def open_storage() -> tuple[Storage, Callable[[], Awaitable[None]]]:
        nonlocal opened
        opened += 1
        storage = create_storage(Settings(sqlite_path=tmp_path / f"conformance-{opened}.db"))
        await storage.open()
        assert isinstance(storage.checkpointer, InlineSqliteSaver)

        async def cleanup() -> None:
            pass

        return storage, cleanup

    implemented = await check_capability("InlineSqliteSaver", open_storage, capability)
    assert implemented is (capability not in NOT_IMPLEMENTED)
