"""The long-term memory store every backend hands to graphs and to the Store API: expired items
are never read (before any sweep), the sweep deletes them, updates keep `created_at`, listings
are newest first, and with `store.index` the offline model ranks by meaning."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.contract.backends import BackendFactory
from tests.support.embeddings import DIMS, HashEmbeddings, cosine
from threadloom.graphs.offline_embeddings import WordLlamaEmbeddings
from threadloom.storage.base import Storage
from threadloom.storage.postgres import store as pg_store

TTL = {"refresh_on_read": True, "omit_expired": True}


async def _open(backend: BackendFactory, tmp_path: Path, **store: Any) -> Storage:
    storage = await backend(tmp_path)
    storage.store_index = store.get("index")  # type: ignore[attr-defined]
    storage.store_ttl = store.get("ttl", TTL)  # type: ignore[attr-defined]
    await storage.open()
    return storage


@pytest.fixture
async def memory(backend: BackendFactory, tmp_path: Path) -> AsyncIterator[Storage]:
    storage = await _open(backend, tmp_path)
    try:
        yield storage
    finally:
        await storage.close()


@pytest.fixture
async def indexed(backend: BackendFactory, tmp_path: Path) -> AsyncIterator[Storage]:
    fields = ["text"]
    index = {"dims": 64, "embed": WordLlamaEmbeddings(64), "fields": fields, "text_fields": fields}
    storage = await _open(backend, tmp_path, index=index)
    try:
        yield storage
    finally:
        await storage.close()


async def test_expired_items_are_never_read_and_the_sweep_deletes_them(memory: Storage) -> None:
    store = memory.store
    await store.aput(("u", "facts"), "short", {"v": 1}, ttl=0.001)  # 60 ms
    await store.aput(("u", "facts"), "kept", {"v": 2})
    await store.aput(("u", "gone"), "short", {"v": 3}, ttl=0.001)
    await asyncio.sleep(0.3)
    assert await store.aget(("u", "facts"), "short", refresh_ttl=False) is None
    assert [i.key for i in await store.asearch(("u",), refresh_ttl=False)] == ["kept"]
    assert await store.alist_namespaces(prefix=("u",)) == [("u", "facts")]
    await store.aput(("u", "later"), "x", {"v": 4}, ttl=0.001)
    await asyncio.sleep(0.3)
    assert await memory.sweep_store() >= 1
    assert await memory.sweep_store() == 0


async def test_a_read_refreshes_a_ttl(memory: Storage) -> None:
    store = memory.store
    # 3 s: SQLite's refresh (upstream's DATETIME()) has whole-second resolution
    await store.aput(("r",), "k", {"v": 1}, ttl=0.05)
    for _ in range(8):
        await asyncio.sleep(0.5)
        assert await store.aget(("r",), "k", refresh_ttl=True) is not None


async def test_update_keeps_created_at_and_listing_is_newest_first(memory: Storage) -> None:
    store = memory.store
    await store.aput(("c",), "a", {"n": 1})
    first = await store.aget(("c",), "a")
    await store.aput(("c",), "b", {"n": 2})
    await asyncio.sleep(0.01)
    await store.aput(("c",), "a", {"n": 3})
    again = await store.aget(("c",), "a")
    assert first is not None and again is not None
    assert again.created_at == first.created_at and again.updated_at > first.updated_at
    assert [i.key for i in await store.asearch(("c",))] == ["a", "b"]


async def test_semantic_search_ranks_by_meaning(indexed: Storage) -> None:
    store = indexed.store
    facts = {
        "home": "I live in Lisbon",
        "food": "My favourite food is sushi",
        "job": "I work as a nurse at the hospital",
    }
    for key, text in facts.items():
        await store.aput(("m",), key, {"text": text})
    await store.aput(("m",), "unindexed", {"text": "I live in Lisbon"}, index=False)
    found = await store.asearch(("m",), query="where does the user live?")
    assert found[0].key == "home" and found[0].score is not None
    assert "unindexed" not in [i.key for i in found]
    # re-putting with index=False drops the old vectors
    await store.aput(("m",), "home", {"text": "I live in Lisbon"}, index=False)
    assert "home" not in [i.key for i in await store.asearch(("m",), query="where do I live")]


@pytest.fixture
async def hashed(backend: BackendFactory, tmp_path: Path) -> AsyncIterator[Storage]:
    fields = ["text"]
    index = {"dims": DIMS, "embed": HashEmbeddings(), "fields": fields, "text_fields": fields}
    storage = await _open(backend, tmp_path, index=index)
    try:
        yield storage
    finally:
        await storage.close()


def _expected(texts: dict[str, str], query: str, offset: int, limit: int) -> list[str]:
    ranked = sorted(texts, key=lambda key: -cosine(query, texts[key]))
    return ranked[offset : offset + limit]


async def _keys(store: Any, prefix: tuple[str, ...], query: str, **kw: Any) -> list[str]:
    return [item.key for item in await store.asearch(prefix, query=query, **kw)]


@pytest.mark.parametrize("small_namespace", [pg_store.SMALL_NAMESPACE, 0])
async def test_a_query_finds_every_match_of_a_small_namespace_or_filter(
    hashed: Storage, small_namespace: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The page is the brute-force one even when the namespace prefix or the filter rejects
    almost every nearest vector (PostgreSQL: past HNSW's first `ef_search` candidates; with
    `SMALL_NAMESPACE` 0 every prefix goes through the index first)."""
    monkeypatch.setattr(pg_store, "SMALL_NAMESPACE", small_namespace)
    store = hashed.store
    big = {f"b{i}": f"text {i}" for i in range(300)}
    small = {f"s{i}": f"small {i}" for i in range(5)}
    for key, text in big.items():
        await store.aput(("big",), key, {"text": text, "n": int(key[1:]) % 60})
    for key, text in small.items():
        await store.aput(("small",), key, {"text": text})
    query = "text 17"
    assert await _keys(store, ("small",), query) == _expected(small, query, 0, 10)
    picked = {k: t for k, t in big.items() if int(k[1:]) % 60 == 17}
    assert await _keys(store, (), query, filter={"n": 17}) == _expected(picked, query, 0, 10)
    # a page past twice the limit (upstream's candidate limit ignored the offset)
    assert await _keys(store, ("big",), query, limit=5, offset=30) == _expected(big, query, 30, 5)


async def test_a_query_never_returns_an_expired_item(hashed: Storage) -> None:
    store = hashed.store
    await store.aput(("t",), "short", {"text": "text 1"}, ttl=0.001)  # 60 ms
    await store.aput(("t",), "kept", {"text": "text 2"})
    await asyncio.sleep(0.3)
    assert await _keys(store, ("t",), "text 1", refresh_ttl=False) == ["kept"]


async def test_a_query_follows_deletes_and_re_puts(hashed: Storage) -> None:
    store = hashed.store
    await store.aput(("d",), "a", {"text": "text 1"})
    await store.aput(("d",), "b", {"text": "text 2"})
    assert (await _keys(store, ("d",), "text 1"))[0] == "a"
    await store.adelete(("d",), "a")
    assert await _keys(store, ("d",), "text 1") == ["b"]
    await store.aput(("d",), "b", {"text": "text 1"})  # re-put: its vector is the new text's
    [found] = await store.asearch(("d",), query="text 1")
    assert found.key == "b" and found.score == pytest.approx(1.0, abs=1e-5)
