"""Custom auth's cost per request: the same embedded server with and without a trivial
`auth.path` handler (bench/project/auth.py), driven through the official SDK in one run.

    uv run python -m bench.auth [--requests 1000] [--out bench/RESULTS.md]

Both servers run at once; requests alternate between them one by one, with the order rotating,
so the machine's drift hits both alike. With --out, the "auth" section of the file is replaced.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from langgraph_sdk import get_client

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.server import ServerProcess  # noqa: E402

from bench.results import machine, write_section  # noqa: E402

PROJECT = ROOT / "bench" / "project"
TOKEN = {"Authorization": "Bearer bench-token"}
Row = tuple[str, str, str, str]


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def interleaved(n: int, sides: list[Callable[[], Awaitable[Any]]]) -> list[list[float]]:
    out: list[list[float]] = [[] for _ in sides]
    order = list(range(len(sides)))
    for i in range(n):
        for j in order[i % len(sides) :] + order[: i % len(sides)]:
            start = time.perf_counter()
            await sides[j]()
            out[j].append((time.perf_counter() - start) * 1000)
    return out


async def bench(requests: int) -> list[Row]:
    tmp = Path(tempfile.mkdtemp(prefix="threadloom-bench-auth-"))
    plain = ServerProcess(PROJECT / "langgraph.json", tmp / "plain.db")
    authed = ServerProcess(PROJECT / "langgraph_auth.json", tmp / "auth.db")
    plain.start()
    authed.start()
    rows: list[Row] = []
    p = get_client(url=plain.url)
    a = get_client(url=authed.url, headers=TOKEN)
    try:
        tp = (await p.threads.create())["thread_id"]
        ta = (await a.threads.create())["thread_id"]

        cases: list[tuple[str, Callable[[], Awaitable[Any]], Callable[[], Awaitable[Any]]]] = [
            ("`threads.get`", lambda: p.threads.get(tp), lambda: a.threads.get(ta)),
            (
                "`runs.wait` (stateless)",
                lambda: p.runs.wait(None, "trivial", input={"n": 0}),
                lambda: a.runs.wait(None, "trivial", input={"n": 0}),
            ),
        ]
        for label, plain_call, auth_call in cases:
            await interleaved(50, [plain_call, auth_call])  # warm up
            plain_ms, auth_ms = await interleaved(requests, [plain_call, auth_call])
            d50 = statistics.median(auth_ms) - statistics.median(plain_ms)
            rows.append(
                (
                    f"{label}, p50 (p99) through the SDK",
                    f"{statistics.median(plain_ms):.2f} ms ({pct(plain_ms, 0.99):.2f})",
                    f"{statistics.median(auth_ms):.2f} ms ({pct(auth_ms, 0.99):.2f})",
                    f"{d50:+.2f} ms (target ≤ +0.3 ms)",
                )
            )
    finally:
        await p.http.client.aclose()
        await a.http.client.aclose()
        plain.stop()
        authed.stop()
    return rows


def render(rows: list[Row], command: str) -> str:
    lines = [
        "| Request | Without `auth.path` | With a trivial `auth.path` handler | Auth adds |",
        "|---|---|---|---|",
        *(f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows),
    ]
    return "\n".join(lines) + f"\n\nCommand: `{command}`\n"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    where = machine()
    rows = asyncio.run(bench(args.requests))
    table = render(rows, ("uv run python -m bench.auth " + " ".join(sys.argv[1:])).strip())
    print(table)
    if args.out:
        body = (
            "## Custom auth (embedded)\n\n"
            "Two `threadloom dev` servers on bench/project, one with `auth.path` "
            "(bench/project/auth.py: a token lookup in `@auth.authenticate`, a global `@auth.on` "
            f"that allows everything), requests alternating between them ({where}).\n\n" + table
        )
        write_section(args.out, "auth", body)


if __name__ == "__main__":
    main()
