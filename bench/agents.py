"""What MCP and A2A add to a run: one embedded server, the same trivial graph called as
`/runs/wait` (stateless), as an MCP `tools/call` and as an A2A `SendMessage`, in one run.

    uv run python -m bench.agents [--requests 300] [--out bench/RESULTS.md]

Plain HTTP (httpx) for all three, so the numbers compare the server's paths, not client
libraries; calls alternate one by one with the order rotating, so the machine's drift hits all
alike. With --out, the "agents" section of the file is replaced.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.server import ServerProcess  # noqa: E402

from bench.auth import interleaved, pct  # noqa: E402
from bench.results import machine, write_section  # noqa: E402
from threadloom.graphs.registry import system_assistant_id  # noqa: E402

PROJECT = ROOT / "bench" / "project"
RPC = {"Accept": "application/json, text/event-stream"}


async def bench(requests: int) -> list[tuple[str, str, str]]:
    tmp = Path(tempfile.mkdtemp(prefix="threadloom-bench-agents-"))
    server = ServerProcess(PROJECT / "langgraph.json", tmp / "agents.db")
    server.start()
    trivial = system_assistant_id("trivial")
    async with httpx.AsyncClient(base_url=server.url, timeout=60) as http:

        async def wait() -> Any:
            r = await http.post("/runs/wait", json={"assistant_id": "trivial", "input": {"n": 0}})
            assert r.status_code == 200, r.text

        async def mcp() -> Any:
            body = {
                "jsonrpc": "2.0",
                "id": 1,
                "method": "tools/call",
                "params": {"name": "trivial", "arguments": {"n": 0}},
            }
            r = await http.post("/mcp", json=body, headers=RPC)
            assert "isError" not in r.json()["result"], r.text

        async def a2a() -> Any:
            body = {
                "jsonrpc": "2.0",
                "id": 1,
                "method": "SendMessage",
                "params": {
                    "message": {
                        "messageId": str(uuid.uuid4()),
                        "role": "ROLE_USER",
                        "parts": [{"data": {"n": 0}}],
                    }
                },
            }
            r = await http.post(f"/a2a/{trivial}", json=body, headers=RPC)
            assert "result" in r.json(), r.text

        try:
            await interleaved(30, [wait, mcp, a2a])  # warm up
            wait_ms, mcp_ms, a2a_ms = await interleaved(requests, [wait, mcp, a2a])
        finally:
            server.stop()
    base = statistics.median(wait_ms)
    rows = [("`/runs/wait` (stateless)", f"{base:.2f} ms ({pct(wait_ms, 0.99):.2f})", "1.00")]
    for label, values in (
        ("MCP `tools/call` (stateless run)", mcp_ms),
        ("A2A `SendMessage` (a run on a new thread)", a2a_ms),
    ):
        p50 = statistics.median(values)
        rows.append((label, f"{p50:.2f} ms ({pct(values, 0.99):.2f})", f"{p50 / base:.2f}"))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    where = machine()
    rows = asyncio.run(bench(args.requests))
    command = ("uv run python -m bench.agents " + " ".join(sys.argv[1:])).strip()
    table = "\n".join(
        [
            "| Call | p50 (p99) | p50 / `/runs/wait` |",
            "|---|---|---|",
            *(f"| {a} | {b} | {c} |" for a, b, c in rows),
        ]
    )
    text = f"{table}\n\nCommand: `{command}`\n"
    print(text)
    if args.out:
        body = (
            "## MCP and A2A (embedded)\n\n"
            "One `threadloom dev` server on bench/project; the `trivial` graph called three "
            f"ways, calls alternating ({where}).\n\n" + text
        )
        write_section(args.out, "agents", body)


if __name__ == "__main__":
    main()
