"""Two `threadloom serve` processes on one PostgreSQL sweep expired threads at the same time:
every thread is swept exactly once (their logs' counts add up to the threads created), and all
of them are gone for the SDK."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from langgraph_sdk import get_client

from tests.support.cluster import ClusterBackends
from tests.support.server import ROOT, ServerProcess

GRAPHS = ROOT / "tests" / "e2e" / "project" / "graphs.py"
THREADS = 40
SWEPT = re.compile(r"TTL sweep: (\d+) threads deleted")


@pytest.fixture(scope="module")
def sweepers(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[list[ServerProcess], ClusterBackends]]:
    folder: Path = tmp_path_factory.mktemp("ttl-sweepers")
    config = folder / "langgraph.json"
    ttl = {"strategy": "delete", "sweep_interval_minutes": 0.003, "sweep_limit": 7}
    config.write_text(
        json.dumps(
            {
                "dependencies": [str(GRAPHS.parent)],
                "graphs": {"echo": f"{GRAPHS}:echo"},
                "checkpointer": {"ttl": ttl},
            }
        )
    )
    backends = ClusterBackends.create()
    env = {**backends.env(), "THREADLOOM_LOG_LEVEL": "info"}
    procs = [
        ServerProcess(config, folder / f"api-{i}.db", command="serve", env=env) for i in range(2)
    ]
    try:
        procs[0].start()
        procs[1].start()
        yield procs, backends
    finally:
        for proc in procs:
            proc.stop()
        backends.cleanup()


async def test_two_sweepers_take_each_expired_thread_once(
    sweepers: tuple[list[ServerProcess], ClusterBackends],
) -> None:
    procs, backends = sweepers
    client = get_client(url=procs[0].url, api_key=None)
    try:
        created = [
            (await client.threads.create(ttl={"strategy": "delete", "ttl": 0.01}))["thread_id"]
            for _ in range(THREADS)
        ]
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with psycopg.connect(backends.pg_url) as conn:
                row = conn.execute(
                    f'SELECT COUNT(*) FROM "{backends.schema}".threads WHERE thread_id = ANY(%s)',
                    (created,),
                ).fetchone()
            if row is not None and row[0] == 0:
                break
            await asyncio.sleep(0.2)
        else:
            raise AssertionError("expired threads were not swept in 30 s")
        assert await client.threads.count() == 0
    finally:
        await client.http.client.aclose()
    counts = [sum(int(n) for n in SWEPT.findall(proc.logs())) for proc in procs]
    assert sum(counts) == THREADS, counts  # none swept twice, none missed
