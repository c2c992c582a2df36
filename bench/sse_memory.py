"""Memory of open SSE streams: the embedded server's RSS with 10,000 clients following a run.

    uv run python -m bench.sse_memory [--streams 10000] [--out bench/RESULTS.md]

One `threadloom dev` (bench/project) runs one `sleeper` run for the whole measurement; the
load generator opens `--streams` plain TCP connections, each `GET
/threads/{id}/runs/{run_id}/stream` (what `client.runs.join_stream` sends), reads each response's
headers, and keeps the connection open. The server's RSS (VmRSS) is read
before any stream, then at each step once the step's streams are all open and 2 s have passed.
The client is raw asyncio sockets so that 10,000 streams fit in one process and its own memory
never enters the measure (the server's RSS is read from /proc). Needs `ulimit -n` above the
stream count in both processes.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlparse

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.server import ServerProcess  # noqa: E402

from bench.results import machine, write_section  # noqa: E402

PROJECT = ROOT / "bench" / "project" / "langgraph.json"
BATCH = 250


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


async def open_stream(host: str, port: int, path: str) -> asyncio.StreamWriter:
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(
        f"GET {path} HTTP/1.1\r\nHost: {host}\r\nAccept: text/event-stream\r\n\r\n".encode()
    )
    await writer.drain()
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
    if b" 200 " not in head.split(b"\r\n", 1)[0]:
        raise RuntimeError(head.decode(errors="replace")[:200])
    writer.transport.pause_reading()  # the stream is open: keep it, read nothing more
    return writer


async def bench(streams: int) -> tuple[str, list[tuple[int, float]]]:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    tmp = Path(tempfile.mkdtemp(prefix="threadloom-bench-sse-"))
    server = ServerProcess(PROJECT, tmp / "server.db")
    where = machine()
    server.start()
    assert server.proc is not None
    pid = server.proc.pid
    url = urlparse(server.url)
    host, port = url.hostname or "127.0.0.1", url.port or 80
    steps: list[tuple[int, float]] = []
    writers: list[asyncio.StreamWriter] = []
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=60) as http:
            thread_id = (await http.post("/threads", json={})).json()["thread_id"]
            run = await http.post(
                f"/threads/{thread_id}/runs",
                json={"assistant_id": "sleeper", "input": {"seconds": 3600}},
            )
            run_id = run.json()["run_id"]
            path = f"/threads/{thread_id}/runs/{run_id}/stream"
            await asyncio.sleep(2)
            steps.append((0, rss_mb(pid)))
            marks = sorted({streams // 10, streams // 2, streams})
            for mark in marks:
                while len(writers) < mark:
                    n = min(BATCH, mark - len(writers))
                    writers += await asyncio.gather(
                        *(open_stream(host, port, path) for _ in range(n))
                    )
                await asyncio.sleep(2)
                steps.append((len(writers), rss_mb(pid)))
            await http.post(f"/threads/{thread_id}/runs/{run_id}/cancel?action=interrupt")
    finally:
        for w in writers:
            w.close()
        server.stop()
    return where, steps


def render(where: str, steps: list[tuple[int, float]], cmd: str) -> str:
    base = steps[0][1]
    lines = [
        "## Open SSE streams: server memory",
        "",
        f"`threadloom dev`, one running `sleeper` run followed by N `GET .../runs/{{run_id}}/stream` "
        f"clients ({where}).",
        "",
        "| open streams | server RSS | per stream over none |",
        "|---|---|---|",
    ]
    for n, mb in steps:
        per = f"{(mb - base) * 1024 / n:.1f} KiB" if n else "—"
        lines.append(f"| {n:,} | {mb:.0f} MiB | {per} |")
    lines += ["", "Target (issue 23): 10,000 open streams ≤ 1 GiB.", "", f"Command: `{cmd}`"]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, default=10_000)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    start = time.perf_counter()
    where, steps = asyncio.run(bench(args.streams))
    cmd = f"uv run python -m bench.sse_memory --streams {args.streams}"
    text = render(where, steps, cmd)
    print(text)
    print(f"({time.perf_counter() - start:.0f} s)")
    if args.out:
        write_section(args.out, "sse-memory", text)


if __name__ == "__main__":
    main()
