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
from threadloom.graphs.offline_embeddings import WordLlamaEmbeddings
from threadloom.storage.base import Storage

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
