"""Letta `GET /v1/runs/` at scale: is page 1,000 as fast as page 1 (keyset pagination)?

    uv run python -m bench.letta_pages [--runs 100000] [--limit 100] [--out bench/RESULTS.md]

Seeds `--runs` finished runs (over 1,000 threads, one agent) straight into a fresh SQLite file,
starts `threadloom dev` on it, walks every page of the Letta list over HTTP with the SDK's own
cursor rule (`after=<last id>`), then times the first and the last page again (median of
repeats), unfiltered and filtered by agent and status. A LangGraph-style OFFSET read of the same
depth is shown for contrast. Prints a Markdown table; `--out` appends it with the command.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
PROJECT = ROOT / "bench" / "project" / "langgraph.json"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def seed(db_path: Path, runs: int) -> str:
    """Insert `runs` finished runs; returns the agent (system assistant of `trivial`)."""
    from threadloom.graphs.registry import system_assistant_id
    from threadloom.storage.records import Run
    from threadloom.storage.sqlite import SqliteStorage
    from threadloom.storage.sqlite.rows import RUN_COLUMNS, RUN_FIELDS, run_to_row

    assistant = system_assistant_id("trivial")
    storage = SqliteStorage(db_path)
    await storage.open()
    threads = [str(uuid.uuid4()) for _ in range(1000)]
    t0 = datetime(2025, 1, 1, tzinfo=UTC)
    rows = []
    for i in range(runs):
        created = t0 + timedelta(milliseconds=i)
        run = Run(
            run_id=str(uuid.UUID(int=(i + 1) << 64 | uuid.uuid4().int >> 64)),
            thread_id=threads[i % len(threads)],
            assistant_id=assistant,
            status="error" if i % 50 == 0 else "success",
            multitask_strategy="enqueue",
            metadata={"i": i},
            kwargs={"input": {"messages": []}},
            created_at=created,
            updated_at=created,
            started_at=created,
            ended_at=created + timedelta(milliseconds=5),
            stop_reason="error" if i % 50 == 0 else "end_turn",
            background=True,
        )
        rows.append(run_to_row(run))
    now = int(t0.timestamp() * 1_000_000)
    marks = ", ".join("?" for _ in RUN_FIELDS)

    def tx(conn: Any) -> None:
        conn.executemany(
            "INSERT INTO threads (thread_id, created_at, updated_at, state_updated_at, metadata, "
            "config, status, snapshot_status, interrupts) VALUES (?, ?, ?, ?, '{}', '{}', 'idle', "
            "'idle', '{}')",
            [(t, now, now, now) for t in threads],
        )
        conn.executemany(f"INSERT INTO runs ({RUN_COLUMNS}) VALUES ({marks})", rows)

    await storage.db.write(tx)
    await storage.close()
    return assistant


def timed_get(client: httpx.Client, url: str, params: dict[str, Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    response = client.get(url, params=params)
    elapsed = time.perf_counter() - start
    response.raise_for_status()
    return elapsed * 1000, response.json()


def interleaved_medians(
    client: httpx.Client, first: dict[str, Any], last: dict[str, Any], repeat: int
) -> tuple[float, float]:
    """Median latency of two queries measured alternately, so drift hits both alike."""
    a, b = [], []
    for _ in range(repeat):
        a.append(timed_get(client, "/v1/runs/", first)[0])
        b.append(timed_get(client, "/v1/runs/", last)[0])
    return statistics.median(a), statistics.median(b)


def measure(base: str, agent: str, limit: int, repeat: int) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    with httpx.Client(base_url=base, timeout=60) as client:
        for label, extra in (
            ("all runs", {}),
            (
                "agent_id + statuses=completed",
                {"agent_id": f"agent-{agent}", "statuses": "completed"},
            ),
        ):
            cursors: list[str | None] = [None]
            walk_start = time.perf_counter()
            page_times = []
            while True:
                params = {"limit": limit, **extra}
                if cursors[-1]:
                    params["after"] = cursors[-1]
                ms, page = timed_get(client, "/v1/runs/", params)
                page_times.append(ms)
                if not page:
                    break
                cursors.append(page[-1]["id"])
            walk = time.perf_counter() - walk_start
            pages = len(cursors) - 1
            last = cursors[-2]  # the cursor that yields the last non-empty page
            first_ms, last_ms = interleaved_medians(
                client,
                {"limit": limit, **extra},
                {"limit": limit, "after": last, **extra},
                repeat,
            )
            out.append((f"{label}: pages walked (limit {limit})", f"{pages} in {walk:.1f} s"))
            out.append((f"{label}: page 1, median ms", f"{first_ms:.2f}"))
            out.append((f"{label}: page {pages}, median ms", f"{last_ms:.2f}"))
            out.append((f"{label}: page {pages} / page 1", f"{last_ms / first_ms:.2f}"))
    return out


def offset_contrast(db_path: Path, runs: int, limit: int, repeat: int) -> list[tuple[str, str]]:
    """The same depth with OFFSET (what an offset-paged list would cost), straight on SQLite."""
    import sqlite3

    conn = sqlite3.connect(db_path)
    sql = "SELECT run_id FROM runs ORDER BY created_at DESC, run_id DESC LIMIT ? OFFSET ?"
    times = {}
    for offset in (0, max(runs - limit, 0)):
        samples = []
        for _ in range(repeat):
            start = time.perf_counter()
            conn.execute(sql, (limit, offset)).fetchall()
            samples.append((time.perf_counter() - start) * 1000)
        times[offset] = statistics.median(samples)
    conn.close()
    deep = max(runs - limit, 0)
    return [
        ("contrast: OFFSET 0 in SQLite, median ms", f"{times[0]:.2f}"),
        (f"contrast: OFFSET {deep} in SQLite, median ms", f"{times[deep]:.2f}"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--limit", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=21)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "threadloom.db"
        start = time.perf_counter()
        agent = asyncio.run(seed(db, args.runs))
        seeded = time.perf_counter() - start
        port = _free_port()
        log = open(Path(tmp) / "server.log", "wb")
        proc = subprocess.Popen(
            [sys.executable, "-m", "threadloom.cli", "dev", "--port", str(port),
             "--config", str(PROJECT), "--db", str(db)],
            stdout=log, stderr=subprocess.STDOUT, cwd=ROOT, env={**os.environ},
        )  # fmt: skip
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(f"{base}/ok", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise SystemExit((Path(tmp) / "server.log").read_text()[-3000:])
                time.sleep(0.1)
            rows = [("runs seeded", f"{args.runs} in {seeded:.1f} s")]
            rows += measure(base, agent, args.limit, args.repeat)
            rows += offset_contrast(db, args.runs, args.limit, args.repeat)
        finally:
            proc.terminate()
            proc.wait(20)

    command = "uv run python -m bench.letta_pages " + " ".join(sys.argv[1:])
    table = ["| measure | value |", "|---|---|", *(f"| {k} | {v} |" for k, v in rows)]
    text = "\n".join(
        [
            f"## Letta `GET /v1/runs/` keyset pages ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC)",
            "",
            f"Command: `{command.strip()}`",
            "",
            *table,
            "",
        ]
    )
    print(text)
    if args.out:
        with args.out.open("a") as fh:
            fh.write(text + "\n")


if __name__ == "__main__":
    main()
