"""The queue: claim order and exclusivity, delays, leases, requeue, reaping."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from tests.contract.conftest import make_run
from threadloom.storage.base import Storage


async def test_claim_fifo_one_per_thread(storage: Storage) -> None:
    base = datetime.now(UTC) - timedelta(seconds=10)
    a1 = make_run("ta", created_at=base)
    b1 = make_run("tb", created_at=base + timedelta(seconds=1))
    a2 = make_run("ta", created_at=base + timedelta(seconds=2))
    c1 = make_run("tc", created_at=base + timedelta(seconds=3))
    for r in (c1, a2, b1, a1):  # insertion order differs from created_at order
        await storage.runs.create_run(r, if_not_exists="create")
    claimed = await storage.runs.claim(worker_id="w1", limit=10, lease_seconds=30)
    assert [r.run_id for r in claimed] == [a1.run_id, b1.run_id, c1.run_id]
    for r in claimed:
        assert r.status == "running" and r.attempt == 1 and r.worker_id == "w1"
        assert r.started_at is not None and r.lease_expires_at is not None
        assert r.lease_expires_at - datetime.now(UTC) > timedelta(seconds=20)
    # ta has a running run: a2 waits
    assert await storage.runs.claim(worker_id="w1", limit=10, lease_seconds=30) == []
    await storage.runs.finish(
        a1.run_id, status="success", stop_reason=None, error=None, thread=None
    )
    claimed = await storage.runs.claim(worker_id="w2", limit=10, lease_seconds=30)
    assert [r.run_id for r in claimed] == [a2.run_id]


async def test_claim_limit_and_ties(storage: Storage) -> None:
    same = datetime.now(UTC) - timedelta(seconds=1)
    runs = [make_run(f"t{i}", created_at=same) for i in range(5)]
    for r in runs:
        await storage.runs.create_run(r, if_not_exists="create")
    first = await storage.runs.claim(worker_id="w", limit=2, lease_seconds=30)
    rest = await storage.runs.claim(worker_id="w", limit=10, lease_seconds=30)
    assert [r.run_id for r in first + rest] == [r.run_id for r in runs]  # ties: insertion order
    assert await storage.runs.claim(worker_id="w", limit=0, lease_seconds=30) == []


async def test_delayed_runs_wait(storage: Storage) -> None:
    now_run = make_run("t1")
    later = make_run("t2", delay=3600)
    await storage.runs.create_run(later, if_not_exists="create")
    assert await storage.runs.next_due_at() == later.created_at
    assert await storage.runs.claim(worker_id="w", limit=5, lease_seconds=30) == []
    await storage.runs.create_run(now_run, if_not_exists="create")
    assert await storage.runs.next_due_at() == now_run.created_at
    claimed = await storage.runs.claim(worker_id="w", limit=5, lease_seconds=30)
    assert [r.run_id for r in claimed] == [now_run.run_id]
    assert await storage.runs.next_due_at() == later.created_at


async def test_next_due_empty(storage: Storage) -> None:
    assert await storage.runs.next_due_at() is None


async def test_claim_batch_tells_when_to_look_again(storage: Storage) -> None:
    """A short claim says when the next pending run falls due; a full one need not."""
    empty = await storage.runs.claim_batch(worker_id="w", limit=3, lease_seconds=30)
    assert empty.runs == [] and empty.next_due_at is None
    later = make_run("t-later", delay=3600)
    now_a, now_b = make_run("t-a"), make_run("t-b")
    for run in (later, now_a, now_b):
        await storage.runs.create_run(run, if_not_exists="create")
    full = await storage.runs.claim_batch(worker_id="w", limit=1, lease_seconds=30)
    assert [r.run_id for r in full.runs] == [now_a.run_id]
    assert full.runs[0].status == "running" and full.runs[0].attempt == 1
    short = await storage.runs.claim_batch(worker_id="w", limit=5, lease_seconds=30)
    assert [r.run_id for r in short.runs] == [now_b.run_id]
    assert short.next_due_at == later.created_at


async def test_concurrent_claims_never_share(storage: Storage) -> None:
    for i in range(40):
        await storage.runs.create_run(make_run(f"t{i % 10}"), if_not_exists="create")
    batches = await asyncio.gather(
        *(storage.runs.claim(worker_id=f"w{i}", limit=3, lease_seconds=30) for i in range(8))
    )
    claimed = [r for batch in batches for r in batch]
    assert len(claimed) == 10  # one per thread
    assert len({r.run_id for r in claimed}) == 10
    assert len({r.thread_id for r in claimed}) == 10


async def test_heartbeat(storage: Storage) -> None:
    await storage.runs.create_run(make_run("t1"), if_not_exists="create")
    await storage.runs.create_run(make_run("t2"), if_not_exists="create")
    (r1,) = await storage.runs.claim(worker_id="w1", limit=1, lease_seconds=1)
    (r2,) = await storage.runs.claim(worker_id="w2", limit=1, lease_seconds=1)
    held = await storage.runs.heartbeat(
        worker_id="w1", run_ids=[r1.run_id, r2.run_id, "nope"], lease_seconds=600
    )
    assert held == [r1.run_id]
    got = await storage.runs.get(r1.run_id)
    assert got is not None and got.lease_expires_at is not None
    assert got.lease_expires_at - datetime.now(UTC) > timedelta(seconds=500)
    assert await storage.runs.heartbeat(worker_id="w1", run_ids=[], lease_seconds=1) == []


async def test_requeue(storage: Storage) -> None:
    await storage.runs.create_run(make_run("t1"), if_not_exists="create")
    (r,) = await storage.runs.claim(worker_id="w1", limit=1, lease_seconds=30)
    assert await storage.runs.requeue([r.run_id], worker_id="other") == 0
    assert await storage.runs.requeue([r.run_id], worker_id="w1") == 1
    got = await storage.runs.get(r.run_id)
    assert got is not None and got.status == "pending" and got.worker_id is None
    assert (await storage.threads.get("t1")).status == "busy"
    (again,) = await storage.runs.claim(worker_id="w2", limit=1, lease_seconds=30)
    assert again.run_id == r.run_id and again.attempt == 2 and again.started_at == r.started_at
    assert await storage.runs.requeue([r.run_id]) == 1
    assert await storage.runs.requeue([]) == 0


async def test_reap_expired(storage: Storage) -> None:
    await storage.runs.create_run(make_run("t1"), if_not_exists="create")
    await storage.runs.create_run(make_run("t2"), if_not_exists="create")
    (short,) = await storage.runs.claim(worker_id="dead", limit=1, lease_seconds=30)
    (long,) = await storage.runs.claim(worker_id="alive", limit=1, lease_seconds=600)
    now = datetime.now(UTC)
    assert await storage.runs.reap_expired(now) == []  # no lease has run out yet
    # a minute later: the 30 s lease has run out (its worker stopped heartbeating), 600 s not
    reaped = await storage.runs.reap_expired(now + timedelta(seconds=60))
    assert [r.run_id for r in reaped] == [short.run_id]
    assert reaped[0].status == "pending" and reaped[0].worker_id is None
    assert (await storage.runs.get(long.run_id)).status == "running"
    (again,) = await storage.runs.claim(worker_id="alive", limit=1, lease_seconds=30)
    assert again.run_id == short.run_id and again.attempt == 2
    # startup recovery: everything running is orphaned
    far = datetime.now(UTC) + timedelta(days=365)
    assert {r.run_id for r in await storage.runs.reap_expired(far)} == {
        short.run_id,
        long.run_id,
    }


async def test_queue_stats(storage: Storage) -> None:
    """The `/metrics` queue gauges: counts, and waits of due pending runs only (a delayed run
    is not waiting yet; a run behind a running one on its thread is blocked)."""
    now = datetime.now(UTC)
    empty = await storage.runs.queue_stats(now)
    assert (empty.n_pending, empty.n_running) == (0, 0)
    assert empty.wait_max is None and empty.wait_median is None
    assert empty.unblocked_wait_max is None
    base = now - timedelta(seconds=100)
    running = make_run("ta", created_at=base - timedelta(seconds=50))
    await storage.runs.create_run(running, if_not_exists="create")
    assert [r.run_id for r in await storage.runs.claim(worker_id="w", limit=1, lease_seconds=30)]
    blocked = make_run("ta", created_at=base)  # waits 100 s, behind the running run
    b = make_run("tb", created_at=base + timedelta(seconds=40))  # waits 60 s
    c = make_run("tc", created_at=base + timedelta(seconds=90))  # waits 10 s
    delayed = make_run("td", created_at=now + timedelta(seconds=3600))
    for run in (blocked, b, c, delayed):
        await storage.runs.create_run(run, if_not_exists="create")
    stats = await storage.runs.queue_stats(now)
    assert (stats.n_pending, stats.n_running) == (4, 1)
    assert stats.wait_max is not None and abs(stats.wait_max - 100) < 0.01
    assert stats.wait_median is not None and abs(stats.wait_median - 60) < 0.01
    assert stats.unblocked_wait_max is not None and abs(stats.unblocked_wait_max - 60) < 0.01
    assert stats.as_json()["n_pending"] == 4
