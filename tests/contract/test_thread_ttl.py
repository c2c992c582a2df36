"""Thread TTL in storage: expired threads are gone for readers at once, and a sweep takes each
one exactly once — deleting it with its runs and checkpoints, or moving a `keep_latest` one on.
The clock is the `now` argument and the expiry a thread is created with: nothing sleeps."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from tests.contract.conftest import make_run
from tests.contract.test_persistence import _config, _graph, _history
from threadloom.storage.base import Storage
from threadloom.storage.records import ThreadTTL


def _ttl(strategy: str = "delete", expires_at: datetime | None = None) -> ThreadTTL:
    """A 5-minute TTL that ran out a minute ago (or at `expires_at`)."""
    at = expires_at or datetime.now(UTC) - timedelta(minutes=1)
    return ThreadTTL(strategy, 5.0, expires_at=at)  # type: ignore[arg-type]


async def test_an_expired_thread_is_gone_for_readers_before_any_sweep(storage: Storage) -> None:
    now = datetime.now(UTC)
    await storage.threads.create(thread_id="gone", metadata={"k": 1}, ttl=_ttl())
    await storage.threads.create(thread_id="kept", metadata={"k": 1}, ttl=_ttl("keep_latest"))
    future = now + timedelta(minutes=5)
    await storage.threads.create(thread_id="live", metadata={"k": 1}, ttl=_ttl(expires_at=future))
    await storage.threads.create(thread_id="plain", metadata={"k": 1})
    assert await storage.threads.get("gone") is None
    assert await storage.threads.get("kept") is not None  # keep_latest keeps the thread
    assert await storage.threads.get("live") is not None
    found = await storage.threads.search(metadata={"k": 1}, limit=10)
    assert sorted(t.thread_id for t in found.items) == ["kept", "live", "plain"]
    assert found.total == 3
    assert await storage.threads.count(metadata={"k": 1}) == 3


async def test_a_sweep_deletes_a_thread_with_its_runs_and_checkpoints(storage: Storage) -> None:
    now = datetime.now(UTC)
    graph = _graph(storage)
    await graph.ainvoke({"items": ["a"]}, _config("old", "r0"))
    await storage.threads.create(thread_id="old", metadata={}, ttl=_ttl())
    run = (await storage.runs.create_run(make_run("old"))).run
    await storage.runs.claim(worker_id="w", limit=1, lease_seconds=30)
    await storage.runs.finish(
        run.run_id, status="success", stop_reason=None, error=None, thread=None
    )
    await graph.ainvoke({"items": ["b"]}, _config("other", "r1"))  # another thread's stay
    # the run refreshed the TTL: it is due again five minutes from its activity
    assert await storage.threads.sweep_expired(now, 10) == []
    (swept,) = await storage.threads.sweep_expired(now + timedelta(minutes=6), 10)
    assert (swept.thread_id, swept.strategy, swept.run_ids) == ("old", "delete", [run.run_id])
    assert await storage.runs.get(run.run_id) is None
    assert await _history(storage, "old") == []
    assert await _history(storage, "other")
    assert await storage.threads.sweep_expired(now + timedelta(minutes=6), 10) == []


async def test_keep_latest_moves_the_expiry_on_and_keeps_the_thread(storage: Storage) -> None:
    now = datetime.now(UTC)
    await storage.threads.create(thread_id="k", metadata={}, ttl=_ttl("keep_latest"))
    (swept,) = await storage.threads.sweep_expired(now, 10)
    assert (swept.thread_id, swept.strategy, swept.run_ids) == ("k", "keep_latest", [])
    thread = await storage.threads.get("k")
    assert thread is not None and thread.ttl is not None and thread.ttl.expires_at is not None
    assert thread.ttl.expires_at >= now + timedelta(minutes=4)
    assert await storage.threads.sweep_expired(now, 10) == []  # not again until it expires


async def test_a_busy_thread_waits_until_it_is_idle(storage: Storage) -> None:
    now = datetime.now(UTC)
    await storage.threads.create(thread_id="busy", metadata={}, ttl=_ttl())
    run = (await storage.runs.create_run(make_run("busy"))).run
    later = now + timedelta(minutes=10)
    assert await storage.threads.sweep_expired(later, 10) == []  # a pending run holds it
    await storage.runs.claim(worker_id="w", limit=1, lease_seconds=30)
    assert await storage.threads.sweep_expired(later, 10) == []  # and a running one
    await storage.runs.finish(
        run.run_id, status="success", stop_reason=None, error=None, thread=None
    )
    (swept,) = await storage.threads.sweep_expired(later, 10)
    assert swept.thread_id == "busy"


async def test_sweeps_are_bounded_and_oldest_first(storage: Storage) -> None:
    now = datetime.now(UTC)
    for i in range(5):
        at = now - timedelta(minutes=6 - i)
        await storage.threads.create(thread_id=f"t{i}", metadata={}, ttl=_ttl(expires_at=at))
    first = await storage.threads.sweep_expired(now, 2)
    assert [s.thread_id for s in first] == ["t0", "t1"]
    rest = await storage.threads.sweep_expired(now, 10)
    assert [s.thread_id for s in rest] == ["t2", "t3", "t4"]


async def test_concurrent_sweepers_take_each_thread_once(
    storage: Storage, reopen: Callable[[], Awaitable[Storage]]
) -> None:
    now = datetime.now(UTC)
    for i in range(40):
        await storage.threads.create(thread_id=f"t{i:02}", metadata={}, ttl=_ttl())
    other = await reopen()
    await other.open()
    try:
        batches = await asyncio.gather(
            *(s.threads.sweep_expired(now, 7) for s in (storage, other) for _ in range(4))
        )
    finally:
        await other.close()
    taken = [s.thread_id for batch in batches for s in batch]
    assert len(taken) == len(set(taken)) == 40
