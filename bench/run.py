"""Threadloom benchmark: the server measured against LangGraph in-process, in one run.

    uv run python -m bench.run [--runs 200] [--out bench/RESULTS.md]

Starts `threadloom dev` on a free port with bench/project (embedded SQLite), drives it with the
official async SDK, and measures the floor — the same graph via `ainvoke` with the same kind of
checkpointer (LangGraph's SqliteSaver on a file, as the server uses it) — in the same run, so the ratios hold even on a
noisy machine. Prints a Markdown table and, with --out, writes it with the command used.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from langgraph_sdk import get_client

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench" / "project"))

from tests.support.server import ServerProcess  # noqa: E402

from bench.results import machine, write_section  # noqa: E402

PROJECT = ROOT / "bench" / "project" / "langgraph.json"


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def proc_cpu_seconds(pid: int) -> float:
    """utime + stime of a process, from /proc (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


async def timed(n: int, fn: Callable[[], Awaitable[Any]]) -> list[float]:
    out = []
    for _ in range(n):
        start = time.perf_counter()
        await fn()
        out.append((time.perf_counter() - start) * 1000)
    return out


class Floor:
    """LangGraph alone: the bench graphs with AsyncSqliteSaver, no server."""

    def __init__(self, path: Path) -> None:
        self.path = path

    async def __aenter__(self) -> Floor:
        import sqlite3

        from graphs import sleeper, streamer, trivial

        from threadloom.storage.sqlite.inline import InlineSqliteSaver

        # the same checkpointer the embedded server uses: LangGraph's SqliteSaver, called inline
        self.conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.saver = InlineSqliteSaver(self.conn)
        self.saver.setup()
        self.trivial = trivial.copy(update={"checkpointer": self.saver})
        self.sleeper = sleeper.copy(update={"checkpointer": self.saver})
        self.streamer = streamer.copy(update={"checkpointer": self.saver})
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.conn.close()

    async def run_trivial(self) -> Any:
        config = {"configurable": {"thread_id": str(uuid.uuid4())}}
        return await self.trivial.ainvoke({"n": 0}, config)


async def bench(runs: int) -> list[tuple[str, str, str, str]]:
    rows: list[tuple[str, str, str, str]] = []
    tmp = Path(tempfile.mkdtemp(prefix="threadloom-bench-"))
    server = ServerProcess(PROJECT, tmp / "server.db")
    server.start()
    client = get_client(url=server.url)
    try:
        async with Floor(tmp / "floor.db") as floor:
            # warm up both sides
            for _ in range(20):
                await floor.run_trivial()
                await client.runs.wait(None, "trivial", input={"n": 0})

            # 1. idle single-run latency (stateless wait, one at a time)
            # interleaved, one of each in turn, so drift on a shared machine hits both alike
            floor_ms, server_ms = [], []
            for _ in range(runs):
                floor_ms += await timed(1, floor.run_trivial)
                server_ms += await timed(
                    1, lambda: client.runs.wait(None, "trivial", input={"n": 0})
                )
            f50, s50 = statistics.median(floor_ms), statistics.median(server_ms)
            rows.append(
                (
                    "Idle single run, p50 (`runs.wait`, stateless)",
                    f"{s50:.2f} ms (p99 {pct(server_ms, 0.99):.2f})",
                    f"{f50:.2f} ms",
                    f"+{s50 - f50:.2f} ms (target ≤ +3 ms)",
                )
            )

            # 2. server CPU per trivial run vs the floor's
            cpu0 = proc_cpu_seconds(server.proc.pid)  # type: ignore[union-attr]
            await timed(runs, lambda: client.runs.wait(None, "trivial", input={"n": 0}))
            server_cpu = (proc_cpu_seconds(server.proc.pid) - cpu0) / runs * 1000  # type: ignore[union-attr]
            c0 = time.process_time()
            await timed(runs, floor.run_trivial)
            floor_cpu = (time.process_time() - c0) / runs * 1000
            rows.append(
                (
                    "Server CPU per trivial run",
                    f"{server_cpu:.2f} ms",
                    f"{floor_cpu:.2f} ms",
                    f"+{server_cpu - floor_cpu:.2f} ms (target ≤ +1.5 ms)",
                )
            )

            # 3. wait throughput at concurrency 8 vs floor sequential throughput
            start = time.perf_counter()
            for _ in range(runs):
                await floor.run_trivial()
            floor_rps = runs / (time.perf_counter() - start)
            queue: asyncio.Queue[int] = asyncio.Queue()
            for i in range(runs):
                queue.put_nowait(i)

            async def worker() -> None:
                while not queue.empty():
                    queue.get_nowait()
                    await client.runs.wait(None, "trivial", input={"n": 0})

            start = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(8)))
            server_rps = runs / (time.perf_counter() - start)
            rows.append(
                (
                    "`wait` throughput, concurrency 8",
                    f"{server_rps:.0f} runs/s",
                    f"{floor_rps:.0f} runs/s (sequential)",
                    f"{server_rps / floor_rps:.0%} of floor (target ≥ 75%)",
                )
            )

            # 4. background end to end: create, then join
            thread = await client.threads.create()

            async def background() -> None:
                run = await client.runs.create(thread["thread_id"], "trivial", input={"n": 0})
                await client.runs.join(thread["thread_id"], run["run_id"])

            bg = await timed(runs // 2, background)
            rows.append(
                (
                    "Background run end to end (create + join), p50",
                    f"{statistics.median(bg):.2f} ms",
                    f"{f50:.2f} ms",
                    f"+{statistics.median(bg) - f50:.2f} ms",
                )
            )

            # 5. 1000-event custom stream
            rates, firsts = [], []
            for _ in range(10):
                start = time.perf_counter()
                first = None
                count = 0
                async for part in client.runs.stream(
                    None, "streamer", input={"events": 1000}, stream_mode="custom"
                ):
                    if part.event == "custom":
                        count += 1
                        if first is None:
                            first = time.perf_counter() - start
                elapsed = time.perf_counter() - start
                rates.append(count / elapsed)
                firsts.append((first or 0) * 1000)
            fs = time.perf_counter()
            async for _ in floor.streamer.astream(
                {"events": 1000},
                {"configurable": {"thread_id": str(uuid.uuid4())}},
                stream_mode="custom",
            ):
                pass
            floor_rate = 1000 / (time.perf_counter() - fs)
            rows.append(
                (
                    "1000-event custom stream",
                    f"{statistics.median(rates):,.0f} events/s, first event {statistics.median(firsts):.2f} ms",
                    f"{floor_rate:,.0f} events/s",
                    "target ≥ 60,000 events/s, first ≤ 5 ms",
                )
            )

            # 6. 200 I/O-bound runs (0.5 s each) created at once
            threads = [await client.threads.create() for _ in range(200)]
            start = time.perf_counter()
            created = await asyncio.gather(
                *(
                    client.runs.create(t["thread_id"], "sleeper", input={"seconds": 0.5})
                    for t in threads
                )
            )
            await asyncio.gather(*(client.runs.join(r["thread_id"], r["run_id"]) for r in created))
            total = time.perf_counter() - start
            rows.append(
                (
                    "200 x 0.5 s sleeping runs, all done",
                    f"{total:.2f} s",
                    "0.50 s (ideal)",
                    "target ≤ 0.8 s",
                )
            )

            # 7. thread search and run list latency: SDK round trip, and the server's own
            # share from its Server-Timing header (httpx alone costs ~0.8 ms per request here)
            server_side: list[float] = []

            async def record(response: Any) -> None:
                timing = response.headers.get("server-timing", "")
                if "dur=" in timing:
                    server_side.append(float(timing.split("dur=", 1)[1]))

            client.http.client.event_hooks["response"].append(record)
            search = await timed(runs, lambda: client.threads.search(limit=10))
            search_server, server_side[:] = list(server_side), []
            listing = await timed(runs, lambda: client.runs.list(thread["thread_id"], limit=10))
            list_server = list(server_side)
            client.http.client.event_hooks["response"].remove(record)
            rows.append(
                (
                    "Thread search / run list, p50 in the server (Server-Timing)",
                    f"{statistics.median(search_server):.2f} ms / "
                    f"{statistics.median(list_server):.2f} ms",
                    "—",
                    "target ≤ 1 ms each",
                )
            )
            rows.append(
                (
                    "Thread search / run list, p50 SDK round trip",
                    f"{statistics.median(search):.2f} ms / {statistics.median(listing):.2f} ms",
                    "—",
                    "includes the SDK's own cost",
                )
            )
    finally:
        await client.http.client.aclose()
        server.stop()
    return rows


def render(rows: list[tuple[str, str, str, str]], command: str, where: str) -> str:
    lines = [
        "## Embedded (SQLite, in-process workers)",
        "",
        f"`threadloom dev` on bench/project, load generator on the same machine ({where}).",
        "",
        "| Scenario | Threadloom | Floor (LangGraph in-process) | Result |",
        "|---|---|---|---|",
        *(f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows),
    ]
    return "\n".join(lines) + f"\n\nCommand: `{command}`\n"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    where = machine()
    rows = asyncio.run(bench(args.runs))
    command = "uv run python -m bench.run " + " ".join(sys.argv[1:])
    table = render(rows, command.strip(), where)
    print(table)
    if args.out:
        write_section(args.out, "embedded", table)


if __name__ == "__main__":
    main()
