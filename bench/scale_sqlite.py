"""Thread search on SQLite at 1,000 and 1,000,000 threads: the server's own time per request.

    uv run python -m bench.scale_sqlite [--threads 1000000] [--queries 300] [--out bench/RESULTS.md]

For each size, a fresh `threadloom dev` database is made by the normal migrations and filled in
one transaction with the same statement the store's inserts use (so `thread_metadata_index` is
filled by its triggers, as for threads created through the API). Thread i has metadata
`{"user": "u<i % 10000>", "tenant": "t<i % 100>", "n": i}` (the PostgreSQL scale bench's
shape) and, for the peer scenario, `{"u": i % 100}`. Then the server is started on the file and
`POST /threads/search` is timed by its Server-Timing header (`app;dur`: the request inside the
server, without the client or loopback), p50 and p99, for searches matching 1, 10, 100 and
10,000 threads and for no filter, each `limit=10`.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.server import ServerProcess  # noqa: E402

from bench.results import machine, write_section  # noqa: E402
from threadloom.storage.sqlite import SqliteStorage  # noqa: E402
from threadloom.storage.sqlite.db import jdump  # noqa: E402

PROJECT = ROOT / "bench" / "project" / "langgraph.json"
COLUMNS = (
    "thread_id, created_at, updated_at, state_updated_at, metadata, config, status, "
    "state_values, interrupts, error, ttl_strategy, ttl_minutes, ttl_expires_at, snapshot_status"
)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def load(path: Path, threads: int) -> float:
    storage = SqliteStorage(path)
    await storage.open()  # the migrations
    await storage.close()
    import sqlite3

    start = time.perf_counter()
    conn = sqlite3.connect(path)
    base = int(time.time() * 1_000_000) - threads
    rows = (
        (
            str(uuid.UUID(int=i + 1)),
            base + i,
            base + i,
            base + i,
            jdump({"user": f"u{i % 10000}", "tenant": f"t{i % 100}", "n": i, "u": i % 100}),
            "{}",
            "idle",
            None,
            "{}",
            None,
            None,
            None,
            None,
            "idle",
        )
        for i in range(threads)
    )
    with conn:
        conn.executemany(
            f"INSERT INTO threads ({COLUMNS}) VALUES ({', '.join('?' for _ in range(14))})", rows
        )
    conn.execute("ANALYZE")
    conn.close()
    return time.perf_counter() - start


SEARCHES = {
    "metadata matching 1 (`n`)": lambda n: {"metadata": {"n": n // 2}},
    "metadata matching 10 at 1,000 / 10,000 at 1M (`u`, the peer scenario)": lambda n: {
        "metadata": {"u": 7}
    },
    "metadata matching 100 (`user`)": lambda n: {"metadata": {"user": "u7"}},
    "metadata matching 10,000 at 1M (`tenant`)": lambda n: {"metadata": {"tenant": "t7"}},
    "no filter": lambda n: {},
}


async def measure(url: str, threads: int, queries: int) -> dict[str, tuple[float, float]]:
    out: dict[str, tuple[float, float]] = {}
    async with httpx.AsyncClient(base_url=url, timeout=60) as http:
        await asyncio.sleep(2)  # past the server's start-up work (graphs, sweepers)
        for name, body in SEARCHES.items():
            times: list[float] = []
            for i in range(queries + 100):
                r = await http.post("/threads/search", json={**body(threads), "limit": 10})
                assert r.status_code == 200 and r.json(), (name, r.text[:200])
                if i >= 100:
                    timing = r.headers["server-timing"]
                    times.append(float(timing.split("dur=")[1].split(",")[0]))
            out[name] = (statistics.median(times), pct(times, 0.99))
    return out


async def bench(sizes: list[int], queries: int) -> tuple[str, dict[int, tuple[float, dict]]]:
    where = machine()
    results: dict[int, tuple[float, dict]] = {}
    for threads in sizes:
        tmp = Path(tempfile.mkdtemp(prefix="threadloom-scale-sqlite-"))
        loaded = await load(tmp / "server.db", threads)
        server = ServerProcess(PROJECT, tmp / "server.db")
        server.start()
        try:
            results[threads] = (loaded, await measure(server.url, threads, queries))
        finally:
            server.stop()
    return where, results


def render(where: str, results: dict[int, tuple[float, dict]], cmd: str) -> str:
    sizes = sorted(results)
    head = " | ".join(f"{n:,} threads (loaded in {results[n][0]:.0f} s)" for n in sizes)
    lines = [
        "## Thread search on SQLite: in-server time (Server-Timing)",
        "",
        f"`threadloom dev`, `POST /threads/search` with `limit=10` ({where}). p50 (p99), ms.",
        "",
        f"| search | {head} |",
        "|---|" + "---|" * len(sizes),
    ]
    for name in SEARCHES:
        cells = " | ".join(
            f"{results[n][1][name][0]:.2f} ({results[n][1][name][1]:.2f})" for n in sizes
        )
        lines.append(f"| {name} | {cells} |")
    lines += ["", "Targets (issue 23): ≤ 0.3 ms p50 at 1,000 threads, ≤ 1 ms at 1,000,000.", ""]
    lines.append(f"Command: `{cmd}`")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    where, results = asyncio.run(bench([1000, args.threads], args.queries))
    cmd = f"uv run python -m bench.scale_sqlite --threads {args.threads} --queries {args.queries}"
    text = render(where, results, cmd)
    print(text)
    if args.out:
        write_section(args.out, "scale-sqlite", text)


if __name__ == "__main__":
    main()
