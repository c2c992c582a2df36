"""Thread TTL sweeping under traffic (cluster shape): the `/runs/wait` traffic's latency while
the API's sweeper deletes a backlog of expired threads, against the same traffic with nothing
to sweep, in alternating phases of one run.

    uv run python -m bench.thread_ttl [--threads 100000] [--cycles 3] [--out bench/RESULTS.md]

`threadloom serve --workers 0` + `threadloom worker` on PostgreSQL + Redis, the sweeper every
second (`LANGGRAPH_THREAD_TTL`, default `sweep_limit` 10,000). Each cycle: a baseline phase of
sequential stateless `/wait` requests (lean HTTP client), then `--threads` expired threads are
inserted in one statement, expiring 3 s later (traffic in between is not counted), and the same traffic runs until the sweeper has deleted every one.
The sweep phase's request count sets the baseline's next time. With --out, the "thread-ttl"
section of the file is replaced.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
import orjson
import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.cluster import ClusterBackends, WorkerProcess  # noqa: E402
from tests.support.pg import PG_URL, REDIS_URL  # noqa: E402
from tests.support.server import ServerProcess  # noqa: E402

from bench.auth import pct  # noqa: E402
from bench.results import machine, write_section  # noqa: E402

PROJECT = ROOT / "bench" / "project" / "langgraph.json"
WAIT_BODY = orjson.dumps({"assistant_id": "trivial", "input": {"n": 0}})
SEED = (
    "INSERT INTO threads (thread_id, created_at, updated_at, state_updated_at, status, "
    "snapshot_status, ttl_strategy, ttl_minutes, ttl_expires_at) "
    "SELECT 'ttl-' || %(cycle)s || '-' || g, now(), now(), now(), 'idle', 'idle', 'delete', 1, "
    "now() + interval '3 seconds' FROM generate_series(1, %(n)s) g"
)
LEFT = "SELECT count(*) FROM threads WHERE thread_id LIKE 'ttl-%%'"


async def bench(
    threads: int, cycles: int, sweep_limit: int
) -> tuple[list[float], list[float], list[float]]:
    tmp = Path(tempfile.mkdtemp(prefix="threadloom-bench-ttl-"))
    backends = ClusterBackends(PG_URL, REDIS_URL)
    ttl = {
        "LANGGRAPH_THREAD_TTL": json.dumps(
            {"sweep_interval_minutes": 1 / 60, "sweep_limit": sweep_limit}
        )
    }
    api = ServerProcess(
        PROJECT, tmp / "api.db", command="serve", env={**backends.env(workers=0), **ttl}
    )
    worker = WorkerProcess(PROJECT, tmp / "worker.log", backends.env())
    base_ms: list[float] = []
    sweep_ms: list[float] = []
    sweep_s: list[float] = []
    try:
        api.start(timeout=90)
        worker.start(timeout=90)
        opts = f"-c search_path={backends.schema},public"
        async with (
            await psycopg.AsyncConnection.connect(PG_URL, autocommit=True, options=opts) as db,
            httpx.AsyncClient(base_url=api.url, timeout=60) as http,
        ):

            async def wait() -> float:
                start = time.perf_counter()
                r = await http.post(
                    "/runs/wait", content=WAIT_BODY, headers={"content-type": "application/json"}
                )
                r.raise_for_status()
                return (time.perf_counter() - start) * 1000

            for _ in range(50):
                await wait()
            per_phase = 300
            for cycle in range(cycles):
                base_ms.extend([await wait() for _ in range(per_phase)])
                await db.execute(SEED, {"cycle": cycle, "n": threads})
                # they expire 3 s after the insert: the insert's own aftermath is not the sweep's
                settle = time.perf_counter() + 3
                while time.perf_counter() < settle:
                    await wait()
                start = time.perf_counter()
                done = False
                count = 0
                while not done or count < 100:
                    sweep_ms.append(await wait())
                    count += 1
                    if count % 20 == 0 and not done:
                        left = (await (await db.execute(LEFT)).fetchone())[0]  # type: ignore[index]
                        if left == 0:
                            done = True
                            sweep_s.append(time.perf_counter() - start)
                per_phase = count
    finally:
        worker.stop()
        api.stop()
        backends.cleanup()
    return base_ms, sweep_ms, sweep_s


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=100_000)
    parser.add_argument("--cycles", type=int, default=3)
    parser.add_argument("--sweep-limit", type=int, default=10_000)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    where = machine()
    base, sweep, secs = asyncio.run(bench(args.threads, args.cycles, args.sweep_limit))
    b99, s99 = pct(base, 0.99), pct(sweep, 0.99)
    command = ("uv run python -m bench.thread_ttl " + " ".join(sys.argv[1:])).strip()
    table = "\n".join(
        [
            "| Phase | `/runs/wait` requests | p50 | p99 |",
            "|---|---|---|---|",
            f"| No expired threads | {len(base)} | {statistics.median(base):.2f} ms | {b99:.2f} ms |",
            f"| Sweeping {args.threads:,} expired threads | {len(sweep)} | "
            f"{statistics.median(sweep):.2f} ms | {s99:.2f} ms |",
        ]
    )
    table += (
        f"\n\np99 change: {(s99 / b99 - 1):+.0%} (target < 20 %); each backlog swept in "
        + ", ".join(f"{s:.1f} s" for s in secs)
        + f" (`sweep_limit` {args.sweep_limit:,}; at most 1,000 threads per transaction).\n\nCommand: `{command}`\n"
    )
    print(table)
    if args.out:
        body = (
            "## Thread TTL sweep under traffic (cluster)\n\n"
            "`threadloom serve --workers 0` + `threadloom worker` on PostgreSQL + Redis, the "
            f"API's sweeper every second ({where}).\n\n" + table
        )
        write_section(args.out, "thread-ttl", body)


if __name__ == "__main__":
    main()
