"""The dashboard's views at scale: server-side time of each view's API call, p50/p99.

    uv run python -m bench.dashboard --backend sqlite [--runs 100000] [--recent 3600]
    uv run python -m bench.dashboard --backend postgres [--runs 1000000] [--recent 3600]
                                     [--repeat 200] [--out bench/RESULTS.md]

Rows are bulk-inserted straight into storage (SQLite: executemany of full run rows into a fresh
file; PostgreSQL: `bench.scale`'s server-side `INSERT … SELECT` into a schema of its own, dropped
at the end), five runs a thread, one in twenty an error. `--recent` of them are moved into the
last hour (the overview's window) with usage and a first token, the rest are older. Then the real
server starts on the data (`threadloom dev`, or `threadloom serve` with Redis, no workers) and
every view is requested `--repeat` times over HTTP, views interleaved so drift hits all alike.
The time reported is the server's own (`Server-Timing: app;dur`), the request's time inside the
process: what the page waits for, less the network.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.server import ServerProcess  # noqa: E402

from bench.results import machine, write_section  # noqa: E402

PROJECT = ROOT / "bench" / "project" / "langgraph.json"
PER_THREAD = 5


def cursor(created_at: datetime, run_id: str) -> str:
    raw = f"{created_at.isoformat()}|{run_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


async def seed_sqlite(db: Path, runs: int, recent: int) -> dict[str, Any]:
    from threadloom.storage.records import Run
    from threadloom.storage.sqlite import SqliteStorage
    from threadloom.storage.sqlite.rows import RUN_COLUMNS, RUN_FIELDS, run_to_row

    storage = SqliteStorage(db)
    await storage.open()
    now = datetime.now(UTC)
    old0 = now - timedelta(days=30)
    threads = [str(uuid.UUID(int=i + 1)) for i in range(runs // PER_THREAD + 1)]
    rows = []
    middle: tuple[datetime, str] | None = None
    for j in range(runs):
        is_recent = j >= runs - recent
        if is_recent:
            created = now - timedelta(seconds=3600 * (runs - j) / max(recent, 1))
        else:
            created = old0 + timedelta(milliseconds=j * 10)
        run_id = str(uuid.UUID(int=(j + 1) << 64 | uuid.uuid4().int >> 64))
        error = j % 20 == 0
        run = Run(
            run_id=run_id,
            thread_id=threads[j // PER_THREAD],
            assistant_id=f"asst-{j % 10}",
            status="error" if error else "success",
            multitask_strategy="enqueue",
            metadata={"j": j},
            kwargs={"input": {"messages": [{"role": "user", "content": "hi"}]}},
            created_at=created,
            updated_at=created,
            started_at=created + timedelta(milliseconds=2),
            ended_at=created + timedelta(milliseconds=200 + j % 300),
            first_token_at=created + timedelta(milliseconds=50 + j % 100) if is_recent else None,
            usage={"input_tokens": 20, "output_tokens": j % 50} if is_recent else {},
            stop_reason="error" if error else "end_turn",
            error={"type": "ValueError", "message": "boom"} if error else None,
        )
        if j == runs // 2:
            middle = (created, run_id)
        rows.append(run_to_row(run))
    us = int(now.timestamp() * 1_000_000)
    marks = ", ".join("?" for _ in RUN_FIELDS)

    def tx(conn: Any) -> None:
        conn.executemany(
            "INSERT INTO threads (thread_id, created_at, updated_at, state_updated_at, metadata, "
            "config, status, snapshot_status, interrupts) VALUES (?, ?, ?, ?, '{}', '{}', 'idle', "
            "'idle', '{}')",
            [(t, us, us, us) for t in threads],
        )
        conn.executemany(f"INSERT INTO runs ({RUN_COLUMNS}) VALUES ({marks})", rows)
        conn.execute("ANALYZE")

    await storage.db.write(tx)
    await storage.close()
    assert middle is not None
    last = run_to_row_id(rows[-1])
    return {"middle": middle, "run_id": last, "thread_id": threads[(runs - 1) // PER_THREAD]}


def run_to_row_id(row: tuple[Any, ...]) -> str:
    return str(row[0])


SHIFT_RECENT = """
UPDATE runs SET created_at = now() - (%(n)s - 1 - j) * interval '1 second' * 3600 / %(recent)s,
                started_at = now() - (%(n)s - 1 - j) * interval '1 second' * 3600 / %(recent)s
                             + interval '2 ms',
                ended_at = now() - (%(n)s - 1 - j) * interval '1 second' * 3600 / %(recent)s
                           + interval '200 ms' + (j %% 300) * interval '1 ms',
                first_token_at = now() - (%(n)s - 1 - j) * interval '1 second' * 3600 / %(recent)s
                                 + interval '50 ms' + (j %% 100) * interval '1 ms',
                usage = jsonb_build_object('input_tokens', 20, 'output_tokens', j %% 50)
FROM (SELECT run_id AS rid, substr(run_id, 5)::int AS j FROM runs
      WHERE run_id >= 'run-' || lpad((%(n)s - %(recent)s)::text, 8, '0')) AS pick
WHERE runs.run_id = pick.rid
"""


async def seed_postgres(url: str, schema: str, runs: int, recent: int) -> dict[str, Any]:
    import psycopg

    from bench.scale import load
    from threadloom.storage.postgres.storage import PostgresStorage

    storage = PostgresStorage(url, schema=schema, pool_max=2)
    await storage.open()  # the migrations: tables and indexes as deployed
    await storage.close()
    await load(url, schema, runs // PER_THREAD, runs)
    async with await psycopg.AsyncConnection.connect(
        url, autocommit=True, options=f"-c search_path={schema},public"
    ) as conn:
        await conn.execute(SHIFT_RECENT, {"n": runs, "recent": recent})  # type: ignore[arg-type]
        await conn.execute("ANALYZE runs")
        cur = await conn.execute(
            "SELECT created_at, run_id FROM runs WHERE run_id = %s",
            (f"run-{runs // 2:08d}",),
        )
        middle = await cur.fetchone()
    assert middle is not None
    last = runs - 1
    return {
        "middle": (middle[0], middle[1]),
        "run_id": f"run-{last:08d}",
        "thread_id": f"th-{last // PER_THREAD:08d}",
    }


def views(seeded: dict[str, Any]) -> dict[str, tuple[str, dict[str, Any]]]:
    created, run_id = seeded["middle"]
    cases: dict[str, tuple[str, dict[str, Any]]] = {
        "Overview (last hour)": ("/dashboard/api/overview", {}),
        "Runs, page 1 (50)": ("/dashboard/api/runs", {}),
        "Runs, a page half-way down (keyset cursor)": (
            "/dashboard/api/runs",
            {"cursor": cursor(created, run_id)},
        ),
        "Runs, status=error": ("/dashboard/api/runs", {"status": "error"}),
        "Runs, one assistant": ("/dashboard/api/runs", {"assistant_id": "asst-3"}),
        "Runs, one thread": ("/dashboard/api/runs", {"thread_id": seeded["thread_id"]}),
        "Runs, created before a time": (
            "/dashboard/api/runs",
            {"created_before": created.isoformat()},
        ),
        "Run detail": (f"/dashboard/api/runs/{seeded['run_id']}", {}),
        "The page itself (/dashboard)": ("/dashboard", {}),
        "Reference: `GET /ok` (the server's floor)": ("/ok", {}),
    }
    try:  # the API's own run list (a thread's runs), where the ids are the API's (UUIDs)
        uuid.UUID(seeded["thread_id"])
    except ValueError:
        return cases
    cases["Reference: `GET /threads/{id}/runs` (the API's run list)"] = (
        f"/threads/{seeded['thread_id']}/runs",
        {"limit": 50},
    )
    return cases


def server_ms(response: httpx.Response) -> float:
    timing = response.headers["server-timing"]
    return float(timing.split("dur=", 1)[1].split(";")[0])


def measure(
    base: str, cases: dict[str, tuple[str, dict[str, Any]]], repeat: int
) -> list[tuple[str, float, float]]:
    samples: dict[str, list[float]] = {name: [] for name in cases}
    with httpx.Client(base_url=base, timeout=60) as client:
        for path, params in cases.values():  # warm: plans, caches, the pool
            for _ in range(3):
                client.get(path, params=params).raise_for_status()
        for _ in range(repeat):
            for name, (path, params) in cases.items():
                response = client.get(path, params=params)
                response.raise_for_status()
                samples[name].append(server_ms(response))
    out = []
    for name, values in samples.items():
        values.sort()
        p99 = values[min(len(values) - 1, int(len(values) * 0.99))]
        out.append((name, statistics.median(values), p99))
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--backend", choices=("sqlite", "postgres"), required=True)
    parser.add_argument("--runs", type=int)
    parser.add_argument("--recent", type=int, default=3600)
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    runs = args.runs or (100_000 if args.backend == "sqlite" else 1_000_000)
    when = machine()
    tmp = Path(tempfile.mkdtemp(prefix="bench-dashboard-"))
    backends = None
    start = time.perf_counter()
    if args.backend == "sqlite":
        db = tmp / "threadloom.db"
        seeded = asyncio.run(seed_sqlite(db, runs, args.recent))
        server = ServerProcess(PROJECT, db, env={"THREADLOOM_WORKERS": "0"})
    else:
        from tests.support.cluster import ClusterBackends

        backends = ClusterBackends.create()
        seeded = asyncio.run(seed_postgres(backends.pg_url, backends.schema, runs, args.recent))
        server = ServerProcess(
            PROJECT, tmp / "unused.db", command="serve", env=backends.env(workers=0)
        )
    load_s = time.perf_counter() - start
    try:
        server.start()
        results = measure(server.url, views(seeded), args.repeat)
    finally:
        server.stop()
        if backends is not None:
            backends.cleanup()
    name = (
        "SQLite (embedded, `threadloom dev`)"
        if args.backend == "sqlite"
        else ("PostgreSQL (cluster, `threadloom serve` + Redis)")
    )
    table = (
        f"### {name}: {runs:,} runs, {args.recent:,} of them in the last hour\n\n"
        f"{when}; seeded in {load_s:.0f} s; each view {args.repeat} times, interleaved.\n\n"
        "| View (API call) | server p50 | server p99 | target p50 |\n|---|---|---|---|\n"
        + "\n".join(
            f"| {n} | {p50:.2f} ms | {p99:.2f} ms | {'' if n.startswith('Reference') else '≤ 20 ms'} |"
            for n, p50, p99 in results
        )
        + f"\n\nCommand: `uv run python -m bench.dashboard --backend {args.backend} --runs {runs}"
        f" --recent {args.recent} --repeat {args.repeat} --out bench/RESULTS.md`\n"
    )
    print(table)
    if args.out:
        write_section(args.out, f"dashboard-{args.backend}", table)


if __name__ == "__main__":
    main()
