"""Threads: create/get/update/delete, search, snapshot and status, TTL, filters."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.contract.conftest import make_run, new_id
from threadloom.errors import Conflict, Unprocessable
from threadloom.storage import records
from threadloom.storage.base import Storage
from threadloom.storage.records import ThreadSnapshot, ThreadTTL


async def test_create_get(storage: Storage) -> None:
    t = await storage.threads.create(thread_id="t1", metadata={"a": 1})
    assert t.status == "idle" and t.metadata == {"a": 1} and t.values is None
    assert t.interrupts == {} and t.created_at.tzinfo is not None and t.ttl is None
    assert await storage.threads.get("t1") == t
    assert await storage.threads.get("nope") is None


async def test_create_if_exists(storage: Storage) -> None:
    first = await storage.threads.create(thread_id="t1", metadata={"owner": "a"})
    with pytest.raises(Conflict):
        await storage.threads.create(thread_id="t1", metadata={})
    same = await storage.threads.create(thread_id="t1", metadata={"x": 1}, if_exists="do_nothing")
    assert same == first
    with pytest.raises(Conflict):
        await storage.threads.create(
            thread_id="t1", metadata={}, if_exists="do_nothing", filters={"owner": "b"}
        )


async def test_update_merges_metadata_and_ttl(storage: Storage) -> None:
    await storage.threads.create(thread_id="t1", metadata={"a": 1, "b": 1})
    t = await storage.threads.update("t1", metadata={"b": 2, "c": 3})
    assert t is not None and t.metadata == {"a": 1, "b": 2, "c": 3}
    t = await storage.threads.update("t1", ttl=ThreadTTL(strategy="delete", ttl_minutes=5))
    assert t is not None and t.ttl is not None
    assert t.ttl.strategy == "delete" and t.ttl.ttl_minutes == 5
    assert t.ttl.expires_at is not None
    assert t.ttl.expires_at - datetime.now(UTC) > timedelta(minutes=4)
    assert await storage.threads.update("missing", metadata={}) is None


async def test_delete_cascades_runs(storage: Storage) -> None:
    await storage.threads.create(thread_id="t1", metadata={})
    r = (await storage.runs.create_run(make_run("t1"))).run
    assert await storage.threads.delete("t1") is True
    assert await storage.threads.get("t1") is None
    assert await storage.runs.get(r.run_id) is None
    assert await storage.runs.claim(worker_id="w", limit=5, lease_seconds=30) == []
    assert await storage.threads.delete("t1") is False


async def test_search(storage: Storage) -> None:
    await storage.threads.create(thread_id="t1", metadata={"user": "a", "tags": ["x", "y"]})
    await storage.threads.create(thread_id="t2", metadata={"user": "b"})
    await storage.threads.create(thread_id="t3", metadata={"user": "a", "n": 1.0})
    await storage.threads.set_snapshot(
        "t2",
        ThreadSnapshot(status="interrupted", values={"messages": [{"id": "m1"}]}, interrupts={}),
    )
    page = await storage.threads.search(metadata={"user": "a"})
    assert [t.thread_id for t in page.items] == ["t3", "t1"] and page.total == 2
    assert (await storage.threads.search(metadata={"tags": ["y"]})).total == 1
    assert (await storage.threads.search(metadata={"n": 1})).total == 1
    page = await storage.threads.search(values={"messages": [{"id": "m1"}]})
    assert [t.thread_id for t in page.items] == ["t2"]
    assert (await storage.threads.search(values={"messages": [{"id": "zz"}]})).total == 0
    page = await storage.threads.search(status="interrupted")
    assert [t.thread_id for t in page.items] == ["t2"]
    page = await storage.threads.search(ids=["t1", "t3", "nope"], sort_order="asc")
    assert [t.thread_id for t in page.items] == ["t1", "t3"]
    page = await storage.threads.search(limit=1, offset=1)
    assert [t.thread_id for t in page.items] == ["t2"] and page.total == 3
    for key in ("thread_id", "status", "created_at", "updated_at", "state_updated_at"):
        asc = await storage.threads.search(sort_by=key, sort_order="asc")
        desc = await storage.threads.search(sort_by=key, sort_order="desc")
        assert [t.thread_id for t in asc.items] == [t.thread_id for t in desc.items][::-1]
    by_state = await storage.threads.search(sort_by="state_updated_at", sort_order="desc")
    assert by_state.items[0].thread_id == "t2"
    with pytest.raises(Unprocessable):
        await storage.threads.search(sort_by="values")
    assert await storage.threads.count() == 3
    assert await storage.threads.count(metadata={"user": "a"}) == 2
    assert await storage.threads.count(status="interrupted", values={"messages": []}) == 1


async def test_snapshot_and_busy(storage: Storage) -> None:
    t0 = await storage.threads.create(thread_id="t1", metadata={})
    snap = ThreadSnapshot(
        status="interrupted", values={"v": 1}, interrupts={"task": [{"id": "i", "value": "?"}]}
    )
    t = await storage.threads.set_snapshot("t1", snap)
    assert t is not None and t.status == "interrupted" and t.values == {"v": 1}
    assert t.interrupts == snap.interrupts and t.state_updated_at > t0.state_updated_at
    await storage.runs.create_run(make_run("t1"))
    t = await storage.threads.set_snapshot("t1", ThreadSnapshot("idle", {"v": 2}, {}))
    assert t is not None and t.status == "busy" and t.values == {"v": 2}
    err = ThreadSnapshot("error", None, {}, error={"type": "ValueError", "message": "x"})
    assert await storage.threads.set_snapshot("missing", err) is None


async def test_expired(storage: Storage) -> None:
    """Which threads a sweep takes when (more in test_thread_ttl.py)."""
    past = datetime.now(UTC) - timedelta(minutes=1)
    await storage.threads.create(
        thread_id="old",
        metadata={},
        ttl=ThreadTTL(strategy="delete", ttl_minutes=1, expires_at=past),
    )
    await storage.threads.create(
        thread_id="new", metadata={}, ttl=ThreadTTL(strategy="keep_latest", ttl_minutes=60)
    )
    await storage.threads.create(thread_id="none", metadata={})
    swept = await storage.threads.sweep_expired(datetime.now(UTC), 10)
    assert [(t.thread_id, t.strategy) for t in swept] == [("old", "delete")]
    later = datetime.now(UTC) + timedelta(hours=2)
    assert [t.thread_id for t in await storage.threads.sweep_expired(later, 1)] == ["new"]
    assert await storage.threads.sweep_expired(later, 10) == []
    assert await storage.threads.get("none") is not None


async def test_auth_filters(storage: Storage) -> None:
    await storage.threads.create(thread_id="mine", metadata={"owner": "alice", "org": "o"})
    await storage.threads.create(thread_id="theirs", metadata={"owner": "bob", "org": "o"})
    f = {"owner": "alice"}
    assert await storage.threads.get("theirs", filters=f) is None
    assert await storage.threads.update("theirs", metadata={"x": 1}, filters=f) is None
    assert await storage.threads.delete("theirs", filters=f) is False
    assert await storage.threads.get("theirs") is not None
    page = await storage.threads.search(filters={"$or": [f, {"owner": "carol"}]})
    assert [t.thread_id for t in page.items] == ["mine"] and page.total == 1
    assert await storage.threads.count(filters={"$and": [{"org": "o"}, f]}) == 1
    assert await storage.threads.delete("mine", filters=f) is True


async def test_ids_are_opaque_strings(storage: Storage) -> None:
    tid = new_id()
    await storage.threads.create(thread_id=tid, metadata={"quote": 'a"b', "emoji": "é✓"})
    page = await storage.threads.search(metadata={"quote": 'a"b', "emoji": "é✓"})
    assert [t.thread_id for t in page.items] == [tid]


async def test_search_total_is_capped(storage: Storage, monkeypatch: pytest.MonkeyPatch) -> None:
    """X-Pagination-Total is exact up to offset + limit + SEARCH_COUNT_SLACK matches and that
    cap beyond it (a lower bound: enough to page on); `count()` stays exact."""
    monkeypatch.setattr(records, "SEARCH_COUNT_SLACK", 3)
    for i in range(12):
        await storage.threads.create(thread_id=f"t{i:02d}", metadata={"g": "x"})
    await storage.threads.create(thread_id="other", metadata={"g": "y"})
    page = await storage.threads.search(metadata={"g": "x"}, limit=2)
    assert [t.thread_id for t in page.items] == ["t11", "t10"]
    assert page.total == 5  # capped: 2 + 3
    page = await storage.threads.search(metadata={"g": "x"}, limit=2, offset=6)
    assert [t.thread_id for t in page.items] == ["t05", "t04"]
    assert page.total == 11  # still > offset + limit: more exist
    page = await storage.threads.search(
        metadata={"g": "x"}, limit=2, sort_by="thread_id", sort_order="asc"
    )
    assert [t.thread_id for t in page.items] == ["t00", "t01"] and page.total == 5
    page = await storage.threads.search(metadata={"g": "x"}, limit=4, offset=8)
    assert len(page.items) == 4 and page.total == 12  # under the cap: exact
    page = await storage.threads.search(metadata={"g": "x"}, limit=5, offset=20)
    assert page.items == [] and page.total == 12
    assert await storage.threads.count(metadata={"g": "x"}) == 12
