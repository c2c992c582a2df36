"""Crons in the cluster shape, where every `serve` and `threadloom worker` process runs the
scheduler: 50 crons due at the same instant make exactly 50 runs across three schedulers; a
worker alone fires them while every API process is down; and a scheduler SIGKILLed in the
middle of a batch (after its claim, before the rest of its inserts: tests/cluster/crash_hook)
loses none of its firings and doubles none — the others fire them once its lease runs out.

Each firing's run id is uuid5 of the cron and its slot (`services.crons.firing`), so "exactly
one run per cron" is checked by id as well as by count. Runs are kept (`on_run_completed:
keep`) so a worker finishing them does not delete what is counted."""

from __future__ import annotations

import asyncio
import os
import signal
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from langgraph_sdk import get_client

from tests.support.cluster import ClusterBackends, WorkerProcess
from tests.support.server import ROOT, TEST_PROJECT, ServerProcess
from threadloom.services.crons import FIRING_NAMESPACE

YEARLY = "0 0 1 1 *"  # after its firing, the next slot is far away
N = 50
LEASE = "3"  # THREADLOOM_CRON_LEASE_SECONDS: a killed scheduler's firings are retried after it
HOOK = Path(__file__).parent / "crash_hook"
START_TIMEOUT = 240.0


@dataclass
class Deployment:
    backends: ClusterBackends
    tmp: Path
    processes: list[ServerProcess | WorkerProcess] = field(default_factory=list)

    def env(self, **extra: str) -> dict[str, str]:
        return {**self.backends.env(workers=0), "THREADLOOM_CRON_LEASE_SECONDS": LEASE, **extra}

    def serve(self, name: str, **extra: str) -> ServerProcess:
        api = ServerProcess(
            TEST_PROJECT, self.tmp / f"{name}.db", command="serve", env=self.env(**extra)
        )
        self.processes.append(api)
        return api

    def worker(self, name: str) -> WorkerProcess:
        env = {**self.env(), "THREADLOOM_WORKERS": "1"}
        worker = WorkerProcess(TEST_PROJECT, self.tmp / f"{name}.log", env)
        self.processes.append(worker)
        return worker

    def sql(self, sql: str, params: tuple[object, ...] = ()) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.backends.pg_url, autocommit=True) as conn:
            conn.execute(f'SET search_path TO "{self.backends.schema}"')
            return conn.execute(sql, params).fetchall()

    async def make_crons(self, url: str, tag: str) -> list[str]:
        """N crons, disabled: made due together by `due_now`."""
        client = get_client(url=url, api_key=None)
        ids = []
        for _ in range(N):
            cron = await client.crons.create(
                "echo",
                schedule=YEARLY,
                enabled=False,
                on_run_completed="keep",
                metadata={"tag": tag},
                input={"messages": [{"role": "user", "content": "hi"}]},
            )
            ids.append(cron["cron_id"])
        await client.http.client.aclose()
        return ids

    def due_now(self, tag: str) -> list[tuple[str, datetime]]:
        """The same instant for all of them, in one statement: (cron_id, slot) each."""
        rows = self.sql(
            "UPDATE crons SET enabled = TRUE, next_run_date = now() - interval '1 second' "
            "WHERE metadata @> %s::jsonb RETURNING cron_id, next_run_date",
            (f'{{"tag": "{tag}"}}',),
        )
        return [(str(r[0]), r[1]) for r in rows]

    def runs_of(self, cron_ids: list[str]) -> list[str]:
        rows = self.sql(
            "SELECT run_id FROM runs WHERE kwargs->'config'->'configurable'->>'cron_id' = ANY(%s)",
            (cron_ids,),
        )
        return sorted(str(r[0]) for r in rows)


@pytest.fixture
def deployment(tmp_path: Path) -> Iterator[Deployment]:
    backends = ClusterBackends.create()
    made = Deployment(backends, tmp_path)
    try:
        yield made
    finally:
        for process in made.processes:
            process.stop()
        backends.cleanup()


def _firing_ids(slots: list[tuple[str, datetime]]) -> list[str]:
    return sorted(
        str(uuid.uuid5(FIRING_NAMESPACE, f"{cid}@{slot.astimezone(UTC).isoformat()}"))
        for cid, slot in slots
    )


async def _until(check: Callable[[], bool], within: float = 60.0) -> None:
    deadline = time.monotonic() + within
    while True:
        if check() or time.monotonic() > deadline:
            return
        await asyncio.sleep(0.2)


def _start_all(starts: list[Callable[..., None]]) -> None:
    """In parallel: each process spends seconds importing LangChain (more on a busy machine)."""
    with ThreadPoolExecutor(len(starts)) as pool:
        for future in [pool.submit(s, timeout=START_TIMEOUT) for s in starts]:
            future.result()


async def test_fifty_due_crons_make_fifty_runs_across_three_schedulers(
    deployment: Deployment,
) -> None:
    # two API processes and a worker: three schedulers claiming the same instant
    apis = [deployment.serve("api-0"), deployment.serve("api-1")]
    worker = deployment.worker("worker")
    _start_all([apis[0].start, apis[1].start, worker.start])
    ids = await deployment.make_crons(apis[1].url, "burst")
    slots = deployment.due_now("burst")
    await _until(lambda: len(deployment.runs_of(ids)) >= N)
    # every scheduler has looked again since (each sleeps at most 5 s): still exactly N
    await asyncio.sleep(6)
    assert deployment.runs_of(ids) == _firing_ids(slots)


async def test_a_worker_alone_fires_the_crons(deployment: Deployment) -> None:
    api = deployment.serve("api")
    worker = deployment.worker("worker")
    _start_all([api.start, worker.start])
    ids = await deployment.make_crons(api.url, "worker-only")
    api.stop()  # no API process: only the worker's scheduler is left
    slots = deployment.due_now("worker-only")
    await _until(lambda: len(deployment.runs_of(ids)) >= N)
    assert deployment.runs_of(ids) == _firing_ids(slots)


async def test_a_scheduler_killed_mid_batch_loses_and_doubles_nothing(
    deployment: Deployment,
) -> None:
    victim = deployment.serve(
        "victim",
        PYTHONPATH=os.pathsep.join([str(HOOK), str(ROOT)]),
        THREADLOOM_TEST_FIRINGS_BEFORE_KILL="10",
    )
    victim.start(timeout=START_TIMEOUT)
    ids = await deployment.make_crons(victim.url, "crash")
    slots = deployment.due_now("crash")
    # the victim, the only scheduler, claims all 50 in one batch, makes 10 runs, and is killed
    # with SIGKILL before its 11th insert: 40 firings claimed (leased) but without a run
    assert victim.proc is not None
    await asyncio.to_thread(victim.proc.wait, 60)
    assert victim.proc.returncode == -signal.SIGKILL
    assert len(deployment.runs_of(ids)) == 10
    leased = deployment.sql(
        'SELECT count(*) FROM crons WHERE metadata @> \'{"tag": "crash"}\'::jsonb '
        "AND lease_until IS NOT NULL AND next_run_date < now()"
    )
    assert leased[0][0] == N - 10  # claimed, not consumed: nothing lost yet
    # two other schedulers (an API process and a worker) take over once the lease runs out
    others = [deployment.serve("api"), deployment.worker("worker")]
    _start_all([p.start for p in others])
    await _until(lambda: len(deployment.runs_of(ids)) >= N)
    await asyncio.sleep(6)  # each has looked again since: no slot fired a second time
    assert deployment.runs_of(ids) == _firing_ids(slots)
