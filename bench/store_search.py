"""Semantic search in-process: Threadloom's store against upstream LangGraph's on the same
database, queries interleaved one by one (so the ratio holds on a busy machine).

    uv run python -m bench.store_search [--items 100000] [--pg-schema NAME] [--queries 100]

SQLite: `--items` items are loaded into a fresh file (as bench.store does), then each query
runs through `InlineSqliteStore` (in-memory ranking) and through upstream's `SqliteStore` on
the same file (every vector scored in SQL). PostgreSQL, with `--pg-schema` naming a schema
bench.store-style data was loaded into (and ANALYZEd): `PostgresMemoryStore` against upstream's
`AsyncPostgresStore` on the same pool, for a plain page, a page at offset 100 and a small
namespace (5 items) among the rest.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
from langgraph.store.postgres.aio import AsyncPostgresStore  # noqa: E402
from langgraph.store.sqlite import SqliteStore  # noqa: E402
from psycopg.rows import dict_row  # noqa: E402
from tests.support.pg import PG_URL  # noqa: E402

from bench.auth import interleaved, pct  # noqa: E402
from bench.store import NS, WORDS, _options, load_items  # noqa: E402
from threadloom.settings import load_settings  # noqa: E402
from threadloom.storage import create_storage  # noqa: E402
from threadloom.storage.sqlite.store import vector_connection  # noqa: E402


def queries() -> list[str]:
    return [f"who likes {WORDS[i % 13]} and {WORDS[(i * 7) % 13]}?" for i in range(1000)]


def row(label: str, ours: list[float], theirs: list[float]) -> str:
    return (
        f"| {label} | {statistics.median(ours):.2f} ms ({pct(ours, 0.99):.2f}) "
        f"| {statistics.median(theirs):.2f} ms ({pct(theirs, 0.99):.2f}) "
        f"| {statistics.median(theirs) / statistics.median(ours):.1f}x |"
    )


async def sqlite_rows(items: int, n: int) -> list[str]:
    db = Path(tempfile.mkdtemp(prefix="threadloom-bench-search-")) / "s.db"
    storage = create_storage(load_settings(sqlite_path=db), **_options("langgraph_store.json"))
    await storage.open()
    await load_items(storage.store, items)
    index = _options("langgraph_store.json")["store_index"]
    upstream = SqliteStore(vector_connection(str(db), 5000), index=index)
    upstream.setup()
    texts = iter(queries())
    await storage.store.asearch(NS, query="warm up", limit=10)  # the first query loads vectors

    async def ours() -> Any:
        return await storage.store.asearch(NS, query=next(texts), limit=10)

    async def theirs() -> Any:
        return await asyncio.to_thread(upstream.search, NS, query=next(texts), limit=10)

    mine, up = await interleaved(n, [ours, theirs])
    upstream.conn.close()
    await storage.close()
    return [row(f"SQLite, {items:,} items, limit 10", mine, up)]


async def postgres_rows(schema: str, n: int) -> list[str]:
    settings = load_settings(database_url=PG_URL, database_schema=schema)
    storage = create_storage(settings, **_options("langgraph_store.json"))
    await storage.open()
    ours_store = storage.store
    # a connection of its own: ours sets `hnsw.iterative_scan` on the pool's connections
    conn = await psycopg.AsyncConnection.connect(
        PG_URL,
        autocommit=True,
        prepare_threshold=0,
        row_factory=dict_row,
        options=f"-c TimeZone=UTC -c search_path={schema},public",
    )
    upstream = AsyncPostgresStore(conn, index=_options("langgraph_store.json")["store_index"])
    for i in range(5):
        await ours_store.aput(("small",), f"o{i}", {"text": f"the user likes coffee {i}"})
    rows = []
    for label, prefix, kw in [
        ("limit 10", NS, {}),
        ("limit 10, offset 100", NS, {"offset": 100}),
        ("5-item namespace", ("small",), {}),
    ]:
        texts = iter(queries())

        async def ours(prefix: Any = prefix, kw: Any = kw, texts: Any = texts) -> Any:
            return await ours_store.asearch(prefix, query=next(texts), limit=10, **kw)

        async def theirs(prefix: Any = prefix, kw: Any = kw, texts: Any = texts) -> Any:
            return await upstream.asearch(prefix, query=next(texts), limit=10, **kw)

        await interleaved(5, [ours, theirs])
        mine, up = await interleaved(n, [ours, theirs])
        rows.append(row(f"PostgreSQL (HNSW), {label}", mine, up))
    await conn.close()
    await storage.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--pg-schema", default=None)
    parser.add_argument("--queries", type=int, default=100)
    args = parser.parse_args()
    rows = ["| Query | Threadloom p50 (p99) | upstream LangGraph store p50 (p99) | ratio |"]
    rows.append("|---|---|---|---|")
    if args.items:
        rows += asyncio.run(sqlite_rows(args.items, args.queries))
    if args.pg_schema:
        rows += asyncio.run(postgres_rows(args.pg_schema, args.queries))
    print("\n".join(rows))


if __name__ == "__main__":
    main()
