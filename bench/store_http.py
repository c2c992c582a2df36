"""Where the Store API's HTTP time goes (embedded): the official SDK against a plain httpx
client on the same routes, the health route as the HTTP floor, and the server's own time from
its `Server-Timing: app;dur=` header, requests interleaved one by one.

    uv run python -m bench.store_http [--requests 300]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
from langgraph_sdk import get_client

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.server import ServerProcess  # noqa: E402

from bench.auth import interleaved, pct  # noqa: E402
from bench.store import NS, PROJECT  # noqa: E402


async def run(requests: int) -> list[str]:
    server = ServerProcess(PROJECT / "langgraph.json", Path(tempfile.mkdtemp()) / "s.db")
    server.start()
    client = get_client(url=server.url)
    server_ms: dict[str, list[float]] = {}

    async def server_time(response: httpx.Response) -> None:
        value = response.headers.get("server-timing", "app;dur=nan").split("dur=")[1]
        label = f"{response.request.method} {response.request.url.path}"
        server_ms.setdefault(label, []).append(float(value))

    raw = httpx.AsyncClient(base_url=server.url)
    ns, dotted = list(NS), ".".join(NS)
    try:
        await client.store.put_item(ns, "k7", {"text": "x", "n": 7})
        sides: dict[str, Callable[[], Awaitable[Any]]] = {
            "SDK get_item": lambda: client.store.get_item(ns, "k7"),
            "httpx GET /store/items": lambda: raw.get(
                "/store/items", params={"namespace": dotted, "key": "k7"}
            ),
            "httpx GET /ok (floor)": lambda: raw.get("/ok"),
            "SDK put_item": lambda: client.store.put_item(ns, "p", {"text": "x", "n": 1}),
            "httpx PUT /store/items": lambda: raw.put(
                "/store/items", json={"namespace": ns, "key": "p", "value": {"text": "x", "n": 1}}
            ),
            "SDK search_items": lambda: client.store.search_items(ns, filter={"n": 7}, limit=10),
            "httpx POST /store/items/search": lambda: raw.post(
                "/store/items/search",
                json={"namespace_prefix": ns, "filter": {"n": 7}, "limit": 10},
            ),
        }
        await interleaved(30, list(sides.values()))
        raw.event_hooks["response"] = [server_time]
        results = await interleaved(requests, list(sides.values()))
    finally:
        await raw.aclose()
        await client.http.client.aclose()
        server.stop()
    lines = ["| Request | p50 (p99) |", "|---|---|"]
    for label, ms in zip(sides, results, strict=True):
        lines.append(f"| {label} | {statistics.median(ms):.2f} ms ({pct(ms, 0.99):.2f}) |")
    for label, ms in server_ms.items():
        lines.append(
            f"| server's own time (Server-Timing), {label} | {statistics.median(ms):.3f} ms |"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=300)
    print("\n".join(asyncio.run(run(parser.parse_args().requests))))


if __name__ == "__main__":
    main()
