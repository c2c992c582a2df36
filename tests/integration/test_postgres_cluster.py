"""PostgresStorage under cluster conditions: several storage instances (as several processes
would have) racing on the same schema, leases running out, migrations started at once."""

from __future__ import annotations

import asyncio
import sys
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypedDict

import orjson
import psycopg
import pytest
from langgraph.graph import START, StateGraph

from tests.support.pg import drop_schema, random_name, require_postgres
from threadloom.errors import Conflict
from threadloom.storage.errors import StaleAssistant
from threadloom.storage.operations import SlotOffer
from threadloom.storage.postgres import PostgresStorage, migrate
from threadloom.storage.postgres.queue import OfferChannel
from threadloom.storage.records import Run

MIGRATIONS = (
    Path(__file__).resolve().parents[2] / "src/threadloom/storage/postgres/migrations/versions"
)
HEAD = max(p.stem.split("_", 1)[0].lstrip("v") for p in MIGRATIONS.glob("v[0-9]*.py"))


def make_run(
    thread_id: str, *, strategy: str = "enqueue", created_at: datetime | None = None
) -> Run:
    now = datetime.now(UTC)
    return Run(
        run_id=str(uuid.uuid4()),
        thread_id=thread_id,
        assistant_id="agent",
        status="pending",
        multitask_strategy=strategy,
        metadata={},
        kwargs={},
        created_at=created_at or now - timedelta(milliseconds=1),
        updated_at=now,
    )


@pytest.fixture
async def schema() -> AsyncIterator[str]:
    url = require_postgres()
    name = random_name("tltest")
    yield name
    await drop_schema(url, name)


@pytest.fixture
async def pair(schema: str) -> AsyncIterator[tuple[PostgresStorage, PostgresStorage]]:
    """Two storages over one schema: two processes of a cluster."""
    url = require_postgres()
    a = PostgresStorage(url, schema=schema, pool_max=8)
    b = PostgresStorage(url, schema=schema, pool_max=8)
    await asyncio.gather(a.open(), b.open())
    try:
        yield a, b
    finally:
        await asyncio.gather(a.close(), b.close())


async def test_concurrent_claims_never_share_a_run_or_a_thread(
    pair: tuple[PostgresStorage, PostgresStorage],
) -> None:
    a, b = pair
    threads = [f"t{i}" for i in range(20)]
    created: list[Run] = []
    for t in threads:
        for _ in range(3):
            run = make_run(t)
            await a.runs.create_run(run, if_not_exists="create")
            created.append(run)

    async def claimer(storage: PostgresStorage, worker: str) -> list[Run]:
        got: list[Run] = []
        for _ in range(10):
            got += await storage.runs.claim(worker_id=worker, limit=3, lease_seconds=30)
        return got

    results = await asyncio.gather(*(claimer(s, f"w{i}") for i, s in enumerate([a, b, a, b, a, b])))
    claimed = [r for batch in results for r in batch]
    ids = [r.run_id for r in claimed]
    assert len(ids) == len(set(ids)), "a run was handed out twice"
    per_thread = [r.thread_id for r in claimed]
    assert len(per_thread) == len(set(per_thread)), "two running runs on one thread"
    assert sorted(per_thread) == sorted(threads)  # every thread got its oldest run
    first_of = {t: next(r.run_id for r in created if r.thread_id == t) for t in threads}
    assert all(r.run_id == first_of[r.thread_id] for r in claimed)


async def test_serial_order_per_thread_across_workers(
    pair: tuple[PostgresStorage, PostgresStorage],
) -> None:
    """Workers on two instances drain one thread's queue strictly one run at a time."""
    a, b = pair
    runs = [make_run("busy") for _ in range(8)]
    for run in runs:
        await a.runs.create_run(run, if_not_exists="create")
    order: list[str] = []
    running: set[str] = set()

    async def worker(storage: PostgresStorage, name: str) -> None:
        idle = 0
        while idle < 20:
            got = await storage.runs.claim(worker_id=name, limit=2, lease_seconds=30)
            if not got:
                idle += 1
                await asyncio.sleep(0.005)
                continue
            idle = 0
            for run in got:
                assert not running, "two runs of one thread ran at once"
                running.add(run.run_id)
                order.append(run.run_id)
                await asyncio.sleep(0.002)
                running.discard(run.run_id)
                await storage.runs.finish(
                    run.run_id, status="success", stop_reason="end_turn", error=None, thread=None
                )

    await asyncio.gather(worker(a, "wa"), worker(b, "wb"), worker(a, "wc"))
    assert order == [r.run_id for r in runs]


async def test_concurrent_reject_from_two_instances_admits_one(
    pair: tuple[PostgresStorage, PostgresStorage],
) -> None:
    a, b = pair
    for i in range(10):
        thread_id = f"reject-{i}"
        await a.threads.create(thread_id=thread_id, metadata={})

        async def attempt(storage: PostgresStorage, tid: str = thread_id) -> bool:
            try:
                await storage.runs.create_run(make_run(tid, strategy="reject"))
            except Conflict:
                return False
            return True

        outcomes = await asyncio.gather(attempt(a), attempt(b), attempt(a), attempt(b))
        assert outcomes.count(True) == 1
        assert len(await b.runs.inflight(thread_id)) == 1


async def test_concurrent_create_thread_on_the_fly(
    pair: tuple[PostgresStorage, PostgresStorage],
) -> None:
    """Two processes creating the same missing thread with their first run both succeed."""
    a, b = pair
    results = await asyncio.gather(
        a.runs.create_run(make_run("fresh"), if_not_exists="create"),
        b.runs.create_run(make_run("fresh"), if_not_exists="create"),
    )
    assert sorted(r.thread_created for r in results) == [False, True]
    assert len(await a.runs.inflight("fresh")) == 2


async def test_reap_after_lease_runs_out(pair: tuple[PostgresStorage, PostgresStorage]) -> None:
    a, b = pair
    run = make_run("lease")
    await a.runs.create_run(run, if_not_exists="create")
    (claimed,) = await a.runs.claim(worker_id="dead", limit=1, lease_seconds=30)
    assert claimed.attempt == 1
    now = datetime.now(UTC)
    assert await b.runs.reap_expired(now) == []
    # the other instance's reaper, once the 30 s lease has run out with no heartbeat
    (reaped,) = await b.runs.reap_expired(now + timedelta(seconds=31))
    assert reaped.run_id == run.run_id
    assert reaped.status == "pending" and reaped.worker_id is None
    assert await a.runs.heartbeat(worker_id="dead", run_ids=[run.run_id], lease_seconds=30) == []
    (again,) = await b.runs.claim(worker_id="alive", limit=1, lease_seconds=30)
    assert again.run_id == run.run_id
    assert again.attempt == 2
    assert again.started_at == claimed.started_at  # first start kept
    # the dead worker's late finish cannot take the run back from the new holder's view
    assert await b.runs.heartbeat(worker_id="alive", run_ids=[run.run_id], lease_seconds=30) == [
        run.run_id
    ]


async def _schema_state(url: str, schema: str) -> tuple[str | None, set[str]]:
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        cur = await conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s", (schema,)
        )
        tables = {r[0] for r in await cur.fetchall()}
        version = None
        if "alembic_version" in tables:
            cur = await conn.execute(f'SELECT version_num FROM "{schema}".alembic_version')
            row = await cur.fetchone()
            version = row[0] if row else None
        return version, tables


async def test_migrations_are_idempotent(schema: str) -> None:
    url = require_postgres()
    await migrate(url, schema=schema)
    first = await _schema_state(url, schema)
    await migrate(url, schema=schema)
    assert await _schema_state(url, schema) == first
    version, tables = first
    assert version == HEAD
    assert {"assistants", "threads", "runs", "checkpoints", "store"} <= tables


async def test_concurrent_migrations_in_one_process(schema: str) -> None:
    url = require_postgres()
    await asyncio.gather(*(migrate(url, schema=schema) for _ in range(4)))
    version, tables = await _schema_state(url, schema)
    assert version == HEAD and "runs" in tables


async def test_concurrent_migrations_in_separate_processes(schema: str) -> None:
    url = require_postgres()
    code = (
        "import sys; from threadloom.storage.postgres import migrate_blocking; "
        "migrate_blocking(sys.argv[1], schema=sys.argv[2])"
    )
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            code,
            url,
            schema,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        for _ in range(3)
    ]
    outputs = [await p.communicate() for p in procs]
    for proc, (_, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err.decode()
    version, tables = await _schema_state(url, schema)
    assert version == HEAD
    assert {"assistants", "threads", "runs", "checkpoints", "checkpoint_writes", "store"} <= tables


async def test_cached_assistant_is_rechecked_by_the_run_insert(
    pair: tuple[PostgresStorage, PostgresStorage],
) -> None:
    """Process A creates runs from its cached assistant; once process B has changed it, A's
    insert writes nothing (new thread or existing one) and A's next read is fresh."""
    a, b = pair
    await a.assistants.create(
        assistant_id="agent",
        graph_id="g",
        config={"v": 1},
        context={},
        metadata={},
        name="agent",
        description=None,
    )
    cached = await a.assistants.get_for_run("agent")
    assert cached is not None
    ok = await a.runs.create_run(make_run("t-ok"), if_not_exists="create", assistant=cached)
    assert ok.thread_created
    assert await a.assistants.get_for_run("agent") is cached  # served from the cache
    await b.assistants.update("agent", config={"v": 2})

    fresh_thread = make_run("t-new")
    with pytest.raises(StaleAssistant):
        await a.runs.create_run(fresh_thread, if_not_exists="create", assistant=cached)
    assert await a.threads.get("t-new") is None and await a.runs.get(fresh_thread.run_id) is None
    existing = make_run("t-ok")
    with pytest.raises(StaleAssistant):
        await a.runs.create_run(existing, assistant=cached, durable=False)
    assert await a.runs.get(existing.run_id) is None

    current = await a.assistants.get_for_run("agent")
    assert current is not None and current.version == 2 and current.config == {"v": 2}
    again = await a.runs.create_run(make_run("t-ok"), assistant=current, durable=False)
    assert again.run.status == "pending"


async def test_runs_inserted_without_waiting_for_disk_notify_listening_workers(
    pair: tuple[PostgresStorage, PostgresStorage],
) -> None:
    """A /wait run's insert NOTIFYs workers at commit (on both the new-thread and the locked
    path); a durable insert leaves the wake-up to the broker (its commit would hold
    PostgreSQL's notify lock while the disk syncs) and says so."""
    a, b = pair
    calls: list[int] = []
    arrived = asyncio.Event()

    def on_run() -> None:
        calls.append(1)
        arrived.set()

    stop = await b.listen_for_runs(on_run)
    assert stop is not None
    try:

        async def calls_reach(n: int) -> None:
            while len(calls) < n:
                arrived.clear()
                await arrived.wait()

        await asyncio.wait_for(calls_reach(1), 5)  # connected: one catch-up call
        durable = await a.runs.create_run(make_run("t-durable"), if_not_exists="create")
        assert not durable.workers_notified
        quick = await a.runs.create_run(make_run("t-quick"), if_not_exists="create", durable=False)
        assert quick.workers_notified
        await asyncio.wait_for(calls_reach(2), 5)
        again = await a.runs.create_run(make_run("t-quick"), durable=False)  # locked path
        assert again.workers_notified
        await asyncio.wait_for(calls_reach(3), 5)
        # no exact count: the common channel is shared by every schema of the database, so a
        # server another test runs at the same time (pytest -n 2) may add calls of its own
    finally:
        await stop()


async def test_wait_run_is_handed_to_the_worker_whose_offer_it_takes(
    pair: tuple[PostgresStorage, PostgresStorage],
) -> None:
    """A worker's claim that leaves slots free offers them (up to `offers`); each of the next
    /wait runs on a new thread takes one: it is inserted running, leased to that worker, and
    reaches it on its own channel with the run itself. Each offer is used once; runs past them
    are pending until the next claim, which returns the runs that took offers and re-offers."""
    api, worker = pair
    handed: list[Run] = []
    arrived = asyncio.Event()

    def on_assigned(run: Run) -> None:
        handed.append(run)
        if len(handed) == 2:
            arrived.set()

    channel = "threadloom_w_test_" + uuid.uuid4().hex[:8]
    stop = await worker.listen_for_runs(lambda: None, offers=OfferChannel(channel, on_assigned))
    assert stop is not None
    try:
        await asyncio.sleep(0.2)  # the listener connects
        batch = await worker.runs.claim_batch(
            worker_id="w1", limit=3, lease_seconds=30, offer_channel=channel, offers=2
        )
        assert batch.runs == [] and batch.offered == 2
        sent = make_run("t-handed")
        sent.kwargs = {"input": {"n": 1}, "config": {"configurable": {"graph_id": "g"}}}
        first = await api.runs.create_run(sent, if_not_exists="create", durable=False)
        assert first.run.status == "running" and first.run.worker_id == "w1"
        second = await api.runs.create_run(
            make_run("t-second"), if_not_exists="create", durable=False
        )
        assert second.run.status == "running" and second.run.worker_id == "w1"
        await asyncio.wait_for(arrived.wait(), 5)
        run = next(r for r in handed if r.run_id == sent.run_id)
        assert {r.run_id for r in handed} == {sent.run_id, second.run.run_id}
        assert (run.status, run.worker_id, run.attempt) == ("running", "w1", 1)
        assert run.kwargs == sent.kwargs and run.started_at is not None
        assert run.lease_expires_at is not None and run.lease_expires_at > datetime.now(UTC)
        stored = await api.runs.get(sent.run_id)
        assert stored is not None and stored.status == "running" and stored.worker_id == "w1"

        third = await api.runs.create_run(
            make_run("t-third"), if_not_exists="create", durable=False
        )
        assert third.run.status == "pending"  # the offers were used up
        # the next claim returns the handed runs again (the worker dedupes), claims the pending
        # one, and offers the slot still free
        batch = await worker.runs.claim_batch(
            worker_id="w1", limit=4, lease_seconds=30, offer_channel=channel, offers=4
        )
        ids = [r.run_id for r in batch.runs]
        assert set(ids[:2]) == {sent.run_id, second.run.run_id}
        assert ids[2:] == [third.run.run_id] and batch.offered == 1
        fourth = await api.runs.create_run(
            make_run("t-fourth"), if_not_exists="create", durable=False
        )
        assert fourth.run.status == "running"
        # withdrawing names the runs that took offers, for a stopping worker to re-queue
        assert await worker.runs.withdraw_offer(worker_id="w1") == [fourth.run.run_id]
        assert await worker.runs.withdraw_offer(worker_id="w1") == []
    finally:
        await stop()


async def test_a_finishing_run_offers_its_slot_again(
    pair: tuple[PostgresStorage, PostgresStorage],
) -> None:
    """The terminal write of a run puts its slot back on offer (no claim needed): the offer the
    run took is opened again, or — a claim took it back meanwhile, or the run was claimed — a
    new one is posted. Either way exactly one offer per finished run."""
    api, worker = pair
    slot = SlotOffer("w1", "threadloom_w_reopen", 30)
    batch = await worker.runs.claim_batch(
        worker_id="w1", limit=1, lease_seconds=30, offer_channel=slot.channel
    )
    assert batch.offered == 1
    handed = await api.runs.create_run(make_run("t-h"), if_not_exists="create", durable=False)
    assert handed.run.status == "running" and handed.run.worker_id == "w1"
    assert await worker.runs.renew_offer(worker_id="w1", lease_seconds=30) == 0

    done = await worker.runs.finish(
        handed.run.run_id, status="success", stop_reason="end_turn", error=None, offer=slot
    )
    assert done is not None and done.status == "success" and done.ended_at is not None
    assert await worker.runs.renew_offer(worker_id="w1", lease_seconds=30) == 1
    again = await api.runs.create_run(make_run("t-h2"), if_not_exists="create", durable=False)
    assert again.run.status == "running" and again.run.worker_id == "w1"

    # a run that came by claim (no offer row of its own) posts a new offer as it ends
    await api.runs.create_run(make_run("t-q"), if_not_exists="create")
    (claimed,) = (await worker.runs.claim_batch(worker_id="w2", limit=1, lease_seconds=30)).runs
    await worker.runs.finish(
        claimed.run_id,
        status="success",
        stop_reason="end_turn",
        error=None,
        offer=SlotOffer("w2", "threadloom_w_reopen2", 30),
    )
    assert await worker.runs.renew_offer(worker_id="w2", lease_seconds=30) == 1
    # the re-opened row of w1's run: finishing `again` re-opens the row it took
    await worker.runs.finish(
        again.run.run_id, status="success", stop_reason="end_turn", error=None, offer=slot
    )
    assert await worker.runs.renew_offer(worker_id="w1", lease_seconds=30) == 1
    assert await worker.runs.withdraw_offer(worker_id="w1") == []


async def test_offers_need_a_free_slot_and_a_live_worker(
    pair: tuple[PostgresStorage, PostgresStorage],
) -> None:
    """A claim that fills the worker's slots offers nothing; an offer whose worker stopped
    renewing it expires, and runs are then inserted pending for any worker to claim."""
    api, worker = pair
    await api.runs.create_run(make_run("t-queued"), if_not_exists="create")
    full = await worker.runs.claim_batch(
        worker_id="w1", limit=1, lease_seconds=30, offer_channel="threadloom_w_one"
    )
    assert len(full.runs) == 1 and not full.offered
    quick = await api.runs.create_run(make_run("t-a"), if_not_exists="create", durable=False)
    assert quick.run.status == "pending"

    short = await worker.runs.claim_batch(
        worker_id="w2", limit=1, lease_seconds=0.2, offer_channel="threadloom_w_two"
    )
    assert short.runs[0].run_id == quick.run.run_id and not short.offered
    idle = await worker.runs.claim_batch(
        worker_id="w3", limit=1, lease_seconds=0.2, offer_channel="threadloom_w_three"
    )
    assert idle.offered
    assert await worker.runs.renew_offer(worker_id="w3", lease_seconds=0.2) == 1
    await asyncio.sleep(0.4)  # w3 died: no renewal
    late = await api.runs.create_run(make_run("t-late"), if_not_exists="create", durable=False)
    assert late.run.status == "pending" and late.run.worker_id is None
    assert await worker.runs.renew_offer(worker_id="w3", lease_seconds=30) == 0


async def test_worker_pool_takes_wait_runs_back_to_back_without_the_queue(schema: str) -> None:
    """A worker pool on PostgreSQL: each of several stateless /wait runs in a row is handed to
    it at insert — the first by an offer its claim posted, each later one by the offer the
    previous run's terminal write put back — and so is each run of a burst as large as its free
    slots: none of them sits pending on the queue."""
    from tests.support.runtime import FakeRegistry
    from threadloom.runtime.local_broker import LocalBroker
    from threadloom.runtime.worker import WorkerPool
    from threadloom.settings import Settings
    from threadloom.storage import create_storage

    class Count(TypedDict):
        n: int

    def bump(state: Count) -> dict[str, Any]:
        return {"n": state["n"] + 1}

    graph = StateGraph(Count)
    graph.add_node("bump", bump)
    graph.add_edge(START, "bump")
    # heartbeats renew the offers (an UPDATE that locks their rows), and an insert skips a
    # locked offer rather than wait for it: rare heartbeats keep this test about the hand-off
    settings = Settings(
        database_url=require_postgres(), database_schema=schema, workers=4, heartbeat_seconds=5
    )
    storage = create_storage(settings)
    await storage.open()
    broker = LocalBroker(buffer_events=1000, retention_seconds=60)
    pool = WorkerPool(storage, broker, FakeRegistry({"g": graph}), settings, "w-pool")
    try:
        assistant = await storage.assistants.create(
            assistant_id=str(uuid.uuid4()),
            graph_id="g",
            config={},
            context={},
            metadata={},
            name="g",
            description=None,
        )
        await pool.start()
        for _ in range(200):  # its first claim posts the offers
            if await storage.runs.renew_offer(worker_id="w-pool", lease_seconds=30):
                break
            await asyncio.sleep(0.02)
        previous: Run | None = None
        for i in range(4):
            run = make_run(str(uuid.uuid4()))
            run.assistant_id = assistant.assistant_id
            run.temporary = True
            run.kwargs = {"input": {"n": i}, "stream_mode": ["values"]}
            # the previous run's terminal write (which re-offers its slot) has landed once its
            # temporary thread is gone
            for _ in range(200):
                if previous is None or await storage.threads.get(previous.thread_id) is None:
                    break
                await asyncio.sleep(0.02)
            created = await storage.runs.create_run(run, if_not_exists="create", durable=False)
            assert (created.run.status, created.run.worker_id) == ("running", "w-pool"), i
            values = [e.data async for e in broker.read(run.run_id) if e.event == "values"]
            assert orjson.loads(values[-1]) == {"n": i + 1}
            previous = run
        # a burst: each free slot has an offer of its own
        burst = []
        for i in range(3):
            run = make_run(str(uuid.uuid4()))
            run.assistant_id = assistant.assistant_id
            run.temporary = True
            run.kwargs = {"input": {"n": 10 * i}, "stream_mode": ["values"]}
            burst.append(run)
        created_all = await asyncio.gather(
            *(storage.runs.create_run(r, if_not_exists="create", durable=False) for r in burst)
        )
        assert [(c.run.status, c.run.worker_id) for c in created_all] == [("running", "w-pool")] * 3
        for run in burst:
            assert [e async for e in broker.read(run.run_id) if e.event == "values"]
    finally:
        await pool.stop()
        await storage.close()
