"""The cron scheduler with 10,000 enabled crons, both shapes: its CPU when nothing is due, and
the lag from a firing's due time to its run being created.

    uv run python -m bench.crons [--crons 10000] [--firing 1000] [--idle 30] [--out bench/RESULTS.md]

Embedded: `threadloom dev` (SQLite, in-process workers). Cluster: `threadloom serve --workers 0`
+ `threadloom worker` on PostgreSQL + Redis — both processes run the scheduler.

1. Idle CPU, before and after: the server's processes' CPU time (utime + stime from /proc) over
   `--idle` seconds with no crons, then again once `--crons` enabled crons exist, all due next
   New Year (created through the API, concurrency 8). The difference is what 10,000 waiting
   crons cost the schedulers; the first number is the server's own idle loops.
2. Lag: `--firing` of those crons are PATCHed to fire every minute at second `i % 60` (about
   17 a second), and after one minute every run they made is read from the database: lag is
   the run's `created_at` minus the slot it was made for (the latest second `i % 60` at or
   before it). The workers execute the runs meanwhile (the `trivial` graph).

With --out, the "crons" section of the file is replaced.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.cluster import ClusterBackends, WorkerProcess  # noqa: E402
from tests.support.pg import PG_URL, REDIS_URL  # noqa: E402
from tests.support.server import ServerProcess  # noqa: E402

from bench.auth import pct  # noqa: E402
from bench.results import machine, write_section  # noqa: E402

PROJECT = ROOT / "bench" / "project" / "langgraph.json"
YEARLY = "0 0 1 1 *"
TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids: list[int]) -> float:
    """utime + stime of these processes (all their threads), in seconds."""
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return total / TICK


async def idle_cpu(pids: list[int], seconds: float) -> float:
    """CPU seconds per wall second of `pids` over `seconds` of nothing asked of them."""
    start_cpu, start = cpu_seconds(pids), time.monotonic()
    await asyncio.sleep(seconds)
    return (cpu_seconds(pids) - start_cpu) / (time.monotonic() - start)


async def create_crons(http: httpx.AsyncClient, count: int) -> list[str]:
    ids: list[str] = []
    queue = list(range(count))

    async def one() -> None:
        while queue:
            queue.pop()
            r = await http.post(
                "/runs/crons",
                json={
                    "assistant_id": "trivial",
                    "schedule": YEARLY,
                    "input": {"n": 0},
                    "on_run_completed": "keep",
                },
            )
            r.raise_for_status()
            ids.append(r.json()["cron_id"])

    await asyncio.gather(*(one() for _ in range(8)))
    return ids


async def fire_every_minute(http: httpx.AsyncClient, ids: list[str]) -> dict[str, int]:
    """PATCH each cron to fire at second `i % 60` of every minute; cron_id → that second."""
    seconds = {cid: i % 60 for i, cid in enumerate(ids)}
    pending = list(ids)

    async def one() -> None:
        while pending:
            cid = pending.pop()
            r = await http.patch(
                f"/runs/crons/{cid}", json={"schedule": f"* * * * * {seconds[cid]}"}
            )
            r.raise_for_status()

    await asyncio.gather(*(one() for _ in range(8)))
    return seconds


def _mine(rows: list[tuple[datetime, str]], seconds: dict[str, int]) -> list[tuple[datetime, str]]:
    return [(created, cid) for created, cid in rows if cid in seconds]


def lags_ms(rows: list[tuple[datetime, str]], seconds: dict[str, int]) -> list[float]:
    out = []
    for created, cid in rows:
        slot = created.replace(second=seconds[cid], microsecond=0)
        if slot > created:
            slot -= timedelta(minutes=1)
        out.append((created - slot).total_seconds() * 1000)
    return out


async def scenario(
    name: str,
    pids: Callable[[], list[int]],
    url: str,
    runs: Callable[[], list[tuple[datetime, str]]],
    crons: int,
    firing: int,
    idle: float,
) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=url, timeout=60) as http:
        await asyncio.sleep(5)  # start-up's own work settles
        before = await idle_cpu(pids(), idle)
        start = time.monotonic()
        ids = await create_crons(http, crons)
        created_s = time.monotonic() - start
        await asyncio.sleep(5)
        after = await idle_cpu(pids(), idle)
        seconds = await fire_every_minute(http, ids[:firing])
        quiet = datetime.now(UTC) + timedelta(seconds=1)  # the PATCH traffic is over
        await asyncio.sleep(62)  # every one of them fires once (a few twice)
        rows = _mine(runs(), seconds)
        lags = lags_ms(rows, seconds)
        steady = [lag for (at, _), lag in zip(rows, lags, strict=True) if at > quiet]
        if os.environ.get("BENCH_DEBUG"):
            timeline = sorted(zip((r[0] for r in rows), lags, strict=True))
            for at, lag in timeline[:: max(1, len(timeline) // 40)]:
                print(at.strftime("%H:%M:%S.%f"), f"{lag:.0f}")
    fired = len(lags)
    print(
        f"{name}: idle {before:.4f} → {after:.4f} CPU s/s; {fired} firings, p99 {pct(lags, 0.99):.1f} ms"
    )
    return {
        "name": name,
        "created_s": created_s,
        "before": before,
        "after": after,
        "fired": fired,
        "p50": pct(lags, 0.5),
        "p99": pct(lags, 0.99),
        "max": max(lags) if lags else float("nan"),
        "steady_fired": len(steady),
        "steady_p50": pct(steady, 0.5),
        "steady_p99": pct(steady, 0.99),
        "steady_max": max(steady) if steady else float("nan"),
    }


def _us(value: int) -> datetime:
    return datetime.fromtimestamp(value / 1_000_000, UTC)


async def embedded(crons: int, firing: int, idle: float) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="threadloom-bench-crons-"))
    db = tmp / "crons.db"
    server = ServerProcess(PROJECT, db, command="dev")
    server.start(timeout=90)

    def runs() -> list[tuple[datetime, str]]:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
            rows = conn.execute(
                "SELECT created_at, json_extract(kwargs, '$.config.configurable.cron_id') FROM runs"
            ).fetchall()
        return [(_us(c), cid) for c, cid in rows if cid]

    try:
        assert server.proc is not None
        pid = server.proc.pid
        return await scenario(
            "Embedded (SQLite)", lambda: [pid], server.url, runs, crons, firing, idle
        )
    finally:
        server.stop()


async def cluster(crons: int, firing: int, idle: float) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="threadloom-bench-crons-"))
    backends = ClusterBackends(PG_URL, REDIS_URL)
    api = ServerProcess(PROJECT, tmp / "api.db", command="serve", env=backends.env(workers=0))
    worker = WorkerProcess(PROJECT, tmp / "worker.log", backends.env())

    # opened first: on a shared PostgreSQL the connections may all be taken by the end
    conn = psycopg.connect(
        PG_URL, autocommit=True, options=f"-c search_path={backends.schema},public"
    )

    def runs() -> list[tuple[datetime, str]]:
        rows = conn.execute(
            "SELECT created_at, kwargs->'config'->'configurable'->>'cron_id' FROM runs"
        ).fetchall()
        return [(c, cid) for c, cid in rows if cid]

    try:
        api.start(timeout=90)
        worker.start(timeout=90)
        assert api.proc is not None
        pids = [api.proc.pid, worker.pid]
        return await scenario(
            "Cluster (serve + worker)", lambda: pids, api.url, runs, crons, firing, idle
        )
    finally:
        conn.close()
        worker.stop()
        api.stop()
        backends.cleanup()


def report(results: list[dict[str, Any]], args: argparse.Namespace, started: str) -> str:
    lines = [
        f"## Crons: the scheduler with {args.crons:,} enabled crons",
        "",
        f"{started}. {args.crons:,} enabled crons created through the API; idle CPU is the "
        f"server processes' CPU time over {args.idle:g} s (/proc utime + stime) with no crons, "
        f"then with all {args.crons:,} waiting (due next New Year). Lag: {args.firing:,} of "
        "them PATCHed to fire every minute at second `i % 60` (~17 firings a second, workers "
        "executing the runs), one minute of firings; lag = run `created_at` minus its slot.",
        "",
        f"| Shape | crons created | idle CPU, no crons | idle CPU, {args.crons:,} crons "
        "| lag p50 / p99 / max, all firings | lag p50 / p99 / max, after the PATCHes | Target |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r['name']} | {args.crons:,} in {r['created_s']:.1f} s "
            f"| {r['before'] * 100:.2f}% of a core | {r['after'] * 100:.2f}% of a core "
            f"| {r['fired']:,}: {r['p50']:.0f} / {r['p99']:.0f} / {r['max']:.0f} ms "
            f"| {r['steady_fired']:,}: {r['steady_p50']:.0f} / {r['steady_p99']:.0f} / "
            f"{r['steady_max']:.0f} ms | idle ≈ 0, p99 ≤ 1 s |"
        )
    lines += [
        "",
        "The first lag column counts every firing of the minute, including those while the "
        f"{args.firing:,} PATCHes (concurrency 8) were still being served by the same API "
        "process; the second only the firings after the last PATCH.",
        "",
        "Command: `uv run python -m bench.crons --out bench/RESULTS.md`",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--crons", type=int, default=10_000)
    parser.add_argument("--firing", type=int, default=1_000)
    parser.add_argument("--idle", type=float, default=30.0)
    parser.add_argument("--shape", choices=["both", "embedded", "cluster"], default="both")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    started = machine()
    results = []
    if args.shape in ("both", "embedded"):
        results.append(asyncio.run(embedded(args.crons, args.firing, args.idle)))
    if args.shape in ("both", "cluster"):
        results.append(asyncio.run(cluster(args.crons, args.firing, args.idle)))
    text = report(results, args, started)
    print(text)
    print(json.dumps(results, default=str))
    if args.out:
        write_section(args.out, "crons", text)


if __name__ == "__main__":
    main()
