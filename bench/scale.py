"""Scale check on PostgreSQL: 1,000,000 threads and 1,000,000 runs, then thread search by metadata
and run list by thread through the storage layer, p50/p99, with the plans PostgreSQL chose.

    uv run python -m bench.scale [--threads 1000000] [--runs 1000000] [--queries 500]
                                 [--out bench/RESULTS.md] [--keep]

The rows go into a schema of their own (dropped at the end unless --keep), created by the normal
migrations. Loading is server-side `INSERT … SELECT generate_series` with the secondary indexes
dropped first and rebuilt after (their definitions are read back from `pg_indexes`, so what is
measured is exactly the migrations' indexes), then ANALYZE.

Data shape: thread i has metadata {"user": "u<i % 10000>", "tenant": "t<i % 100>", "n": i} —
searches match 1, 100 or 10,000 of the million; runs go 5 each to the first 200,000 threads.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.pg import PG_URL, random_name  # noqa: E402

from bench.cluster import pct  # noqa: E402
from bench.results import write_section  # noqa: E402
from threadloom.storage.postgres.db import Database  # noqa: E402
from threadloom.storage.postgres.storage import PostgresStorage  # noqa: E402

RUNS_PER_THREAD = 5

LOAD_THREADS = """
INSERT INTO threads (thread_id, created_at, updated_at, state_updated_at, metadata, config,
                     status, snapshot_status, state_values, interrupts)
SELECT 'th-' || lpad(i::text, 8, '0'),
       ts, ts, ts,
       jsonb_build_object('user', 'u' || (i %% 10000), 'tenant', 't' || (i %% 100), 'n', i),
       '{}'::jsonb,
       CASE WHEN i %% 50 = 0 THEN 'error' ELSE 'idle' END,
       'idle',
       jsonb_build_object('messages', jsonb_build_array(jsonb_build_object('content', 'hi'))),
       '{}'::jsonb
FROM generate_series(0, %(n)s - 1) AS i,
     LATERAL (SELECT timestamptz '2026-01-01' + i * interval '1 second' AS ts) t
"""
LOAD_RUNS = """
INSERT INTO runs (run_id, thread_id, assistant_id, status, multitask_strategy, metadata, kwargs,
                  created_at, updated_at, started_at, ended_at, attempt, stop_reason)
SELECT 'run-' || lpad(j::text, 8, '0'),
       'th-' || lpad((j / %(per)s)::text, 8, '0'),
       'asst-' || (j %% 10),
       CASE WHEN j %% 20 = 0 THEN 'error' ELSE 'success' END,
       'enqueue',
       jsonb_build_object('j', j),
       '{"input": {"messages": [{"role": "user", "content": "hi"}]}}'::jsonb,
       ts, ts, ts, ts + interval '1 second', 1,
       CASE WHEN j %% 20 = 0 THEN 'error' ELSE 'end_turn' END
FROM generate_series(0, %(n)s - 1) AS j,
     LATERAL (SELECT timestamptz '2026-01-01' + (j / %(per)s) * interval '1 second'
                     + (j %% %(per)s) * interval '1 minute' AS ts) t
"""


async def load(url: str, schema: str, threads: int, runs: int) -> dict[str, float]:
    """Bulk-load with the secondary indexes rebuilt afterwards; returns phase timings."""
    timings: dict[str, float] = {}
    async with await psycopg.AsyncConnection.connect(
        url, autocommit=True, options=f"-c search_path={schema},public"
    ) as conn:
        await conn.execute("SET maintenance_work_mem = '512MB'")
        await conn.execute("SET synchronous_commit = off")
        cur = await conn.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = %s "
            "AND tablename IN ('threads', 'runs') AND indexname NOT LIKE '%%_pkey'",
            (schema,),
        )
        indexes = await cur.fetchall()
        for name, _ in indexes:
            await conn.execute(f'DROP INDEX "{schema}"."{name}"')
        start = time.perf_counter()
        await conn.execute(LOAD_THREADS, {"n": threads})  # type: ignore[arg-type]
        timings["threads"] = time.perf_counter() - start
        start = time.perf_counter()
        await conn.execute(LOAD_RUNS, {"n": runs, "per": RUNS_PER_THREAD})  # type: ignore[arg-type]
        timings["runs"] = time.perf_counter() - start
        start = time.perf_counter()
        for _, definition in indexes:
            await conn.execute(definition)
        timings["indexes"] = time.perf_counter() - start
        start = time.perf_counter()
        await conn.execute("ANALYZE threads")
        await conn.execute("ANALYZE runs")
        timings["analyze"] = time.perf_counter() - start
    return timings


class SqlRecorder:
    """Remembers the last statement the storage layer ran, to EXPLAIN it afterwards."""

    def __init__(self) -> None:
        self.last: list[tuple[str, Any]] = []
        self._orig = (Database.fetchall, Database.fetchone)

    def __enter__(self) -> SqlRecorder:
        fetchall, fetchone = self._orig
        recorder = self

        async def rec_all(db: Database, sql: str, params: Any = None) -> list[dict[str, Any]]:
            recorder.last.append((sql, params))
            return await fetchall(db, sql, params)

        async def rec_one(db: Database, sql: str, params: Any = None) -> dict[str, Any] | None:
            recorder.last.append((sql, params))
            return await fetchone(db, sql, params)

        Database.fetchall = rec_all  # type: ignore[method-assign]
        Database.fetchone = rec_one  # type: ignore[method-assign]
        return self

    def __exit__(self, *exc: object) -> None:
        Database.fetchall, Database.fetchone = self._orig  # type: ignore[method-assign]


async def explain(storage: PostgresStorage, sql: str, params: Any) -> str:
    rows = await storage.db.fetchall(
        "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF, SUMMARY ON) " + sql, params
    )
    return "\n".join(next(iter(r.values())) for r in rows)


async def measure(
    storage: PostgresStorage, name: str, calls: list[Any], plans: dict[str, str]
) -> tuple[str, float, float]:
    for call in calls[:20]:  # warm the cache and the plans
        await call()
    times = []
    for call in calls:
        start = time.perf_counter()
        await call()
        times.append((time.perf_counter() - start) * 1000)
    with SqlRecorder() as recorder:
        await calls[0]()
    plans[name] = "\n\n".join([await explain(storage, sql, p) for sql, p in recorder.last])
    return name, statistics.median(times), pct(times, 0.99)


async def bench(threads: int, runs: int, queries: int, keep: bool) -> tuple[str, str]:
    schema = random_name("bench_scale")
    storage = PostgresStorage(PG_URL, schema=schema, pool_max=4)
    await storage.open()  # migrations: the tables and indexes exactly as deployed
    try:
        started = time.perf_counter()
        timings = await load(PG_URL, schema, threads, runs)
        load_s = time.perf_counter() - started
        rng = random.Random(7)
        search = storage.threads.search
        with_runs = threads and min(threads, runs // RUNS_PER_THREAD)

        def thread_id(i: int) -> str:
            return f"th-{i:08d}"

        cases = {
            "Thread search, metadata matches 1 (`{n: i}`), limit 10": [
                (lambda i=rng.randrange(threads): search(metadata={"n": i}, limit=10))
                for _ in range(queries)
            ],
            "Thread search, metadata matches 100 (`{user}`), limit 10": [
                (lambda u=rng.randrange(10000): search(metadata={"user": f"u{u}"}, limit=10))
                for _ in range(queries)
            ],
            "Thread search, metadata matches 10,000 (`{tenant}`), limit 10": [
                (lambda t=rng.randrange(100): search(metadata={"tenant": f"t{t}"}, limit=10))
                for _ in range(queries)
            ],
            "Thread search, metadata matches 100 + status=error, limit 10": [
                (
                    lambda u=rng.randrange(10000): search(
                        metadata={"user": f"u{u}"}, status="error", limit=10
                    )
                )
                for _ in range(queries)
            ],
            "Thread search, metadata matches nothing, limit 10": [
                (lambda: search(metadata={"user": "nobody"}, limit=10)) for _ in range(queries)
            ],
            "Run list by thread (5 runs), limit 10": [
                (lambda i=rng.randrange(with_runs): storage.runs.list(thread_id(i), limit=10))
                for _ in range(queries)
            ],
            "Run list by thread (no runs), limit 10": [
                (
                    lambda i=rng.randrange(with_runs, threads): storage.runs.list(
                        thread_id(i), limit=10
                    )
                )
                for _ in range(queries)
            ],
        }
        plans: dict[str, str] = {}
        results = [await measure(storage, name, calls, plans) for name, calls in cases.items()]
        sizes = await storage.db.fetchone(
            "SELECT pg_size_pretty(pg_total_relation_size('threads')) AS threads, "
            "pg_size_pretty(pg_total_relation_size('runs')) AS runs"
        )
    finally:
        await storage.close()
        if not keep:
            async with await psycopg.AsyncConnection.connect(PG_URL, autocommit=True) as conn:
                await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')

    assert sizes is not None
    summary = (
        f"{threads:,} threads ({sizes['threads']} with indexes) and {runs:,} runs "
        f"({sizes['runs']}) loaded in {load_s:.0f} s (threads {timings['threads']:.0f} s, runs "
        f"{timings['runs']:.0f} s, index builds {timings['indexes']:.0f} s, analyze "
        f"{timings['analyze']:.0f} s). Each query {queries} times through "
        "`PostgresStorage` (pool → PostgreSQL → rows → records), one at a time.\n\n"
        "| Query | p50 | p99 | Target |\n|---|---|---|---|\n"
        + "\n".join(
            f"| {n} | {p50:.2f} ms | {p99:.2f} ms | p99 ≤ 10 ms |" for n, p50, p99 in results
        )
    )
    plan_text = "\n\n".join(f"**{name}**\n\n```\n{plan}\n```" for name, plan in plans.items())
    return summary, plan_text


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--keep", action="store_true", help="keep the schema (for poking at it)")
    args = parser.parse_args()
    summary, plans = asyncio.run(bench(args.threads, args.runs, args.queries, args.keep))
    command = ("uv run python -m bench.scale " + " ".join(sys.argv[1:])).strip()
    print(summary)
    print(plans)
    if args.out:
        body = (
            "## Cluster: scale (PostgreSQL)\n\n" + summary + f"\n\nCommand: `{command}`\n\n"
            "<details><summary>Query plans (EXPLAIN ANALYZE, BUFFERS)</summary>\n\n"
            + plans
            + "\n\n</details>\n"
        )
        write_section(args.out, "cluster-scale", body)


if __name__ == "__main__":
    main()
