"""Fixtures of the storage contract suite: `storage` (opened) for every backend in backends.py."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.contract.backends import BACKENDS, BackendFactory
from threadloom.storage.base import Storage
from threadloom.storage.records import Run


@pytest.fixture(params=sorted(BACKENDS))
def backend(request: pytest.FixtureRequest) -> BackendFactory:
    return BACKENDS[request.param]


@pytest.fixture
async def storage(backend: BackendFactory, tmp_path: Path) -> AsyncIterator[Storage]:
    store = await backend(tmp_path)
    await store.open()
    try:
        yield store
    finally:
        await store.close()


@pytest.fixture
def reopen(backend: BackendFactory, tmp_path: Path) -> Callable[[], Awaitable[Storage]]:
    """Another (unopened) instance over the same data as `storage`."""

    async def make() -> Storage:
        return await backend(tmp_path)

    return make


def new_id() -> str:
    return str(uuid.uuid4())


def make_run(
    thread_id: str,
    *,
    strategy: str = "enqueue",
    delay: float = 0.0,
    created_at: datetime | None = None,
    **fields: Any,
) -> Run:
    """A pending run as a service would build it; `delay` is after_seconds."""
    now = datetime.now(UTC)
    return Run(
        run_id=fields.pop("run_id", new_id()),
        thread_id=thread_id,
        assistant_id=fields.pop("assistant_id", "agent"),
        status="pending",
        multitask_strategy=strategy,
        metadata=fields.pop("metadata", {}),
        kwargs=fields.pop("kwargs", {"input": {"messages": []}}),
        created_at=created_at or now + timedelta(seconds=delay),
        updated_at=now,
        **fields,
    )
