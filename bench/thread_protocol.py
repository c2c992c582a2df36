"""The thread protocol (v3) against today's `/runs/stream`: events/s and first-event latency.

    uv run python -m bench.thread_protocol [--events 1000] [--rounds 20] [--out bench/RESULTS.md]

One embedded server (`threadloom dev`). Each round, alternating which goes first, streams the
`streamer` graph's `--events` custom events on a new thread both ways, over raw HTTP so neither
side pays for SDK machinery the other does not:

- v1: `POST /threads/{id}/runs/stream` with `stream_mode=custom` (the run is created by the
  streaming request itself);
- v3: `POST /threads/{id}/stream/events` subscribed to `custom` first (the SDK's order), then
  `run.start` through `POST /threads/{id}/commands`; the clock starts at the command.

First-event latency is from the request that starts the run to the first custom event; events/s
is the custom events over the time to the last one. Both requests go out on a pooled connection
that is already open (a new TCP connection costs ~1-2 ms here, the size of what is measured). The ratios (v3 / v1) are of the medians of
the same run, so the machine's noise mostly cancels; repeat the command for the spread.
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
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.server import ServerProcess  # noqa: E402

from bench.results import machine, write_section  # noqa: E402

PROJECT = ROOT / "bench" / "project" / "langgraph.json"


def proc_cpu_seconds(pid: int) -> float:
    """utime + stime of a process, from /proc (Linux): the server's own cost, which the
    client's parsing (the same 2 CPUs) does not blur."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


async def v1_round(http: httpx.AsyncClient, events: int) -> tuple[float, float]:
    thread_id = (await http.post("/threads", json={})).json()["thread_id"]
    body = {"assistant_id": "streamer", "input": {"events": events}, "stream_mode": "custom"}
    count, first = 0, 0.0
    start = time.perf_counter()
    async with http.stream("POST", f"/threads/{thread_id}/runs/stream", json=body) as resp:
        async for line in resp.aiter_lines():
            if line == "event: custom":
                count += 1
                if count == 1:
                    first = time.perf_counter() - start
    elapsed = time.perf_counter() - start
    assert count == events, count
    return first, events / elapsed


async def v3_round(http: httpx.AsyncClient, events: int) -> tuple[float, float]:
    thread_id = str(uuid.uuid4())
    count, first = 0, 0.0
    opened = asyncio.Event()
    start = 0.0

    async def read() -> float:
        nonlocal count, first
        body = {"channels": ["custom"]}
        async with http.stream("POST", f"/threads/{thread_id}/stream/events", json=body) as resp:
            opened.set()
            async for line in resp.aiter_lines():
                if line == "event: custom":
                    count += 1
                    if count == 1:
                        first = time.perf_counter() - start
                    if count == events:
                        return time.perf_counter() - start
        raise RuntimeError("stream ended early")

    reader = asyncio.ensure_future(read())
    await opened.wait()
    # the stream holds a connection and the last round's was closed with its stream: make
    # sure the command finds a warm one, as v1's request does (its thread was just created
    # on it) and as an SDK client's pool does once it is running
    await http.get("/ok")
    start = time.perf_counter()
    command = {
        "id": 1,
        "method": "run.start",
        "params": {"assistant_id": "streamer", "input": {"events": events}},
    }
    resp = await http.post(f"/threads/{thread_id}/commands", json=command)
    assert resp.json()["type"] == "success", resp.text
    elapsed = await reader
    return first, events / elapsed


async def bench(events: int, rounds: int) -> tuple[dict[str, list[float]], str]:
    tmp = Path(tempfile.mkdtemp(prefix="threadloom-bench-v3-"))
    server = ServerProcess(PROJECT, tmp / "server.db")
    where = machine()
    server.start()
    out: dict[str, list[float]] = {
        "v1_first": [],
        "v1_rate": [],
        "v3_first": [],
        "v3_rate": [],
        "v1_cpu": [],
        "v3_cpu": [],
    }
    assert server.proc is not None
    pid = server.proc.pid
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=120) as http:
            for _ in range(3):  # warm up both paths
                await v1_round(http, events)
                await v3_round(http, events)
            for i in range(rounds):
                order = ("v1", "v3") if i % 2 == 0 else ("v3", "v1")
                for which in order:
                    fn = v1_round if which == "v1" else v3_round
                    cpu = proc_cpu_seconds(pid)
                    first, rate = await fn(http, events)
                    await asyncio.sleep(0.05)  # the run's end (terminal write) is its cost too
                    out[f"{which}_cpu"].append((proc_cpu_seconds(pid) - cpu) * 1e6 / events)
                    out[f"{which}_first"].append(first * 1000)
                    out[f"{which}_rate"].append(rate)
    finally:
        server.stop()
    return out, where


def render(out: dict[str, list[float]], events: int, rounds: int, where: str, cmd: str) -> str:
    med = {k: statistics.median(v) for k, v in out.items()}

    def spread(key: str) -> str:
        values = sorted(out[key])
        return (
            f"{values[0]:.0f} to {values[-1]:.0f}"
            if "rate" in key
            else (f"{values[0]:.2f} to {values[-1]:.2f}")
        )

    rate_ratio = med["v3_rate"] / med["v1_rate"]
    cpu_ratio = med["v3_cpu"] / med["v1_cpu"]
    first_ratio = med["v3_first"] / med["v1_first"]
    lines = [
        "## Thread protocol (v3) vs `/runs/stream`",
        "",
        f"Embedded server, `streamer` graph, {events} custom events a run, {rounds} rounds each, "
        f"alternating ({where}).",
        "",
        "| measure | `/runs/stream` (v1) | thread protocol SSE (v3) | v3 / v1 |",
        "|---|---|---|---|",
        f"| events/s, median (range) | {med['v1_rate']:.0f} ({spread('v1_rate')}) | "
        f"{med['v3_rate']:.0f} ({spread('v3_rate')}) | {rate_ratio:.2f} |",
        f"| first event, ms, median (range) | {med['v1_first']:.2f} ({spread('v1_first')}) | "
        f"{med['v3_first']:.2f} ({spread('v3_first')}) | {first_ratio:.2f} |",
        f"| server CPU per event, µs, median (range) | {med['v1_cpu']:.1f} ({spread('v1_cpu')}) | "
        f"{med['v3_cpu']:.1f} ({spread('v3_cpu')}) | {cpu_ratio:.2f} |",
        "",
        f"Command: `{cmd}`",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    out, where = asyncio.run(bench(args.events, args.rounds))
    cmd = f"uv run python -m bench.thread_protocol --events {args.events} --rounds {args.rounds}"
    text = render(out, args.events, args.rounds, where, cmd)
    print(text)
    if args.out:
        write_section(args.out, "thread-protocol", text)


if __name__ == "__main__":
    main()
