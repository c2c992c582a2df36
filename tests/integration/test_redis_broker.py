"""RedisBroker against a real Redis: the Broker semantics the in-process broker also keeps."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from tests.support.pg import delete_redis_prefix, random_name, require_redis
from threadloom.runtime.broker import StreamEvent, ThreadNotice
from threadloom.runtime.redis_broker import RedisBroker


@pytest.fixture
async def prefix() -> AsyncIterator[str]:
    url = require_redis()
    name = random_name("tltest")
    yield name
    await delete_redis_prefix(url, name)


@pytest.fixture
async def broker(prefix: str) -> AsyncIterator[RedisBroker]:
    b = RedisBroker(require_redis(), prefix=prefix, retention_seconds=60, buffer_events=10_000)
    await b.start()
    yield b
    await b.stop()


@pytest.fixture
async def other(prefix: str) -> AsyncIterator[RedisBroker]:
    """A second process's broker (same Redis, same prefix)."""
    b = RedisBroker(require_redis(), prefix=prefix, retention_seconds=60, buffer_events=10_000)
    await b.start()
    yield b
    await b.stop()


async def collect(it: AsyncIterator[StreamEvent]) -> list[StreamEvent]:
    return [e async for e in it]


async def test_publish_returns_increasing_seq_and_read_keeps_order(broker: RedisBroker) -> None:
    seqs = [await broker.publish("r1", "values", f'{{"i":{i}}}'.encode()) for i in range(5)]
    assert seqs == [1, 2, 3, 4, 5]
    await broker.finish("r1")
    events = await collect(broker.read("r1"))
    assert [e.seq for e in events] == [1, 2, 3, 4, 5]
    assert events[2] == StreamEvent(seq=3, event="values", data=b'{"i":2}')


async def test_replay_after_seq(broker: RedisBroker, other: RedisBroker) -> None:
    for i in range(10):
        await broker.publish("r2", "updates|sub", str(i).encode())
    await broker.finish("r2")
    events = await collect(other.read("r2", after=7))
    assert [(e.seq, e.event, e.data) for e in events] == [
        (8, "updates|sub", b"7"),
        (9, "updates|sub", b"8"),
        (10, "updates|sub", b"9"),
    ]
    assert await collect(other.read("r2", after=10)) == []


async def test_no_follow_returns_what_is_there(broker: RedisBroker) -> None:
    await broker.publish("r3", "a", b"1")
    await broker.publish("r3", "b", b"2")
    await broker._writer.flush()
    events = await asyncio.wait_for(collect(broker.read("r3", follow=False)), 2)
    assert [e.event for e in events] == ["a", "b"]
    assert not await broker.is_finished("r3")


async def test_reader_before_publish_follows_until_finish(
    broker: RedisBroker, other: RedisBroker
) -> None:
    reader = asyncio.create_task(collect(other.read("r4")))
    await asyncio.sleep(0.05)
    assert not reader.done()
    await broker.publish("r4", "metadata", b"{}")
    await broker.publish("r4", "values", b"[]")
    await asyncio.sleep(0.05)
    assert not reader.done()
    await broker.finish("r4")
    events = await asyncio.wait_for(reader, 2)
    assert [e.event for e in events] == ["metadata", "values"]
    assert await other.is_finished("r4")


async def test_retried_attempt_in_another_process_keeps_counting(
    broker: RedisBroker, other: RedisBroker
) -> None:
    assert await broker.publish("r5", "metadata", b"{}") == 1
    assert await broker.publish("r5", "values", b"{}") == 2
    await broker._writer.flush()
    assert await other.publish("r5", "metadata", b"{}") == 3
    await other.finish("r5")
    assert [e.seq for e in await collect(broker.read("r5"))] == [1, 2, 3]


async def test_reset_forgets_the_log(broker: RedisBroker) -> None:
    await broker.publish("r6", "values", b"1")
    await broker.finish("r6")
    await broker.reset("r6")
    assert not await broker.is_finished("r6")
    assert await broker.publish("r6", "values", b"2") == 1


async def test_bounded_log_skips_dropped_events(prefix: str) -> None:
    b = RedisBroker(require_redis(), prefix=prefix, retention_seconds=60, buffer_events=16)
    await b.start()
    try:
        for i in range(2000):
            await b.publish("r7", "values", str(i).encode())
        await b.finish("r7")
        events = await collect(b.read("r7"))
        assert len(events) < 2000
        assert events[-1].seq == 2000
        assert [e.seq for e in events] == list(range(events[0].seq, 2001))
    finally:
        await b.stop()


async def test_retention_expires_finished_logs(prefix: str) -> None:
    b = RedisBroker(require_redis(), prefix=prefix, retention_seconds=1, buffer_events=100)
    await b.start()
    try:
        await b.publish("r8", "values", b"1")
        await b.finish("r8")
        assert await b.is_finished("r8")
        ttl = await b.redis.pttl(b._stream_key("r8"))
        assert 0 < ttl <= 1000
        await asyncio.sleep(1.3)
        assert not await b.is_finished("r8")
        assert await collect(b.read("r8", follow=False)) == []
    finally:
        await b.stop()


async def test_cancel_reaches_another_instance_quickly(
    broker: RedisBroker, other: RedisBroker
) -> None:
    got: asyncio.Queue[tuple[str, float]] = asyncio.Queue()
    unsubscribe = await other.listen_cancel(
        "r9", lambda action: got.put_nowait((action, time.monotonic()))
    )
    sent = time.monotonic()
    await broker.send_cancel("r9", "rollback")
    action, at = await asyncio.wait_for(got.get(), 1)
    assert action == "rollback"
    assert at - sent < 0.1
    await unsubscribe()
    await broker.send_cancel("r9", "interrupt")
    await asyncio.sleep(0.05)
    assert got.empty()


async def test_cancel_sent_before_listening_is_seen(
    broker: RedisBroker, other: RedisBroker
) -> None:
    await broker.send_cancel("r10", "interrupt")
    seen: list[str] = []

    async def handler(action: str) -> None:
        seen.append(action)

    unsubscribe = await other.listen_cancel("r10", handler)
    assert seen == ["interrupt"]
    await unsubscribe()


async def test_thread_notices_reach_other_instances(
    broker: RedisBroker, other: RedisBroker
) -> None:
    notices = other.thread_notices("t1")
    first = asyncio.create_task(anext(notices))
    await other.wait_subscribed("t1")
    notice = ThreadNotice(kind="run_started", run_id="r1", data=b'{"a":\n1}')
    await broker.notify_thread("t1", notice)
    assert await asyncio.wait_for(first, 1) == notice
    await broker.notify_thread("t1", ThreadNotice(kind="state_update", run_id=None, data=b"{}"))
    second = await asyncio.wait_for(anext(notices), 1)
    assert second == ThreadNotice(kind="state_update", run_id=None, data=b"{}")
    await notices.aclose()  # type: ignore[attr-defined]


async def test_wake_workers_across_instances(broker: RedisBroker, other: RedisBroker) -> None:
    start = time.monotonic()
    await other.wait_for_work(0.05)  # nothing pending: times out
    assert time.monotonic() - start >= 0.04
    waiter = asyncio.create_task(other.wait_for_work(5))
    await asyncio.sleep(0.02)
    await broker.wake_workers()
    await asyncio.wait_for(waiter, 1)


async def test_throughput_1000_events(broker: RedisBroker, other: RedisBroker) -> None:
    """≥ 40k events/s published and read back through Redis for a 1000-event stream (the
    cluster target). Best of a few runs after a warm-up, so a busy CI box does not flake it."""
    payload = b'{"messages":[{"type":"ai","content":"hello world"}]}'

    async def one(run_id: str) -> float:
        reader = asyncio.create_task(collect(other.read(run_id)))
        start = time.perf_counter()
        for _ in range(1000):
            await broker.publish(run_id, "messages", payload)
        await broker.finish(run_id)
        events = await asyncio.wait_for(reader, 10)
        elapsed = time.perf_counter() - start
        assert [e.seq for e in events] == list(range(1, 1001))
        return 1000 / elapsed

    await one("warmup")
    best = max([await one(f"rt{i}") for i in range(5)])
    print(f"redis broker: {best:,.0f} events/s")
    assert best >= 40_000


async def test_reset_ends_followers(broker: RedisBroker, other: RedisBroker) -> None:
    await broker.publish("r11", "values", b"1")
    reader = asyncio.create_task(collect(other.read("r11")))
    await asyncio.sleep(0.05)
    await broker.reset("r11")
    events = await asyncio.wait_for(reader, 2)
    assert [e.seq for e in events] == [1]


async def test_begin_and_end_run_batch_the_same_signals(
    broker: RedisBroker, other: RedisBroker
) -> None:
    """begin_run = listen_cancel + log open + run_started; end_run = run_done + log end + wake,
    each as one round trip, with the same effects and order as the separate calls."""
    await other.publish("r21", "values", b"0")  # an earlier attempt's event, elsewhere
    await other._writer.flush()
    await broker.send_cancel("r21", "interrupt")
    notices = other.thread_notices("t20")
    first = asyncio.create_task(anext(notices))
    await other.wait_subscribed("t20")
    seen: list[str] = []
    started = ThreadNotice(kind="run_started", run_id="r21", data=b"{}")
    unlisten = await broker.begin_run("r21", "t20", seen.append, started)
    assert seen == ["interrupt"]  # a cancel sent before the run started is still seen
    assert await asyncio.wait_for(first, 1) == started
    assert await broker.publish("r21", "metadata", b"m") == 2  # continues the log's seq
    reader = asyncio.create_task(collect(other.read("r21")))
    waiter = asyncio.create_task(other.wait_for_work(5))
    done = ThreadNotice(kind="run_done", run_id="r21", data=b"{}")
    await broker.end_run("r21", "t20", done)
    assert await asyncio.wait_for(anext(notices), 1) == done
    events = await asyncio.wait_for(reader, 1)
    assert [(e.seq, e.event) for e in events] == [(1, "values"), (2, "metadata")]
    await asyncio.wait_for(waiter, 1)
    await unlisten()
    await notices.aclose()  # type: ignore[attr-defined]


async def test_first_attempt_start_up_rides_with_its_first_events(
    broker: RedisBroker, other: RedisBroker
) -> None:
    """A first attempt does not wait for its start-up round trip: the late-cancel check and
    run_started go out with its first events, and a cancel sent before it started still lands;
    a temporary run's end wakes no worker."""
    await other.send_cancel("r30", "rollback")
    notices = other.thread_notices("t30")
    first = asyncio.create_task(anext(notices))
    await other.wait_subscribed("t30")
    seen: list[str] = []
    started = ThreadNotice(kind="run_started", run_id="r30", data=b"{}")
    unlisten = await broker.begin_run("r30", "t30", seen.append, started, first_attempt=True)
    assert await broker.publish("r30", "metadata", b"m") == 1  # the log starts at 1, unread
    assert await asyncio.wait_for(first, 2) == started
    for _ in range(100):
        if seen:
            break
        await asyncio.sleep(0.01)
    assert seen == ["rollback"]
    other._woken.clear()
    done = ThreadNotice("run_done", "r30", b"{}")
    await broker.end_run("r30", "t30", done, wake=False)
    assert await asyncio.wait_for(anext(notices), 2) == done
    # a notice published after end_run reaches `other` after anything end_run published
    barrier = ThreadNotice("state_update", None, b"{}")
    await broker.notify_thread("t30", barrier)
    assert await asyncio.wait_for(anext(notices), 2) == barrier
    assert not other._woken.is_set()  # nobody was woken
    await unlisten()
    await notices.aclose()  # type: ignore[attr-defined]
    events = await collect(other.read("r30"))
    assert [(e.seq, e.event) for e in events] == [(1, "metadata")]


async def test_outcome_wakes_a_waiter_in_another_process_once_the_run_ends(
    broker: RedisBroker, other: RedisBroker
) -> None:
    """`/wait` blocks on the run's outcome alone: the last values and error, once it ended."""
    waiter = asyncio.create_task(other.outcome("r-out", follow=True))
    await broker.publish("r-out", "metadata", b'{"run_id":"r-out"}')
    await broker.publish("r-out", "values", b'{"n":1}')
    await broker.publish("r-out", "values", b'{"n":2}')
    await asyncio.sleep(0.05)
    assert not waiter.done()  # events alone do not wake it
    await broker.end_run("r-out", "t-out", ThreadNotice("run_done", "r-out", b"{}"))
    outcome = await asyncio.wait_for(waiter, 5)
    assert outcome is not None
    assert (outcome.values, outcome.error, outcome.seen) == (b'{"n":2}', None, True)
    # later readers get it at once, following or not
    again = await other.outcome("r-out", follow=False)
    assert again == outcome


async def test_outcome_of_errors_resets_and_unknown_runs(broker: RedisBroker) -> None:
    await broker.publish("r-err", "values", b'{"n":1}')
    await broker.publish("r-err", "error", b'{"error":"ValueError"}')
    await broker.finish("r-err")
    failed = await broker.outcome("r-err", follow=False)
    assert failed is not None and failed.error == b'{"error":"ValueError"}'
    assert await broker.outcome("never-ran", follow=False) is None
    waiter = asyncio.create_task(broker.outcome("r-reset", follow=True))
    await broker.publish("r-reset", "values", b"{}")
    await asyncio.sleep(0.05)
    await broker.reset("r-reset")  # rollback: the waiter is released with nothing to show
    released = await asyncio.wait_for(waiter, 5)
    assert released is not None and released.values is None and not released.seen
    assert await broker.outcome("r-reset", follow=False) is None


async def test_position_is_the_last_published_seq(broker: RedisBroker, other: RedisBroker) -> None:
    """Seen from another process; a finished log's end entry does not count as an event, so
    reading after the position of a log that just ended ends at once."""
    assert await other.position("r9") == 0
    for i in range(3):
        await broker.publish("r9", "values", str(i).encode())
    await broker._writer.flush()
    assert await other.position("r9") == 3
    reader = asyncio.ensure_future(collect(other.read("r9", after=await other.position("r9"))))
    await broker.publish("r9", "values", b"next")
    await broker.finish("r9")
    assert [e.data for e in await asyncio.wait_for(reader, 5)] == [b"next"]
    assert await other.position("r9") == 4
    assert await collect(other.read("r9", after=4)) == []


async def test_a_cancelled_reader_leaves_the_other_readers_waiting(broker: RedisBroker) -> None:
    """As for the local broker: a follower that is cancelled (its client went away) must not
    end another follower's read or a /join's wait for the outcome."""
    await broker.publish("rc", "metadata", b"{}")
    leaving = asyncio.ensure_future(collect(broker.read("rc")))
    staying = asyncio.ensure_future(collect(broker.read("rc")))
    waiting = asyncio.ensure_future(broker.outcome("rc", follow=True))
    await asyncio.sleep(0.2)  # let all three block in their reads
    leaving.cancel()
    await broker.publish("rc", "values", b'{"done":true}')
    await broker.finish("rc")
    assert [e.event for e in await asyncio.wait_for(staying, 5)] == ["metadata", "values"]
    outcome = await asyncio.wait_for(waiting, 5)
    assert outcome is not None and outcome.values == b'{"done":true}'
    assert leaving.cancelled()


async def test_takeover_after_the_log_was_lost_numbers_above_earlier_attempts(
    broker: RedisBroker, other: RedisBroker
) -> None:
    """Redis loses a run's log (eviction here; a restart in the cluster suite) and another
    worker runs attempt 2: its ids stay above attempt 1's, so a reader resuming after the last
    id it saw reads the whole second attempt instead of skipping it."""
    started = ThreadNotice("run_started", "r40", b"{}")
    unlisten = await broker.begin_run("r40", "t40", lambda _a: None, started, first_attempt=True)
    seen = [await broker.publish("r40", "values", f"v{i}".encode()) for i in range(3)]
    await broker._writer.flush()
    await unlisten()
    assert seen == [1, 2, 3]
    await broker.redis.delete(broker._stream_key("r40"))  # the log is lost
    unlisten = await other.begin_run("r40", "t40", lambda _a: None, started, attempt=2)
    second = [await other.publish("r40", "values", f"w{i}".encode()) for i in range(2)]
    await other.end_run("r40", "t40", ThreadNotice("run_done", "r40", b"{}"), wake=False)
    await unlisten()
    assert second[0] > seen[-1] and second == sorted(second)
    resumed = await asyncio.wait_for(collect(broker.read("r40", after=seen[-1])), 5)
    assert [e.data for e in resumed] == [b"w0", b"w1"]
    assert [e.seq for e in resumed] == second


async def test_a_log_that_survived_keeps_counting(broker: RedisBroker, other: RedisBroker) -> None:
    started = ThreadNotice("run_started", "r41", b"{}")
    unlisten = await broker.begin_run("r41", "t41", lambda _a: None, started, first_attempt=True)
    assert await broker.publish("r41", "values", b"v") == 1
    await broker._writer.flush()
    await unlisten()
    unlisten = await other.begin_run("r41", "t41", lambda _a: None, started, attempt=2)
    assert await other.publish("r41", "values", b"w") == 2
    await unlisten()
