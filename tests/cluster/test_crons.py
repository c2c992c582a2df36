"""Crons in the cluster shape: three `serve` processes each run the scheduler; 50 crons made
due at the same instant create exactly 50 runs (the claim locks with SKIP LOCKED and advances
`next_run_date` in the same transaction). No worker runs: the runs are counted as created."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from langgraph_sdk import get_client

from tests.support.cluster import ClusterBackends
from tests.support.server import TEST_PROJECT, ServerProcess

YEARLY = "0 0 1 1 *"  # after its firing, the next slot is far away
N = 50


@pytest.fixture(scope="module")
def schedulers(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[ClusterBackends, list[ServerProcess]]]:
    backends = ClusterBackends.create()
    tmp: Path = tmp_path_factory.mktemp("crons")
    apis = [
        ServerProcess(
            TEST_PROJECT, tmp / f"api-{i}.db", command="serve", env=backends.env(workers=0)
        )
        for i in range(3)
    ]
    try:
        apis[0].start(timeout=60)
        for api in apis[1:]:
            api.start(timeout=60)
        yield backends, apis
    finally:
        for api in apis:
            api.stop()
        backends.cleanup()


def _sql(
    backends: ClusterBackends, sql: str, params: tuple[object, ...] = ()
) -> list[tuple[object, ...]]:
    with psycopg.connect(backends.pg_url, autocommit=True) as conn:
        conn.execute(f'SET search_path TO "{backends.schema}"')
        return conn.execute(sql, params).fetchall()


async def test_fifty_due_crons_make_fifty_runs_across_three_schedulers(
    schedulers: tuple[ClusterBackends, list[ServerProcess]],
) -> None:
    backends, apis = schedulers
    client = get_client(url=apis[1].url, api_key=None)
    tag = "burst"
    for _ in range(N):
        await client.crons.create(
            "echo",
            schedule=YEARLY,
            enabled=False,
            metadata={"tag": tag},
            input={"messages": [{"role": "user", "content": "hi"}]},
        )
    # the same instant for all 50, in one statement
    _sql(
        backends,
        "UPDATE crons SET enabled = TRUE, next_run_date = now() - interval '1 second' "
        "WHERE metadata @> %s::jsonb RETURNING cron_id",
        ('{"tag": "burst"}',),
    )
    count_sql = (
        "SELECT count(*) FROM runs WHERE kwargs->'config'->'configurable'->>'cron_id' IN "
        '(SELECT cron_id FROM crons WHERE metadata @> \'{"tag": "burst"}\'::jsonb)'
    )
    deadline = asyncio.get_running_loop().time() + 60
    while True:
        made = _sql(backends, count_sql)[0][0]
        if made >= N or asyncio.get_running_loop().time() > deadline:  # type: ignore[operator]
            break
        await asyncio.sleep(0.2)
    # every scheduler has looked again since (each sleeps at most 5 s): still exactly N
    await asyncio.sleep(6)
    assert _sql(backends, count_sql)[0][0] == N
    await client.http.client.aclose()
