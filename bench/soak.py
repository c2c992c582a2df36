"""Soak: a steady mixed load on one embedded server, its RSS sampled, to show it stays flat.

    uv run python -m bench.soak [--minutes 30] [--rate 20] [--out bench/RESULTS.md]

`threadloom dev` on bench/project; the official async SDK drives, every second, `--rate`
operations in a fixed mix: a thread created with metadata, a `runs.wait` on it, a streamed run
(100 custom events), a metadata search, a run list, a thread deleted (so the database does not
just grow). The server's RSS (VmRSS) is sampled every 15 s. The verdict compares the mean of the
last quarter of the samples with the mean of the second quarter (the first is warm-up: caches,
the first resumable-stream retention window of 120 s): growth should be none beyond noise.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

from langgraph_sdk import get_client

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.server import ServerProcess  # noqa: E402

from bench.results import machine, write_section  # noqa: E402
from bench.sse_memory import rss_mb  # noqa: E402

PROJECT = ROOT / "bench" / "project" / "langgraph.json"
SAMPLE_SECONDS = 15


async def one_round(client: object, i: int) -> None:
    c = client
    thread = await c.threads.create(metadata={"user": i % 50})  # type: ignore[attr-defined]
    tid = thread["thread_id"]
    await c.runs.wait(tid, "trivial", input={})  # type: ignore[attr-defined]
    async for _ in c.runs.stream(tid, "streamer", input={"events": 100}, stream_mode="custom"):  # type: ignore[attr-defined]
        pass
    await c.threads.search(metadata={"user": i % 50}, limit=10)  # type: ignore[attr-defined]
    await c.runs.list(tid, limit=10)  # type: ignore[attr-defined]
    if i % 2:
        await c.threads.delete(tid)  # type: ignore[attr-defined]


async def bench(minutes: float, rate: int) -> tuple[str, list[tuple[float, float]], int]:
    tmp = Path(tempfile.mkdtemp(prefix="threadloom-bench-soak-"))
    server = ServerProcess(PROJECT, tmp / "server.db")
    where = machine()
    server.start()
    assert server.proc is not None
    pid = server.proc.pid
    samples: list[tuple[float, float]] = []
    done = 0
    client = get_client(url=server.url, api_key=None)
    try:
        start = time.monotonic()
        end = start + minutes * 60
        next_sample = start
        i = 0
        while time.monotonic() < end:
            tick = time.monotonic()
            await asyncio.gather(*(one_round(client, i + k) for k in range(rate)))
            i += rate
            done += rate
            if time.monotonic() >= next_sample:
                samples.append(((time.monotonic() - start) / 60, rss_mb(pid)))
                next_sample += SAMPLE_SECONDS
            await asyncio.sleep(max(0.0, 1.0 - (time.monotonic() - tick)))
        samples.append(((time.monotonic() - start) / 60, rss_mb(pid)))
    finally:
        await client.http.client.aclose()
        server.stop()
    return where, samples, done


def render(where: str, samples: list[tuple[float, float]], done: int, cmd: str) -> str:
    n = len(samples)
    second = [mb for _, mb in samples[n // 4 : n // 2]] or [samples[0][1]]
    last = [mb for _, mb in samples[3 * n // 4 :]] or [samples[-1][1]]
    growth = statistics.mean(last) - statistics.mean(second)
    shown = samples[:: max(1, n // 12)]
    if shown[-1] is not samples[-1]:
        shown.append(samples[-1])
    lines = [
        "## Soak: server memory under a steady mixed load (embedded)",
        "",
        f"`threadloom dev`, {done:,} rounds of create / wait / stream 100 events / search / list "
        f"(/ delete every other thread) over {samples[-1][0]:.1f} min ({where}).",
        "",
        "| minute | server RSS |",
        "|---|---|",
        *(f"| {t:.1f} | {mb:.0f} MiB |" for t, mb in shown),
        "",
        f"Mean RSS, last quarter against second quarter of the samples: {growth:+.1f} MiB.",
        "",
        f"Command: `{cmd}`",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30)
    parser.add_argument("--rate", type=int, default=20)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    where, samples, done = asyncio.run(bench(args.minutes, args.rate))
    cmd = f"uv run python -m bench.soak --minutes {args.minutes:g} --rate {args.rate}"
    text = render(where, samples, done, cmd)
    print(text)
    if args.out:
        write_section(args.out, "soak", text)


if __name__ == "__main__":
    main()
