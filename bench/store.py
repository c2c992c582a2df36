"""The Store API's cost: `client.store.*` over HTTP against the same `BaseStore` call made
in-process (the store the server itself uses, on a file or schema of its own), in one run, in
both shapes; then semantic search over a loaded index.

    uv run python -m bench.store [--requests 500] [--items 100000] [--pg-items 100000]
                                 [--out bench/RESULTS.md]

HTTP and in-process calls alternate one by one (order rotating). Semantic search: `--items`
items (short sentences, `threadloom:wordllama`, 256 dims) are loaded in-process into the
database before the server starts on it (on PostgreSQL then `ANALYZE`d, as autovacuum would),
then queried through the SDK; the query's embedding time is measured on its own. With --out, the "store" section of the file is replaced.
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

import psycopg
from langgraph.store.base import PutOp
from langgraph_sdk import get_client

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.cluster import ClusterBackends  # noqa: E402
from tests.support.pg import PG_URL, REDIS_URL, random_name  # noqa: E402
from tests.support.server import ServerProcess  # noqa: E402

from bench.auth import interleaved, pct  # noqa: E402
from bench.results import machine, write_section  # noqa: E402
from threadloom.graphs.project import load_project  # noqa: E402
from threadloom.graphs.store_config import store_options  # noqa: E402
from threadloom.settings import load_settings  # noqa: E402
from threadloom.storage import create_storage  # noqa: E402

PROJECT = ROOT / "bench" / "project"
NS = ("bench", "items")
Row = tuple[str, str, str, str]
WORDS = "lisbon dog rex coffee tea piano chess river mountain train bicycle garden rain".split()


def sentence(i: int) -> str:
    w = WORDS
    return f"note {i}: the user likes {w[i % 13]} and {w[(i // 13) % 13]} near {w[(i // 169) % 13]}"


async def crud_rows(client: Any, store: Any, shape: str, requests: int, target: float) -> list[Row]:
    for i in range(100):  # a namespace of 100 items for get and search on both sides
        await store.aput(NS, f"k{i}", {"text": sentence(i), "n": i})
        await client.store.put_item(list(NS), f"k{i}", {"text": sentence(i), "n": i})
    counter = iter(range(10**9))
    cases: list[tuple[str, Callable[[], Awaitable[Any]], Callable[[], Awaitable[Any]]]] = [
        (
            "put",
            lambda: client.store.put_item(list(NS), f"p{next(counter)}", {"text": "x", "n": 1}),
            lambda: store.aput(NS, f"p{next(counter)}", {"text": "x", "n": 1}),
        ),
        ("get", lambda: client.store.get_item(list(NS), "k7"), lambda: store.aget(NS, "k7")),
        (
            "search (limit 10, filter)",
            lambda: client.store.search_items(list(NS), filter={"n": 7}, limit=10),
            lambda: store.asearch(NS, filter={"n": 7}, limit=10),
        ),
    ]
    rows = []
    for label, http_call, local_call in cases:
        await interleaved(30, [http_call, local_call])
        http_ms, local_ms = await interleaved(requests, [http_call, local_call])
        d = statistics.median(http_ms) - statistics.median(local_ms)
        rows.append(
            (
                f"{shape}: {label}, p50 (p99)",
                f"{statistics.median(http_ms):.2f} ms ({pct(http_ms, 0.99):.2f})",
                f"{statistics.median(local_ms):.2f} ms ({pct(local_ms, 0.99):.2f})",
                f"{d:+.2f} ms (target ≤ +{target} ms)",
            )
        )
    return rows


async def load_items(store: Any, items: int) -> float:
    """Put `items` items, 1,000 per batch (one transaction each)."""
    start = time.perf_counter()
    for lo in range(0, items, 1000):
        ops = [PutOp(NS, f"s{i}", {"text": sentence(i)}) for i in range(lo, min(items, lo + 1000))]
        await store.abatch(ops)
    return time.perf_counter() - start


async def analyze(schema: str) -> None:
    """Table statistics for the planner, as autovacuum would gather them after a bulk load
    (the test server runs with autovacuum off)."""
    async with await psycopg.AsyncConnection.connect(PG_URL, autocommit=True) as conn:
        await conn.execute(f'ANALYZE "{schema}".store')
        await conn.execute(f'ANALYZE "{schema}".store_vectors')


async def semantic_row(url: str, shape: str, items: int, load_s: float, q: str) -> Row:
    client = get_client(url=url)
    queries = [f"who likes {WORDS[i % 13]} and {WORDS[(i * 7) % 13]}?" for i in range(200)]
    try:
        for text in queries[:20]:
            await client.store.search_items(list(NS), query=text, limit=10)
        ms = []
        for text in queries:
            start = time.perf_counter()
            found = await client.store.search_items(list(NS), query=text, limit=10)
            ms.append((time.perf_counter() - start) * 1000)
            assert found["items"], "semantic search found nothing"
    finally:
        await client.http.client.aclose()
    return (
        f"{shape}: semantic search, {items:,} items (loaded in {load_s:.0f} s), limit 10",
        f"p50 {statistics.median(ms):.2f} ms, p99 {pct(ms, 0.99):.2f} ms",
        "—",
        q,
    )


def embed_ms() -> float:
    index, _ = store_options(load_project(PROJECT / "langgraph_store.json"))
    assert index is not None
    embed = index["embed"]
    embed.embed_query("warm up")
    start = time.perf_counter()
    for i in range(200):
        embed.embed_query(f"who likes {WORDS[i % 13]}?")
    return (time.perf_counter() - start) / 200 * 1000


async def embedded(tmp: Path, requests: int, items: int) -> list[Row]:
    server = ServerProcess(PROJECT / "langgraph.json", tmp / "server.db")
    local = create_storage(load_settings(sqlite_path=tmp / "local.db"), **_options(None))
    await local.open()
    server.start()
    client = get_client(url=server.url)
    try:
        rows = await crud_rows(client, local.store, "embedded", requests, 1.5)
    finally:
        await client.http.client.aclose()
        server.stop()
        await local.close()
    if items:
        db = tmp / "semantic.db"
        loader = create_storage(load_settings(sqlite_path=db), **_options("langgraph_store.json"))
        await loader.open()
        load_s = await load_items(loader.store, items)
        await loader.close()
        server = ServerProcess(PROJECT / "langgraph_store.json", db)
        server.start()
        try:
            rows.append(await semantic_row(server.url, "embedded", items, load_s, "p50 ≤ 15 ms"))
        finally:
            server.stop()
    return rows


def _options(project: str | None) -> dict[str, Any]:
    index, ttl = store_options(load_project(PROJECT / project) if project else None)
    return {"store_index": index, "store_ttl": ttl}


async def cluster(tmp: Path, requests: int, items: int) -> list[Row]:
    backends = ClusterBackends(PG_URL, REDIS_URL)
    local_schema = random_name("bench_store")
    server = ServerProcess(
        PROJECT / "langgraph.json", tmp / "api.db", command="serve", env=backends.env(workers=0)
    )
    local = create_storage(
        load_settings(database_url=PG_URL, database_schema=local_schema), **_options(None)
    )
    rows: list[Row] = []
    try:
        await local.open()
        server.start()
        client = get_client(url=server.url)
        try:
            rows += await crud_rows(client, local.store, "cluster", requests, 3)
        finally:
            await client.http.client.aclose()
            server.stop()
        await local.close()
        if items:
            sem = ClusterBackends(PG_URL, REDIS_URL)
            settings = load_settings(database_url=PG_URL, database_schema=sem.schema)
            loader = create_storage(settings, **_options("langgraph_store.json"))
            await loader.open()
            load_s = await load_items(loader.store, items)
            await loader.close()
            await analyze(sem.schema)
            server = ServerProcess(
                PROJECT / "langgraph_store.json",
                tmp / "sem.db",
                command="serve",
                env=sem.env(workers=0),
            )
            try:
                server.start()
                rows.append(
                    await semantic_row(server.url, "cluster (HNSW)", items, load_s, "p99 ≤ 20 ms")
                )
            finally:
                server.stop()
                sem.cleanup()
    finally:
        backends.cleanup()
        ClusterBackends(PG_URL, REDIS_URL, schema=local_schema).cleanup()
    return rows


def render(rows: list[Row], command: str, embed: float) -> str:
    lines = [
        "| Call | Through HTTP (official SDK) | Same `BaseStore` call in-process | HTTP adds |",
        "|---|---|---|---|",
        *(f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows),
    ]
    return (
        "\n".join(lines)
        + f"\n\nEmbedding one query with `threadloom:wordllama`, in-process: {embed:.3f} ms"
        " (included in the semantic search figures).\n" + f"\nCommand: `{command}`\n"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--pg-items", type=int, default=100_000)
    parser.add_argument("--only", choices=["embedded", "cluster"], default=None)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    where = machine()
    tmp = Path(tempfile.mkdtemp(prefix="threadloom-bench-store-"))
    rows: list[Row] = []
    if args.only != "cluster":
        rows += asyncio.run(embedded(tmp, args.requests, args.items))
    if args.only != "embedded":
        rows += asyncio.run(cluster(tmp, args.requests, args.pg_items))
    table = render(
        rows, ("uv run python -m bench.store " + " ".join(sys.argv[1:])).strip(), embed_ms()
    )
    print(table)
    if args.out:
        body = (
            "## Store API\n\n"
            "`client.store.*` against `threadloom dev` (SQLite) and `threadloom serve` "
            f"(PostgreSQL), with the in-process store on a file / schema of its own ({where}).\n\n"
            + table
        )
        write_section(args.out, "store", body)


if __name__ == "__main__":
    main()
