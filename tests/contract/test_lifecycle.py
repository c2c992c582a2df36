"""finish and request_cancel: atomic run + thread transitions, idempotence, thread status."""

from __future__ import annotations

import asyncio

import pytest

from tests.contract.conftest import make_run
from threadloom.errors import InvalidInput
from threadloom.storage.base import Storage
from threadloom.storage.records import ThreadSnapshot


async def _running(storage: Storage, thread_id: str) -> str:
    run = (await storage.runs.create_run(make_run(thread_id), if_not_exists="create")).run
    claimed = await storage.runs.claim(worker_id="w", limit=1, lease_seconds=30)
    assert [r.run_id for r in claimed] == [run.run_id]
    return run.run_id


async def test_finish_is_atomic_and_idempotent(storage: Storage) -> None:
    run_id = await _running(storage, "t1")
    snap = ThreadSnapshot("idle", {"messages": ["hi"]}, {})
    done = await storage.runs.finish(
        run_id, status="success", stop_reason="end_turn", error=None, thread=snap
    )
    assert done is not None and done.status == "success" and done.stop_reason == "end_turn"
    assert done.ended_at is not None
    stored = await storage.runs.get(run_id)
    assert stored is not None
    assert (stored.status, stored.stop_reason, stored.ended_at) == (
        "success",
        "end_turn",
        done.ended_at,
    )
    assert stored.lease_expires_at is None
    thread = await storage.threads.get("t1")
    assert thread is not None and thread.status == "idle"
    assert thread.values == {"messages": ["hi"]}
    again = await storage.runs.finish(
        run_id, status="error", stop_reason="error", error={"type": "X"}, thread=None
    )
    assert again is None
    stored = await storage.runs.get(run_id)
    assert stored is not None and stored.status == "success" and stored.error is None


async def test_finish_concurrently_only_once(storage: Storage) -> None:
    run_id = await _running(storage, "t1")
    results = await asyncio.gather(
        *(
            storage.runs.finish(run_id, status="success", stop_reason=None, error=None, thread=None)
            for _ in range(5)
        )
    )
    assert sum(r is not None for r in results) == 1


async def test_finish_error_and_busy_rule(storage: Storage) -> None:
    first = await _running(storage, "t1")
    second = (await storage.runs.create_run(make_run("t1"))).run
    err = {"type": "ValueError", "message": "boom"}
    await storage.runs.finish(
        first,
        status="error",
        stop_reason="error",
        error=err,
        thread=ThreadSnapshot("error", {"v": 1}, {}, error=err),
    )
    stored = await storage.runs.get(first)
    assert stored is not None and stored.error == err
    thread = await storage.threads.get("t1")
    assert thread is not None and thread.status == "busy" and thread.error == err
    await storage.runs.claim(worker_id="w", limit=1, lease_seconds=30)
    await storage.runs.finish(
        second.run_id,
        status="success",
        stop_reason="end_turn",
        error=None,
        thread=ThreadSnapshot("idle", {"v": 2}, {}),
    )
    thread = await storage.threads.get("t1")
    assert thread is not None and thread.status == "idle" and thread.error is None


async def test_finish_without_snapshot_restores_previous_status(storage: Storage) -> None:
    await storage.threads.create(thread_id="t1", metadata={})
    await storage.threads.set_snapshot("t1", ThreadSnapshot("interrupted", {"v": 1}, {"x": []}))
    run_id = await _running(storage, "t1")
    await storage.runs.finish(
        run_id, status="interrupted", stop_reason="cancelled", error=None, thread=None
    )
    thread = await storage.threads.get("t1")
    assert thread is not None and thread.status == "interrupted" and thread.values == {"v": 1}


async def test_finish_delete_run_and_thread(storage: Storage) -> None:
    run_id = await _running(storage, "t1")
    done = await storage.runs.finish(
        run_id,
        status="interrupted",
        stop_reason="cancelled",
        error=None,
        thread=None,
        delete_run=True,
    )
    assert done is not None and await storage.runs.get(run_id) is None
    thread = await storage.threads.get("t1")
    assert thread is not None and thread.status == "idle"
    run_id = await _running(storage, "tmp")
    done = await storage.runs.finish(
        run_id,
        status="success",
        stop_reason="end_turn",
        error=None,
        thread=ThreadSnapshot("idle", {}, {}),
        delete_thread=True,
    )
    assert done is not None and done.status == "success"
    assert await storage.threads.get("tmp") is None and await storage.runs.get(run_id) is None


async def test_finish_rejects_non_terminal_status(storage: Storage) -> None:
    run_id = await _running(storage, "t1")
    with pytest.raises(InvalidInput):
        await storage.runs.finish(
            run_id, status="pending", stop_reason=None, error=None, thread=None
        )


async def test_finish_missing_run(storage: Storage) -> None:
    assert (
        await storage.runs.finish(
            "nope", status="success", stop_reason=None, error=None, thread=None
        )
        is None
    )


async def test_cancel_pending_interrupt(storage: Storage) -> None:
    await storage.threads.create(thread_id="t1", metadata={})
    await storage.threads.set_snapshot("t1", ThreadSnapshot("interrupted", None, {"x": []}))
    run = (await storage.runs.create_run(make_run("t1"))).run
    assert (await storage.threads.get("t1")).status == "busy"
    (cancelled,) = await storage.runs.request_cancel(run_ids=[run.run_id], thread_id="t1")
    assert cancelled.status == "interrupted" and cancelled.stop_reason == "cancelled"
    assert cancelled.ended_at is not None
    thread = await storage.threads.get("t1")
    assert thread is not None and thread.status == "interrupted"  # back to its snapshot's
    assert await storage.runs.claim(worker_id="w", limit=1, lease_seconds=30) == []
    # not inflight any more: nothing to cancel
    assert await storage.runs.request_cancel(run_ids=[run.run_id]) == []


async def test_cancel_pending_rollback_deletes(storage: Storage) -> None:
    run = (await storage.runs.create_run(make_run("t1"), if_not_exists="create")).run
    (gone,) = await storage.runs.request_cancel(action="rollback", run_ids=[run.run_id])
    assert gone.run_id == run.run_id
    assert await storage.runs.get(run.run_id) is None
    assert (await storage.threads.get("t1")).status == "idle"


async def test_cancel_running_flags_worker(storage: Storage) -> None:
    run_id = await _running(storage, "t1")
    (flagged,) = await storage.runs.request_cancel(run_ids=[run_id], action="rollback")
    assert flagged.status == "running" and flagged.cancel_requested == {"action": "rollback"}
    assert (await storage.threads.get("t1")).status == "busy"
    stored = await storage.runs.get(run_id)
    assert stored is not None and stored.cancel_requested == {"action": "rollback"}


async def test_cancel_by_status_and_thread(storage: Storage) -> None:
    running = await _running(storage, "t1")
    p1 = (await storage.runs.create_run(make_run("t1"))).run
    p2 = (await storage.runs.create_run(make_run("t2"), if_not_exists="create")).run
    got = await storage.runs.request_cancel(status="pending", thread_id="t2")
    assert [r.run_id for r in got] == [p2.run_id]
    got = await storage.runs.request_cancel(status="running")
    assert [r.run_id for r in got] == [running]
    got = await storage.runs.request_cancel(thread_id="t1")
    assert {r.run_id for r in got} == {running, p1.run_id}
    got = await storage.runs.request_cancel(status="all")  # only the running one is left
    assert [r.run_id for r in got] == [running]
    assert await storage.runs.request_cancel() == []


async def test_cancel_filters(storage: Storage) -> None:
    await storage.threads.create(thread_id="t1", metadata={"owner": "bob"})
    run = (await storage.runs.create_run(make_run("t1"))).run
    assert await storage.runs.request_cancel(run_ids=[run.run_id], filters={"owner": "x"}) == []
    got = await storage.runs.request_cancel(run_ids=[run.run_id], filters={"owner": "bob"})
    assert [r.run_id for r in got] == [run.run_id]
