"""Cluster-shape benchmark: one API process + one worker process on PostgreSQL + Redis, measured
against LangGraph in-process with AsyncPostgresSaver on the same database, in one run.

    uv run python -m bench.cluster [--runs 300] [--out bench/RESULTS.md]

Everything lives in throwaway schemas and a random Redis key prefix, removed at the end. The
floor is the bench graph via `ainvoke` on a pooled `AsyncPostgresSaver` — what a user would get
without a server. With --out, the "Cluster" section of the file is replaced (or appended).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import orjson
from langgraph_sdk import get_client

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench" / "project"))

from tests.support.cluster import ClusterBackends, WorkerProcess  # noqa: E402
from tests.support.pg import PG_URL, REDIS_URL, random_name  # noqa: E402
from tests.support.server import ServerProcess  # noqa: E402

from bench.results import machine, write_section  # noqa: E402

PROJECT = ROOT / "bench" / "project" / "langgraph.json"
BEGIN, END = "<!-- cluster:begin -->", "<!-- cluster:end -->"

Row = tuple[str, str, str, str]
WAIT_BODY = orjson.dumps({"assistant_id": "trivial", "input": {"n": 0}})
JSON_HEADERS = {"content-type": "application/json"}


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def timed(n: int, fn: Callable[[], Awaitable[Any]]) -> list[float]:
    out = []
    for _ in range(n):
        start = time.perf_counter()
        await fn()
        out.append((time.perf_counter() - start) * 1000)
    return out


class PostgresFloor:
    """LangGraph alone: the bench graphs on a pooled AsyncPostgresSaver in a schema of its own."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.schema = random_name("bench_floor")

    async def __aenter__(self) -> PostgresFloor:
        from graphs import streamer, trivial
        from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
        from psycopg.rows import dict_row
        from psycopg_pool import AsyncConnectionPool

        kwargs = {
            "autocommit": True,
            "prepare_threshold": 0,
            "row_factory": dict_row,
            "options": f"-c search_path={self.schema},public",
        }
        import psycopg

        async with await psycopg.AsyncConnection.connect(self.url, autocommit=True) as conn:
            await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"')
        self.pool = AsyncConnectionPool(
            self.url, min_size=2, max_size=10, kwargs=kwargs, open=False
        )
        await self.pool.open(wait=True)
        self.saver = AsyncPostgresSaver(self.pool)  # type: ignore[arg-type]
        await self.saver.setup()
        self.trivial = trivial.copy(update={"checkpointer": self.saver})
        self.streamer = streamer.copy(update={"checkpointer": self.saver})
        return self

    async def __aexit__(self, *exc: object) -> None:
        import psycopg

        await self.pool.close()
        async with await psycopg.AsyncConnection.connect(self.url, autocommit=True) as conn:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE')

    async def run_trivial(self) -> Any:
        config = {"configurable": {"thread_id": str(uuid.uuid4())}}
        return await self.trivial.ainvoke({"n": 0}, config)


async def stream_rate(client: Any, events: int, repeat: int) -> tuple[float, float]:
    """Median events/s and first-event ms of a stateless `custom` stream of `events` events
    (at most `stream_buffer_events`, 10,000: a reader further behind skips, by design)."""
    rates, firsts = [], []
    for _ in range(repeat):
        start = time.perf_counter()
        first = None
        count = 0
        async for part in client.runs.stream(
            None, "streamer", input={"events": events}, stream_mode="custom"
        ):
            if part.event == "custom":
                count += 1
                if first is None:
                    first = time.perf_counter() - start
        assert count == events, f"stream lost events: {count} of {events}"
        rates.append(count / (time.perf_counter() - start))
        firsts.append((first or 0) * 1000)
    return statistics.median(rates), statistics.median(firsts)


async def bench(runs: int) -> list[Row]:
    rows: list[Row] = []
    tmp = Path(tempfile.mkdtemp(prefix="threadloom-bench-cluster-"))
    backends = ClusterBackends(PG_URL, REDIS_URL)
    api = ServerProcess(PROJECT, tmp / "api.db", command="serve", env=backends.env(workers=0))
    worker = WorkerProcess(PROJECT, tmp / "worker.log", backends.env())
    client = get_client(url=api.url)
    try:
        api.start(timeout=90)
        worker.start(timeout=90)
        async with PostgresFloor(PG_URL) as floor:
            for _ in range(30):  # warm up both sides (pools, imports, plans)
                await floor.run_trivial()
                await client.runs.wait(None, "trivial", input={"n": 0})

            # 1. idle single-run latency, one at a time, the two sides interleaved run by run
            # (this machine's speed drifts; alternating keeps the comparison fair). The server
            # is driven twice: through the official SDK, and through a lean HTTP client (the
            # same request, without the SDK's thread-pool hops for JSON), which isolates what
            # the server itself adds.
            async with httpx.AsyncClient(base_url=api.url, timeout=60) as lean:

                async def lean_wait() -> Any:
                    response = await lean.post(
                        "/runs/wait", content=WAIT_BODY, headers=JSON_HEADERS
                    )
                    response.raise_for_status()
                    return response.content

                async def sdk_wait() -> Any:
                    return await client.runs.wait(None, "trivial", input={"n": 0})

                for _ in range(30):
                    await lean_wait()
                floor_ms: list[float] = []
                sdk_ms: list[float] = []
                lean_ms: list[float] = []
                # the order rotates: whichever side runs first after a pause pays for waking
                # the idle CPUs (measured ~1 ms here), so no side may always go first
                sides = [(floor_ms, floor.run_trivial), (sdk_ms, sdk_wait), (lean_ms, lean_wait)]
                for i in range(runs):
                    for values, fn in sides[i % 3 :] + sides[: i % 3]:
                        values += await timed(1, fn)
                f50 = statistics.median(floor_ms)
                for label, values in (("official SDK", sdk_ms), ("lean HTTP client", lean_ms)):
                    s50 = statistics.median(values)
                    rows.append(
                        (
                            f"Idle single run, p50 (`/runs/wait`, stateless; {label})",
                            f"{s50:.2f} ms (p99 {pct(values, 0.99):.2f})",
                            f"{f50:.2f} ms (p99 {pct(floor_ms, 0.99):.2f})",
                            f"+{s50 - f50:.2f} ms (target ≤ +5 ms)",
                        )
                    )

                # 2. wait throughput at concurrency 8 vs the floor's sequential throughput, in
                # alternating rounds so both sides see the same machine
                async def concurrently(fn: Callable[[], Awaitable[Any]], n: int) -> None:
                    todo = list(range(n))

                    async def one_client() -> None:
                        while todo:
                            todo.pop()
                            await fn()

                    await asyncio.gather(*(one_client() for _ in range(8)))

                rounds = 4
                per_round = max(runs // rounds, 10)
                spent = {"floor": 0.0, "sdk": 0.0, "lean": 0.0}
                for _ in range(rounds):
                    start = time.perf_counter()
                    for _ in range(per_round):
                        await floor.run_trivial()
                    spent["floor"] += time.perf_counter() - start
                    start = time.perf_counter()
                    await concurrently(sdk_wait, per_round)
                    spent["sdk"] += time.perf_counter() - start
                    start = time.perf_counter()
                    await concurrently(lean_wait, per_round)
                    spent["lean"] += time.perf_counter() - start
                total = rounds * per_round
                floor_rps = total / spent["floor"]
                for label, key in (("official SDK", "sdk"), ("lean HTTP client", "lean")):
                    server_rps = total / spent[key]
                    rows.append(
                        (
                            f"`wait` throughput, concurrency 8 ({label})",
                            f"{server_rps:.0f} runs/s",
                            f"{floor_rps:.0f} runs/s (sequential)",
                            f"{server_rps / floor_rps:.0%} of floor (target ≥ 75%)",
                        )
                    )

            # 3. background run end to end: create through the API, join its stream
            thread = await client.threads.create()

            async def background() -> None:
                run = await client.runs.create(thread["thread_id"], "trivial", input={"n": 0})
                await client.runs.join(thread["thread_id"], run["run_id"])

            bg = await timed(max(runs // 2, 10), background)
            rows.append(
                (
                    "Background run end to end (create + join), p50",
                    f"{statistics.median(bg):.2f} ms",
                    f"{f50:.2f} ms",
                    f"+{statistics.median(bg) - f50:.2f} ms",
                )
            )

            # 4. streams through Redis (worker → Redis Streams → API → SSE → SDK)
            for events, repeat in ((1_000, 10), (10_000, 5)):
                rate, first = await stream_rate(client, events, repeat)
                fs = time.perf_counter()
                async for _ in floor.streamer.astream(
                    {"events": events},
                    {"configurable": {"thread_id": str(uuid.uuid4())}},
                    stream_mode="custom",
                ):
                    pass
                floor_rate = events / (time.perf_counter() - fs)
                rows.append(
                    (
                        f"{events:,}-event custom stream through Redis",
                        f"{rate:,.0f} events/s, first event {first:.2f} ms",
                        f"{floor_rate:,.0f} events/s",
                        "target ≥ 40,000 events/s",
                    )
                )
    finally:
        await client.http.client.aclose()
        worker.stop()
        api.stop()
        backends.cleanup()
    return rows


def render(rows: list[Row], command: str) -> str:
    lines = [
        "| Scenario | Threadloom cluster (1 API + 1 worker) | Floor (LangGraph + AsyncPostgresSaver) "
        "| Result |",
        "|---|---|---|---|",
        *(f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows),
    ]
    return "\n".join(lines) + f"\n\nCommand: `{command}`\n"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    where = machine()
    rows = asyncio.run(bench(args.runs))
    command = ("uv run python -m bench.cluster " + " ".join(sys.argv[1:])).strip()
    table = render(rows, command)
    print(table)
    if args.out:
        body = (
            "## Cluster\n\n"
            "PostgreSQL 15 + Redis on 127.0.0.1; `threadloom serve --workers 0` and "
            f"`threadloom worker` as separate processes ({where}).\n\n" + table
        )
        write_section(args.out, "cluster", body)


if __name__ == "__main__":
    main()
