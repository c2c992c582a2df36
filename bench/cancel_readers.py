"""Cancel latency with and without open readers, in both shapes (issue 20: "cancelling a run
with 10 open join streams takes ~300 ms, 2 ms with none").

    uv run python -m bench.cancel_readers [--rounds 8] [--out bench/RESULTS.md]

Per round, a `slow` run is started and, once running, 0 or 10 readers join it (SDK
`client.runs.join_stream`, or `client.runs.join`); then `client.runs.cancel` is timed, with
`wait=false` (the answer: storage write + signal) and `wait=true` (until the run has ended and
its output is read back). 0 and 10 alternate within one server's run, so the ratio is taken
under the same load. Cluster: `serve` (no workers) + one `threadloom worker` on the shared
PostgreSQL and Redis, so the cancel travels from the API process to the worker through Redis.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from langgraph_sdk import get_client
from langgraph_sdk.client import LangGraphClient

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.cluster import ClusterBackends, WorkerProcess  # noqa: E402
from tests.support.pg import PG_URL, REDIS_URL  # noqa: E402
from tests.support.server import TEST_PROJECT, ServerProcess  # noqa: E402

from bench.results import machine, write_section  # noqa: E402

READERS = 10


async def _cancel_once(client: LangGraphClient, readers: int, kind: str, wait: bool) -> float:
    tid = (await client.threads.create())["thread_id"]
    rid = (await client.runs.create(tid, "slow", input={"seconds": 5}))["run_id"]
    for _ in range(500):  # until the worker has it
        if (await client.runs.get(tid, rid))["status"] == "running":
            break
        await asyncio.sleep(0.02)

    async def read() -> None:
        if kind == "join_stream":
            async for _ in client.runs.join_stream(tid, rid):
                pass
        else:
            await client.runs.join(tid, rid)

    tasks = [asyncio.create_task(read()) for _ in range(readers)]
    await asyncio.sleep(0.5)  # every reader connected and parked
    start = time.perf_counter()
    await client.runs.cancel(tid, rid, wait=wait)
    elapsed = (time.perf_counter() - start) * 1000
    await asyncio.gather(*tasks, return_exceptions=True)
    return elapsed


async def _measure(url: str, rounds: int) -> list[tuple[str, str, float, float, str]]:
    client = get_client(url=url, api_key=None)
    rows = []
    for kind in ("join_stream", "join"):
        for wait in (False, True):
            samples: dict[int, list[float]] = {0: [], READERS: []}
            for _ in range(rounds):
                for readers in (0, READERS):
                    samples[readers].append(await _cancel_once(client, readers, kind, wait))
            none, many = (statistics.median(samples[n]) for n in (0, READERS))
            spread = ", ".join(f"{n}: {min(v):.1f}-{max(v):.1f}" for n, v in samples.items())
            rows.append((kind, f"wait={str(wait).lower()}", none, many, spread))
    await client.http.client.aclose()
    return rows


def _run(shape: str, rounds: int) -> list[Any]:
    tmp = Path(tempfile.mkdtemp(prefix="threadloom-cancel-"))
    if shape == "embedded":
        server = ServerProcess(TEST_PROJECT, tmp / "threadloom.db")
        server.start()
        try:
            return asyncio.run(_measure(server.url, rounds))
        finally:
            server.stop()
    backends = ClusterBackends(PG_URL, REDIS_URL)
    api = ServerProcess(TEST_PROJECT, tmp / "api.db", command="serve", env=backends.env(workers=0))
    worker = WorkerProcess(TEST_PROJECT, tmp / "worker.log", backends.env())
    try:
        api.start()
        worker.start()
        return asyncio.run(_measure(api.url, rounds))
    finally:
        worker.stop()
        api.stop()
        backends.cleanup()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    lines = [
        "| shape | readers | cancel | p50 ms, 0 readers | p50 ms, 10 readers | ratio | "
        "min-max ms |",
        "|---|---|---|---|---|---|---|",
    ]
    for shape in ("embedded", "cluster"):
        for kind, wait, none, many, spread in _run(shape, args.rounds):
            line = (
                f"| {shape} | {kind} | {wait} | {none:.1f} | {many:.1f} | "
                f"{many / none:.2f} | {spread} |"
            )
            print(line, flush=True)
            lines.append(line)
    if args.out:
        body = "\n".join(
            [
                "## Cancel with open readers (issue 20)",
                "",
                f"Machine: {machine()}. Command: `uv run python -m bench.cancel_readers "
                f"--rounds {args.rounds} --out bench/RESULTS.md` ({args.rounds} rounds, 0 and "
                "10 readers alternating in one server run).",
                "",
                *lines,
            ]
        )
        write_section(args.out, "cancel-readers", body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
