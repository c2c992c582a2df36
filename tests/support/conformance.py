"""LangGraph's checkpointer conformance suite (`langgraph-checkpoint-conformance`) run against
the checkpointer a Threadloom storage attaches to graphs, one capability per pytest case.

A storage is opened per capability (as the suite asks: a fresh saver each) and closed after.
Capabilities the saver does not implement are reported by the suite as not detected; the tests
pin which those are, so a saver gaining or losing one is noticed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.conformance import checkpointer_test, validate
from langgraph.checkpoint.conformance.capabilities import Capability

from threadloom.storage.base import Storage

CAPABILITIES = [c.value for c in Capability]

OpenStorage = Callable[[], Awaitable[tuple[Storage, Callable[[], Awaitable[None]]]]]
"""Opens a fresh storage; returns it with what cleans up after it has been closed."""


async def check_capability(name: str, open_storage: OpenStorage, capability: str) -> bool:
    """Run one capability's conformance cases on `open_storage()`'s checkpointer.

    Fails the test naming every failed case; returns whether the saver implements the
    capability at all (the suite skips one it does not).
    """

    async def saver() -> AsyncIterator[BaseCheckpointSaver]:
        storage, cleanup = await open_storage()
        try:
            yield storage.checkpointer
        finally:
            await storage.close()
            await cleanup()

    registered = checkpointer_test(name=f"{name}:{capability}")(saver)
    report = await validate(registered, capabilities={capability})
    result = report.results[capability]
    if not result.detected:
        return False
    if result.failures or result.passed is not True:
        pytest.fail(
            f"{name} fails {result.tests_failed} of the {capability!r} conformance cases:\n"
            + "\n".join(result.failures)
        )
    assert result.tests_passed > 0
    return True
