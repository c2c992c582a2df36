"""What `/metrics` and the instrumentation cost: server CPU of a scrape against the server CPU
of 200 runs/s, both shapes, in one run.

    uv run python -m bench.metrics [--runs 1500] [--scrapes 300] [--repeat 3] [--out bench/RESULTS.md]

Per shape (embedded `threadloom dev`; cluster `serve --workers 0` + `threadloom worker
--metrics-port`): warm up, drive `--runs` stateless `/runs/wait` at concurrency 8 and take the
server processes' CPU per run (utime + stime from /proc), then `--scrapes` back-to-back
scrapes of each process's `/metrics` and their CPU per scrape. The bar: a 15 s scrape of every
process costs ≤ 1 % of the CPU the servers spend at 200 runs/s. `--repeat` rounds give the
spread. The recorders themselves (what a run and a request add on the hot path) are timed
in-process too.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
import timeit
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.cluster import ClusterBackends, WorkerProcess  # noqa: E402
from tests.support.pg import PG_URL, REDIS_URL  # noqa: E402
from tests.support.server import ServerProcess, free_port  # noqa: E402

from bench.results import machine, write_section  # noqa: E402
from bench.run import proc_cpu_seconds  # noqa: E402

PROJECT = ROOT / "bench" / "project" / "langgraph.json"
WAIT_BODY = orjson.dumps({"assistant_id": "trivial", "input": {"n": 0}})
JSON_HEADERS = {"content-type": "application/json"}
RATE = 200  # runs/s of the bar
INTERVAL = 15.0  # seconds between scrapes of the bar


async def load(url: str, runs: int, pids: list[int]) -> tuple[float, float]:
    """(runs/s, server CPU ms per run) of `runs` /runs/wait at concurrency 8."""
    todo = list(range(runs))
    async with httpx.AsyncClient(base_url=url, timeout=60) as http:

        async def one() -> None:
            while todo:
                todo.pop()
                response = await http.post("/runs/wait", content=WAIT_BODY, headers=JSON_HEADERS)
                response.raise_for_status()

        cpu = sum(proc_cpu_seconds(p) for p in pids)
        start = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(8)))
        wall = time.perf_counter() - start
        cpu = sum(proc_cpu_seconds(p) for p in pids) - cpu
    return runs / wall, cpu / runs * 1000


async def scrape_cost(url: str, pid: int, scrapes: int) -> tuple[float, int]:
    """(server CPU ms per scrape, body bytes) of back-to-back scrapes of `url`."""
    async with httpx.AsyncClient(timeout=60) as http:
        size = len((await http.get(url)).content)
        cpu = proc_cpu_seconds(pid)
        for _ in range(scrapes):
            (await http.get(url)).raise_for_status()
        cpu = proc_cpu_seconds(pid) - cpu
    return cpu / scrapes * 1000, size


def recorder_cost() -> tuple[float, float]:
    """(µs a run's recorders take: created + watch start + ended; µs a request's)."""
    from threadloom.runtime.executor import ExecutionResult
    from threadloom.runtime.measure import RunMeasures
    from threadloom.runtime.run_metrics import RunWatch
    from threadloom.serde import utcnow
    from threadloom.storage.records import Run
    from threadloom.telemetry.metrics import METRICS

    now = utcnow()
    run = Run(
        run_id="r",
        thread_id="t",
        assistant_id="a",
        status="running",
        multitask_strategy="enqueue",
        metadata={},
        kwargs={"config": {"configurable": {"graph_id": "trivial"}}},
        created_at=now,
        updated_at=now,
        started_at=now + timedelta(milliseconds=1),
        attempt=1,
    )
    result = ExecutionResult("r", "t", 1, "success", "end_turn", None, None, None)
    measures = RunMeasures()

    def one_run() -> None:
        METRICS.graph("trivial")[0].inc()
        RunWatch(run).ended(result, measures)

    def one_request() -> None:
        METRICS.observe_http("POST", "/runs/wait", 200, 0.002)

    n = 20000
    per_run = min(timeit.repeat(one_run, number=n, repeat=5)) / n * 1e6
    per_request = min(timeit.repeat(one_request, number=n, repeat=5)) / n * 1e6
    return per_run, per_request


def share(scrape_ms: float, run_ms: float) -> float:
    """% of the servers' CPU at RATE runs/s that one scrape every INTERVAL seconds takes."""
    return (scrape_ms / INTERVAL) / (RATE * run_ms) * 100


async def embedded(runs: int, scrapes: int, repeat: int) -> list[dict[str, float]]:
    tmp = Path(tempfile.mkdtemp(prefix="threadloom-bench-metrics-"))
    server = ServerProcess(PROJECT, tmp / "bench.db")
    server.start(timeout=90)
    try:
        assert server.proc is not None
        pid = server.proc.pid
        await load(server.url, 100, [pid])  # warm up
        rounds = []
        for _ in range(repeat):
            rate, run_ms = await load(server.url, runs, [pid])
            scrape_ms, size = await scrape_cost(f"{server.url}/metrics", pid, scrapes)
            rounds.append({"rate": rate, "run_ms": run_ms, "scrape_ms": scrape_ms, "size": size})
        return rounds
    finally:
        server.stop()


async def cluster(runs: int, scrapes: int, repeat: int) -> list[dict[str, float]]:
    tmp = Path(tempfile.mkdtemp(prefix="threadloom-bench-metrics-cluster-"))
    backends = ClusterBackends(PG_URL, REDIS_URL)
    api = ServerProcess(PROJECT, tmp / "api.db", command="serve", env=backends.env(workers=0))
    port = free_port()
    worker = WorkerProcess(
        PROJECT, tmp / "worker.log", {**backends.env(), "THREADLOOM_METRICS_PORT": str(port)}
    )
    try:
        api.start(timeout=90)
        worker.start(timeout=90)
        assert api.proc is not None
        pids = [api.proc.pid, worker.pid]
        await load(api.url, 100, pids)
        rounds = []
        for _ in range(repeat):
            rate, run_ms = await load(api.url, runs, pids)
            api_ms, size = await scrape_cost(f"{api.url}/metrics", pids[0], scrapes)
            worker_ms, _ = await scrape_cost(f"http://127.0.0.1:{port}/metrics", pids[1], scrapes)
            rounds.append(
                {
                    "rate": rate,
                    "run_ms": run_ms,
                    "scrape_ms": api_ms + worker_ms,
                    "api_scrape_ms": api_ms,
                    "worker_scrape_ms": worker_ms,
                    "size": size,
                }
            )
        return rounds
    finally:
        worker.stop()
        api.stop()
        backends.cleanup()


def spread(rounds: list[dict[str, float]], key: str, fmt: str = "{:.2f}") -> str:
    values = [r[key] for r in rounds]
    med = statistics.median(values)
    return f"{fmt.format(med)} ({fmt.format(min(values))} to {fmt.format(max(values))})"


def render(shapes: dict[str, list[dict[str, float]]], per_run: float, per_request: float) -> str:
    lines = [
        "| Shape | wait throughput, c=8 | server CPU per run | CPU per scrape (all processes) "
        "| scrape body | share of CPU at 200 runs/s, scrape every 15 s | Result |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, rounds in shapes.items():
        shares = [share(r["scrape_ms"], r["run_ms"]) for r in rounds]
        worst = max(shares)
        lines.append(
            f"| {name} | {spread(rounds, 'rate', '{:.0f}')} runs/s "
            f"| {spread(rounds, 'run_ms')} ms | {spread(rounds, 'scrape_ms')} ms "
            f"| {statistics.median(r['size'] for r in rounds) / 1024:.1f} KiB "
            f"| {statistics.median(shares):.4f} % (worst {worst:.4f} %) "
            f"| {'met' if worst <= 1 else 'MISSED'} (target ≤ 1 %) |"
        )
    lines.append("")
    lines.append(
        f"Recorders on the hot path, in-process (best of 5 x 20,000): a run's (created, queue "
        f"wait, ended, duration) {per_run:.2f} µs; a request's (HTTP histogram) "
        f"{per_request:.2f} µs."
    )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=1500)
    parser.add_argument("--scrapes", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--shapes", default="embedded,cluster")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    where = machine()
    per_run, per_request = recorder_cost()
    shapes: dict[str, Any] = {}
    wanted = args.shapes.split(",")
    if "embedded" in wanted:
        shapes["embedded"] = asyncio.run(embedded(args.runs, args.scrapes, args.repeat))
    if "cluster" in wanted:
        shapes["cluster (1 API + 1 worker)"] = asyncio.run(
            cluster(args.runs, args.scrapes, args.repeat)
        )
    table = render(shapes, per_run, per_request)
    command = ("uv run python -m bench.metrics " + " ".join(sys.argv[1:])).strip()
    print(table)
    if args.out:
        body = (
            "## Metrics: the cost of `/metrics` and of the instrumentation\n\n"
            f"bench/metrics.py ({where}). Median of the rounds, (min to max) in brackets.\n\n"
            f"{table}\n\nCommand: `{command}`\n"
        )
        write_section(args.out, "metrics", body)


if __name__ == "__main__":
    main()
