"""Runs: create_run (thread creation, multitask strategies), reads, delete, progress, filters."""

from __future__ import annotations

from datetime import UTC

import pytest

from tests.contract.conftest import make_run
from threadloom.errors import Conflict, InvalidInput, NotFound, Unprocessable
from threadloom.storage.base import Storage
from threadloom.storage.records import ThreadSnapshot


async def test_create_run_needs_thread_unless_create(storage: Storage) -> None:
    with pytest.raises(NotFound, match="Thread t1 not found"):
        await storage.runs.create_run(make_run("t1"))
    assert await storage.threads.get("t1") is None
    result = await storage.runs.create_run(
        make_run("t1"), if_not_exists="create", thread_metadata={"graph_id": "agent"}
    )
    assert result.thread_created is True and result.cancelled == []
    assert result.run.status == "pending"
    thread = await storage.threads.get("t1")
    assert thread is not None and thread.status == "busy"
    assert thread.metadata == {"graph_id": "agent"}
    stored = await storage.runs.get(result.run.run_id)
    assert stored is not None and stored.status == "pending" and stored.attempt == 0
    assert stored.kwargs == result.run.kwargs and stored.created_at == result.run.created_at


async def test_create_on_existing_thread_keeps_the_multitask_rules(storage: Storage) -> None:
    """`if_not_exists="create"` on a thread that exists is the ordinary locked path: the
    strategy applies, the thread is not recreated, nothing is written twice."""
    await storage.threads.create(thread_id="t1", metadata={"mine": 1})
    first = await storage.runs.create_run(make_run("t1"), if_not_exists="create", durable=False)
    assert first.thread_created is False
    blocked = make_run("t1", strategy="reject")
    with pytest.raises(Conflict):
        await storage.runs.create_run(blocked, if_not_exists="create")
    assert await storage.runs.get(blocked.run_id) is None
    thread = await storage.threads.get("t1")
    assert thread is not None and thread.metadata == {"mine": 1} and thread.status == "busy"
    assert [r.run_id for r in await storage.runs.inflight("t1")] == [first.run.run_id]


async def test_run_created_without_waiting_for_disk_is_a_normal_run(storage: Storage) -> None:
    """`durable=False` (a /wait) changes when the commit reaches the disk, nothing else."""
    result = await storage.runs.create_run(
        make_run("t1"), if_not_exists="create", thread_metadata={"graph_id": "g"}, durable=False
    )
    assert result.thread_created is True
    (claimed,) = await storage.runs.claim(worker_id="w", limit=1, lease_seconds=30)
    assert claimed.run_id == result.run.run_id
    thread = await storage.threads.get("t1")
    assert thread is not None and thread.metadata == {"graph_id": "g"}


async def test_thread_metadata_only_fills_missing_keys(storage: Storage) -> None:
    await storage.threads.create(thread_id="t1", metadata={"graph_id": "mine", "x": 1})
    result = await storage.runs.create_run(
        make_run("t1"), thread_metadata={"graph_id": "agent", "assistant_id": "a"}
    )
    assert result.thread_created is False
    thread = await storage.threads.get("t1")
    assert thread is not None and thread.status == "busy"
    assert thread.metadata == {"graph_id": "mine", "x": 1, "assistant_id": "a"}


async def test_reject_names_blocking_run(storage: Storage) -> None:
    await storage.threads.create(thread_id="t1", metadata={})
    first = (await storage.runs.create_run(make_run("t1"))).run
    second = make_run("t1", strategy="reject")
    with pytest.raises(Conflict) as info:
        await storage.runs.create_run(second)
    assert first.run_id in info.value.detail and "t1" in info.value.detail
    assert await storage.runs.get(second.run_id) is None
    assert [r.run_id for r in await storage.runs.inflight("t1")] == [first.run_id]
    # no inflight run → reject inserts
    await storage.runs.finish(
        first.run_id, status="success", stop_reason=None, error=None, thread=None
    )
    assert (await storage.runs.create_run(second)).run.run_id == second.run_id


async def test_enqueue_keeps_both(storage: Storage) -> None:
    await storage.threads.create(thread_id="t1", metadata={})
    a = (await storage.runs.create_run(make_run("t1"))).run
    b = (await storage.runs.create_run(make_run("t1", strategy="enqueue"))).run
    assert [r.run_id for r in await storage.runs.inflight("t1")] == [a.run_id, b.run_id]


async def test_interrupt_strategy(storage: Storage) -> None:
    await storage.threads.create(thread_id="t1", metadata={})
    running = (await storage.runs.create_run(make_run("t1"))).run
    await storage.runs.claim(worker_id="w", limit=1, lease_seconds=30)
    pending = (await storage.runs.create_run(make_run("t1"))).run
    result = await storage.runs.create_run(make_run("t1", strategy="interrupt"))
    by_id = {r.run_id: r for r in result.cancelled}
    assert set(by_id) == {running.run_id, pending.run_id}
    assert by_id[pending.run_id].status == "interrupted"
    assert by_id[pending.run_id].stop_reason == "cancelled"
    assert by_id[pending.run_id].ended_at is not None
    assert by_id[running.run_id].status == "running"
    assert by_id[running.run_id].cancel_requested == {"action": "interrupt"}
    stored = await storage.runs.get(pending.run_id)
    assert stored is not None and stored.status == "interrupted"
    inflight = [r.run_id for r in await storage.runs.inflight("t1")]
    assert inflight == [running.run_id, result.run.run_id]


async def test_rollback_strategy(storage: Storage) -> None:
    await storage.threads.create(thread_id="t1", metadata={})
    running = (await storage.runs.create_run(make_run("t1"))).run
    await storage.runs.claim(worker_id="w", limit=1, lease_seconds=30)
    pending = (await storage.runs.create_run(make_run("t1"))).run
    result = await storage.runs.create_run(make_run("t1", strategy="rollback"))
    assert {r.run_id for r in result.cancelled} == {running.run_id, pending.run_id}
    assert await storage.runs.get(pending.run_id) is None
    stored = await storage.runs.get(running.run_id)
    assert stored is not None and stored.cancel_requested == {"action": "rollback"}


async def test_prevent_insert_if_inflight(storage: Storage) -> None:
    await storage.threads.create(thread_id="t1", metadata={})
    first = (await storage.runs.create_run(make_run("t1"))).run
    attempt = make_run("t1")
    result = await storage.runs.create_run(attempt, prevent_insert_if_inflight=True)
    assert result.run.run_id == first.run_id and result.cancelled == []
    assert await storage.runs.get(attempt.run_id) is None


async def test_create_run_filters(storage: Storage) -> None:
    await storage.threads.create(thread_id="t1", metadata={"owner": "bob"})
    with pytest.raises(NotFound):
        await storage.runs.create_run(make_run("t1"), filters={"owner": "alice"})
    run = (await storage.runs.create_run(make_run("t1"), filters={"owner": "bob"})).run
    assert await storage.runs.get(run.run_id, filters={"owner": "alice"}) is None
    assert await storage.runs.get(run.run_id, filters={"owner": "bob"}) is not None
    assert await storage.runs.list("t1", filters={"owner": "alice"}) is None
    assert await storage.runs.delete(run.run_id, thread_id="t1", filters={"owner": "x"}) is False
    assert await storage.runs.get(run.run_id) is not None


async def test_get_list_delete(storage: Storage) -> None:
    await storage.threads.create(thread_id="t1", metadata={})
    await storage.threads.create(thread_id="t2", metadata={})
    runs = [(await storage.runs.create_run(make_run("t1", delay=i))).run for i in range(3)]
    assert await storage.runs.get(runs[0].run_id, thread_id="t2") is None
    assert await storage.runs.get(runs[0].run_id, thread_id="t1") is not None
    listed = await storage.runs.list("t1")
    assert listed is not None and [r.run_id for r in listed] == [r.run_id for r in runs][::-1]
    listed = await storage.runs.list("t1", limit=1, offset=1)
    assert listed is not None and [r.run_id for r in listed] == [runs[1].run_id]
    assert await storage.runs.list("t2") == []
    assert await storage.runs.list("missing") is None
    await storage.runs.request_cancel(run_ids=[runs[0].run_id])
    listed = await storage.runs.list("t1", status="interrupted")
    assert listed is not None and [r.run_id for r in listed] == [runs[0].run_id]
    assert await storage.runs.delete(runs[1].run_id, thread_id="t2") is False
    assert await storage.runs.delete(runs[1].run_id, thread_id="t1") is True
    assert await storage.runs.delete(runs[1].run_id, thread_id="t1") is False
    await storage.runs.delete(runs[2].run_id, thread_id="t1")
    thread = await storage.threads.get("t1")
    assert thread is not None and thread.status == "idle"  # no inflight run left


async def test_record_progress_and_webhook(storage: Storage) -> None:
    from datetime import datetime, timedelta

    await storage.threads.create(thread_id="t1", metadata={})
    run = (await storage.runs.create_run(make_run("t1"))).run
    first = datetime.now(UTC)
    await storage.runs.record_progress(run.run_id, first_token_at=first, usage={"total_tokens": 3})
    await storage.runs.record_progress(
        run.run_id,
        first_token_at=first + timedelta(seconds=5),
        steps=[{"type": "llm"}],
        model_snapshot={"model": "m"},
    )
    await storage.runs.set_webhook(run.run_id, {"url": "http://x", "status_code": 200})
    got = await storage.runs.get(run.run_id)
    assert got is not None and got.first_token_at == first
    assert got.usage == {"total_tokens": 3} and got.steps == [{"type": "llm"}]
    assert got.model_snapshot == {"model": "m"} and got.status == "pending"
    assert got.webhook == {"url": "http://x", "status_code": 200}


async def test_run_fields_round_trip(storage: Storage) -> None:
    run = make_run(
        "t1",
        metadata={"k": [1, {"x": None}]},
        background=False,
        temporary=True,
        kwargs={"input": {"text": "héllo"}, "config": {"tags": ["a"]}},
    )
    await storage.runs.create_run(run, if_not_exists="create")
    got = await storage.runs.get(run.run_id)
    assert got is not None
    assert got.metadata == run.metadata and got.kwargs == run.kwargs
    assert got.background is False and got.temporary is True
    assert got.created_at == run.created_at and got.created_at.tzinfo is not None


async def test_finish_snapshot_for_interrupted_thread(storage: Storage) -> None:
    run = (await storage.runs.create_run(make_run("t1"), if_not_exists="create")).run
    await storage.runs.claim(worker_id="w", limit=1, lease_seconds=30)
    snap = ThreadSnapshot("interrupted", {"v": 1}, {"t": [{"value": "approve?"}]})
    done = await storage.runs.finish(
        run.run_id, status="success", stop_reason="requires_approval", error=None, thread=snap
    )
    assert done is not None and done.status == "success"
    thread = await storage.threads.get("t1")
    assert thread is not None and thread.status == "interrupted" and thread.values == {"v": 1}


async def test_deleting_a_finished_run_leaves_its_thread_alone(storage: Storage) -> None:
    """Only an inflight run's deletion refreshes its thread (the backends once differed: one
    rewrote the thread's updated_at for any deleted run)."""
    run = (await storage.runs.create_run(make_run("t1"), if_not_exists="create")).run
    await storage.runs.claim(worker_id="w", limit=1, lease_seconds=30)
    snap = ThreadSnapshot("error", {"v": 1}, {}, {"error": "ValueError", "message": "boom"})
    await storage.runs.finish(run.run_id, status="error", stop_reason=None, error={}, thread=snap)
    before = await storage.threads.get("t1")
    assert before is not None and before.status == "error"
    assert await storage.runs.delete(run.run_id, thread_id="t1") is True
    after = await storage.threads.get("t1")
    assert after is not None and after.status == "error"
    assert after.updated_at == before.updated_at


@pytest.mark.parametrize(("limit", "offset"), [(-1, 0), (10, -1)])
async def test_negative_paging_is_refused_by_every_run_list(
    storage: Storage, limit: int, offset: int
) -> None:
    """Both backends validate LIMIT/OFFSET the same way (one used to clamp them to 0)."""
    await storage.threads.create(thread_id="t1", metadata={})
    with pytest.raises(Unprocessable):
        await storage.runs.list("t1", limit=limit, offset=offset)
    with pytest.raises(Unprocessable):
        await storage.runs.search_all(limit=limit, offset=offset)


async def test_limit_zero_lists_no_runs(storage: Storage) -> None:
    await storage.runs.create_run(make_run("t1"), if_not_exists="create")
    assert await storage.runs.list("t1", limit=0) == []
    assert await storage.runs.search_all(limit=0) == []


async def test_bulk_cancel_by_ids_thread_and_status_selects_the_same_runs(
    storage: Storage,
) -> None:
    """The bulk-cancel selection is one SQL builder for both dialects (storage/dialect.py)."""
    a = (await storage.runs.create_run(make_run("t1"), if_not_exists="create")).run
    b = (await storage.runs.create_run(make_run("t2"), if_not_exists="create")).run
    c = (await storage.runs.create_run(make_run("t2", delay=1), if_not_exists="create")).run
    assert await storage.runs.request_cancel(run_ids=[]) == []
    assert await storage.runs.request_cancel(status="running", thread_id="t2") == []
    cancelled = await storage.runs.request_cancel(run_ids=[a.run_id, c.run_id], status="all")
    assert sorted(r.run_id for r in cancelled) == sorted([a.run_id, c.run_id])
    cancelled = await storage.runs.request_cancel(thread_id="t2", status="pending")
    assert [r.run_id for r in cancelled] == [b.run_id]
    with pytest.raises(InvalidInput):
        await storage.runs.request_cancel(thread_id="t2", status="success")
