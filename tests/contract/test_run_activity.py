"""RunStore.activity: the dashboard overview's recent measures and queue counts, both backends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.contract.conftest import make_run
from threadloom.storage.base import Storage

NOW = datetime.now(UTC)


async def test_recent_measures_newest_first_and_queue_counts(storage: Storage) -> None:
    await storage.threads.create(thread_id="ta", metadata={"owner": "a"})
    await storage.threads.create(thread_id="tb", metadata={"owner": "b"})
    await storage.threads.create(thread_id="tc", metadata={"owner": "a"})
    old = make_run("ta", created_at=NOW - timedelta(hours=2))
    await storage.runs.create_run(old)
    finished = make_run("ta", created_at=NOW - timedelta(minutes=10))
    await storage.runs.create_run(finished)
    for thread in ("tb", "tc"):
        await storage.runs.create_run(make_run(thread, created_at=NOW - timedelta(minutes=5)))
    # the oldest due run of each thread is claimed: `old` (ta), tb's and tc's
    claimed = await storage.runs.claim(worker_id="w", limit=10, lease_seconds=30)
    assert len(claimed) == 3
    await storage.runs.finish(
        old.run_id, status="success", stop_reason="end_turn", error=None, thread=None
    )
    tb_run = next(r.run_id for r in claimed if r.thread_id == "tb")
    await storage.runs.record_progress(
        tb_run, first_token_at=NOW, usage={"input_tokens": 3, "output_tokens": 4}
    )

    activity = await storage.runs.activity(since=NOW - timedelta(hours=1))
    assert not activity.truncated
    created = [m.created_ms for m in activity.measures]
    assert created == sorted(created, reverse=True)
    assert abs(created[-1] - finished.created_at.timestamp() * 1000) < 1
    assert len(activity.measures) == 3  # `old` is outside the hour
    assert activity.running == 2 and activity.pending == 1  # finished (ta) waits behind old
    assert {m.status for m in activity.measures} == {"running", "pending"}
    tokens = {m.ttft_ms is not None: m.total_tokens for m in activity.measures}
    assert tokens[True] == 7  # input + output when no total was reported
    ttft = next(m.ttft_ms for m in activity.measures if m.ttft_ms is not None)
    assert abs(ttft - 5 * 60_000) < 1_000  # created 5 minutes before its first token
    assert all(m.duration_ms is None for m in activity.measures)  # none has ended

    capped = await storage.runs.activity(since=NOW - timedelta(hours=1), limit=2)
    assert capped.truncated and len(capped.measures) == 2

    mine = await storage.runs.activity(since=NOW - timedelta(hours=3), filters={"owner": "a"})
    assert len(mine.measures) == 3  # old, finished (ta) and tc's
    assert (mine.pending, mine.running) == (1, 1)


async def test_ttft_falls_back_to_the_first_llm_step_and_durations_are_measured(
    storage: Storage,
) -> None:
    await storage.threads.create(thread_id="ta", metadata={})
    run = make_run("ta", created_at=NOW - timedelta(minutes=1))
    await storage.runs.create_run(run)
    await storage.runs.claim(worker_id="w", limit=1, lease_seconds=30)
    step_end = run.created_at + timedelta(milliseconds=1500)
    await storage.runs.record_progress(
        run.run_id,
        usage={"total_tokens": 11, "input_tokens": 1},
        steps=[{"type": "llm", "name": "m", "ended_at": step_end.isoformat()}],
    )
    await storage.runs.finish(
        run.run_id, status="error", stop_reason="error", error=None, thread=None
    )
    (measure,) = (await storage.runs.activity(since=NOW - timedelta(hours=1))).measures
    assert measure.status == "error" and measure.total_tokens == 11
    assert measure.ttft_ms is not None and abs(measure.ttft_ms - 1500) < 1
    assert measure.duration_ms is not None and measure.duration_ms > 1500


async def test_newer_than_reads_only_new_inflight_and_rechecked_runs(storage: Storage) -> None:
    await storage.threads.create(thread_id="ta", metadata={})
    await storage.threads.create(thread_id="tb", metadata={})
    await storage.threads.create(thread_id="tc", metadata={})
    done = make_run("ta", created_at=NOW - timedelta(minutes=30))
    rechecked = make_run("tb", created_at=NOW - timedelta(minutes=20))
    waiting = make_run("tc", created_at=NOW - timedelta(minutes=15))
    new = make_run("ta", created_at=NOW - timedelta(minutes=1))
    for run in (done, rechecked, waiting, new):
        await storage.runs.create_run(run)
    await storage.runs.claim(worker_id="w", limit=10, lease_seconds=30)
    for run in (done, rechecked):
        await storage.runs.finish(
            run.run_id, status="success", stop_reason="end_turn", error=None, thread=None
        )
    activity = await storage.runs.activity(
        since=NOW - timedelta(hours=1),
        newer_than=NOW - timedelta(minutes=5),
        recheck=[rechecked.run_id],
    )
    by_id = {m.run_id: m.status for m in activity.measures}
    # `done` finished before the last read and is not asked about: left out
    assert by_id == {rechecked.run_id: "success", waiting.run_id: "running", new.run_id: "pending"}
