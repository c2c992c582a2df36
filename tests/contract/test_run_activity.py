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
    assert [m.created_at for m in activity.measures] == sorted(
        (m.created_at for m in activity.measures), reverse=True
    )
    assert len(activity.measures) == 3  # `old` is outside the hour
    assert activity.running == 2 and activity.pending == 1  # finished (ta) waits behind old
    assert {m.status for m in activity.measures} == {"running", "pending"}
    tokens = {m.first_token_at is not None: m.total_tokens for m in activity.measures}
    assert tokens[True] == 7  # input + output when no total was reported

    capped = await storage.runs.activity(since=NOW - timedelta(hours=1), limit=2)
    assert capped.truncated and len(capped.measures) == 2

    mine = await storage.runs.activity(since=NOW - timedelta(hours=3), filters={"owner": "a"})
    assert len(mine.measures) == 3  # old, finished (ta) and tc's
    assert (mine.pending, mine.running) == (1, 1)
