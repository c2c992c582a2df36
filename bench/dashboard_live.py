"""How soon the dashboard shows a change: a run created with the SDK, until its row is on the
open runs page; the run's end, until its row says so. Real Chromium (Debian's), real server.

    uv run python -m bench.dashboard_live [--runs 20] [--out bench/RESULTS.md]

The page refreshes its first page every 0.5 s, so a change shows 0 to 0.5 s plus one request
later. Each sample: the SDK's create returns (the run is committed) → the row appears;
the run's join returns (its end is committed) → the row's badge reads `success`.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from langgraph_sdk import get_client  # noqa: E402
from playwright.async_api import async_playwright  # noqa: E402
from tests.support.server import TEST_PROJECT, ServerProcess  # noqa: E402

from bench.results import machine, write_section  # noqa: E402


async def sample(url: str, runs: int) -> tuple[list[float], list[float]]:
    client = get_client(url=url, api_key=None)
    appear: list[float] = []
    finish: list[float] = []
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path="/usr/bin/chromium")
        page = await browser.new_page()
        await page.goto(f"{url}/dashboard#/runs")
        await page.wait_for_selector("h1")
        for _ in range(runs):
            thread = await client.threads.create()
            run = await client.runs.create(thread["thread_id"], "slow", input={"seconds": 0.2})
            created = time.perf_counter()
            row = f'tr[data-run="{run["run_id"]}"]'
            await page.wait_for_selector(row, timeout=10_000)
            appear.append(time.perf_counter() - created)
            await client.runs.join(thread["thread_id"], run["run_id"])
            ended = time.perf_counter()
            await page.wait_for_selector(f"{row} .badge.s-success", timeout=10_000)
            finish.append(time.perf_counter() - ended)
        await browser.close()
    return appear, finish


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    when = machine()
    server = ServerProcess(TEST_PROJECT, Path(tempfile.mkdtemp()) / "threadloom.db")
    server.start()
    try:
        appear, finish = asyncio.run(sample(server.url, args.runs))
    finally:
        server.stop()

    def row(name: str, values: list[float]) -> str:
        values = sorted(values)
        return (
            f"| {name} | {statistics.median(values) * 1000:.0f} ms | "
            f"{values[-1] * 1000:.0f} ms | ≤ 1 s |"
        )

    table = (
        f"### Live updates on the page (embedded, Chromium)\n\n{when}; {args.runs} runs.\n\n"
        "| Change | median | max | target |\n|---|---|---|---|\n"
        + row("run created (SDK returned) → its row on the runs page", appear)
        + "\n"
        + row("run ended (join returned) → its row reads success", finish)
        + f"\n\nCommand: `uv run python -m bench.dashboard_live --runs {args.runs}"
        " --out bench/RESULTS.md`\n"
    )
    print(table)
    if args.out:
        write_section(args.out, "dashboard-live", table)


if __name__ == "__main__":
    main()
