"""The embedded store's semantic search (`storage/sqlite/vector_index.py`) returns exactly what
scoring every vector would: same items, same order, same scores, for every namespace prefix,
filter, offset and limit; and it follows every change to the vectors — deletes, re-puts, TTL
expiry, writes by another connection, a pruned change log, a database indexed before the log
existed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from langgraph.store.sqlite import SqliteStore

from tests.support.embeddings import DIMS, HashEmbeddings, cosine
from threadloom.storage.sqlite import vector_index
from threadloom.storage.sqlite.storage import SqliteStorage
from threadloom.storage.sqlite.store import InlineSqliteStore, vector_connection

FIELDS = ["text", "alt"]


def index_config() -> dict[str, Any]:
    return {"dims": DIMS, "embed": HashEmbeddings(), "fields": FIELDS, "text_fields": FIELDS}


async def open_storage(path: Path) -> SqliteStorage:
    storage = SqliteStorage(path, store_index=index_config(), store_ttl={"refresh_on_read": True})
    await storage.open()
    return storage


@pytest.fixture
async def storage(tmp_path: Path) -> AsyncIterator[SqliteStorage]:
    storage = await open_storage(tmp_path / "store.db")
    try:
        yield storage
    finally:
        await storage.close()


Items = dict[tuple[tuple[str, ...], str], dict[str, Any]]
NAMESPACES = [("a", "x"), ("a", "y"), ("a", "x", "deep"), ("b",), ("ab",)]


async def load(store: Any, count: int = 400) -> Items:
    """Items over several namespaces; some with two indexed fields, some not indexed."""
    items: Items = {}
    for i in range(count):
        ns = NAMESPACES[i % len(NAMESPACES)]
        value: dict[str, Any] = {"text": f"item {i}", "n": i % 7, "kind": ["fact", "pref"][i % 2]}
        if i % 3 == 0:
            value["alt"] = f"other {i}"
        index = False if i % 11 == 0 else None
        await store.aput(ns, f"k{i}", value, index=index)
        items[(ns, f"k{i}")] = {"value": value, "indexed": index is None}
    return items


def passes(value: dict[str, Any], filter: dict[str, Any] | None) -> bool:
    for key, want in (filter or {}).items():
        have = value.get(key)
        if isinstance(want, dict):
            for op, arg in want.items():
                ok = {
                    "$eq": have == arg,
                    "$ne": have != arg,
                    "$gt": have is not None and have > arg,
                    "$gte": have is not None and have >= arg,
                    "$lt": have is not None and have < arg,
                    "$lte": have is not None and have <= arg,
                }[op]
                if not ok:
                    return False
        elif have != want:
            return False
    return True


def brute_force(
    items: Items,
    query: str,
    prefix: tuple[str, ...],
    filter: dict[str, Any] | None,
    limit: int,
    offset: int,
) -> list[tuple[str, str, float]]:
    """Score every indexed field of every item; an item's score is its best field's."""
    scored = []
    for (ns, key), item in items.items():
        if not item["indexed"] or ns[: len(prefix)] != prefix or not passes(item["value"], filter):
            continue
        texts = [item["value"][f] for f in FIELDS if f in item["value"]]
        best = max(cosine(query, t) for t in texts)
        scored.append((".".join(ns), key, best))
    scored.sort(key=lambda r: (-r[2], r[0], r[1]))
    return scored[offset : offset + limit]


async def search(store: Any, query: str, prefix: tuple[str, ...], **kw: Any) -> list[Any]:
    return [
        (".".join(i.namespace), i.key, i.score)
        for i in await store.asearch(prefix, query=query, **kw)
    ]


def same(found: list[Any], expected: list[Any]) -> None:
    assert [(ns, key) for ns, key, _ in found] == [(ns, key) for ns, key, _ in expected]
    assert np.allclose([s for *_, s in found], [s for *_, s in expected], atol=1e-5)


CASES = [
    ((), None, 10, 0),
    (("a",), None, 10, 0),
    (("a", "x"), None, 5, 20),
    (("b",), {"n": 3}, 10, 0),
    ((), {"n": 3}, 10, 20),
    ((), {"n": {"$gt": 2}, "kind": "fact"}, 25, 40),
    (("a",), {"kind": "pref"}, 50, 100),
    ((), None, 100, 290),
    ((), {"n": 6}, 10, 1000),
    (("a", "x", "deep"), {"n": {"$lte": 1}}, 3, 2),
    (("nowhere",), None, 10, 0),
]


@pytest.mark.parametrize(("prefix", "filter", "limit", "offset"), CASES)
async def test_ranking_is_the_brute_force_one(
    storage: SqliteStorage,
    prefix: tuple[str, ...],
    filter: dict[str, Any] | None,
    limit: int,
    offset: int,
) -> None:
    items = await load(storage.store)
    for query in ["item 7", "other 33", "something else entirely"]:
        found = await search(
            storage.store, query, prefix, filter=filter, limit=limit, offset=offset
        )
        same(found, brute_force(items, query, prefix, filter, limit, offset))


async def test_small_first_rounds_grow_until_the_page_is_certain(
    storage: SqliteStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    items = await load(storage.store)
    monkeypatch.setattr(vector_index, "FIRST_K", 1)
    monkeypatch.setattr(vector_index, "GROWTH", 2)
    for prefix, filter, limit, offset in CASES:
        found = await search(
            storage.store, "item 12", prefix, filter=filter, limit=limit, offset=offset
        )
        same(found, brute_force(items, "item 12", prefix, filter, limit, offset))


def vector_rows(storage: SqliteStorage) -> int:
    return int(storage.store.conn.execute("SELECT count(*) FROM store_vectors").fetchone()[0])  # type: ignore[attr-defined]


async def test_deleting_an_item_removes_its_vectors(storage: SqliteStorage) -> None:
    store = storage.store
    await store.aput(("d",), "gone", {"text": "item 1", "alt": "other 1"})
    await store.aput(("d",), "kept", {"text": "item 2"})
    assert (await search(store, "item 1", ("d",)))[0][1] == "gone"
    await store.adelete(("d",), "gone")
    assert [key for _, key, _ in await search(store, "item 1", ("d",))] == ["kept"]
    assert vector_rows(storage) == 1 and len(store.vectors) == 1  # type: ignore[attr-defined]


async def test_re_put_re_indexes(storage: SqliteStorage) -> None:
    store = storage.store
    await store.aput(("r",), "a", {"text": "item 1"})
    await store.aput(("r",), "b", {"text": "item 2"})
    assert (await search(store, "item 1", ("r",)))[0][1:] == ("a", pytest.approx(1.0))
    await store.aput(("r",), "a", {"text": "item 3"})
    assert (await search(store, "item 1", ("r",)))[0][2] < 0.99
    assert (await search(store, "item 3", ("r",)))[0][1:] == ("a", pytest.approx(1.0))
    await store.aput(("r",), "b", {"text": "item 2"}, index=False)
    assert [key for _, key, _ in await search(store, "item 2", ("r",))] == ["a"]
    assert len(store.vectors) == vector_rows(storage) == 1  # type: ignore[attr-defined]


async def test_expired_items_never_come_back_from_a_query(storage: SqliteStorage) -> None:
    store = storage.store
    await store.aput(("t",), "old", {"text": "item 1"}, ttl=60)
    await store.aput(("t",), "new", {"text": "item 2"})
    assert (await search(store, "item 1", ("t",)))[0][1] == "old"
    store.conn.execute(  # type: ignore[attr-defined]
        "UPDATE store SET expires_at = '2000-01-01 00:00:00' WHERE key = 'old'"
    )
    assert [key for _, key, _ in await search(store, "item 1", ("t",))] == ["new"]
    assert len(store.vectors) == vector_rows(storage) == 1  # type: ignore[attr-defined]


async def test_another_connection_s_writes_are_seen(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    first, second = await open_storage(path), await open_storage(path)
    try:
        await first.store.aput(("s",), "a", {"text": "item 1"})
        assert [k for _, k, _ in await search(second.store, "item 1", ("s",))] == ["a"]
        await first.store.aput(("s",), "a", {"text": "item 5"})
        await first.store.aput(("s",), "b", {"text": "item 1"})
        assert [k for _, k, _ in await search(second.store, "item 1", ("s",))] == ["b", "a"]
        await first.store.adelete(("s",), "b")
        assert [k for _, k, _ in await search(second.store, "item 1", ("s",))] == ["a"]
    finally:
        await first.close()
        await second.close()


async def test_a_pruned_log_makes_a_late_reader_reload(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(vector_index, "LOG_PRUNE_AT", 10)
    monkeypatch.setattr(vector_index, "LOG_KEEP", 2)
    path = tmp_path / "pruned.db"
    writer, reader = await open_storage(path), await open_storage(path)
    try:
        items = await load(writer.store, 40)
        await search(reader.store, "item 3", ())
        for i in range(40, 80):  # the writer's searches prune what the reader has not read
            await writer.store.aput(("b",), f"k{i}", {"text": f"item {i}", "n": 0, "kind": "x"})
            items[(("b",), f"k{i}")] = {"value": {"text": f"item {i}"}, "indexed": True}
            await search(writer.store, "item 3", ())
        count = writer.store.conn.execute("SELECT count(*) FROM store_vector_changes")  # type: ignore[attr-defined]
        assert count.fetchone()[0] < 40
        same(
            await search(reader.store, "item 41", (), limit=20),
            brute_force(items, "item 41", (), None, 20, 0),
        )
    finally:
        await writer.close()
        await reader.close()


async def test_vectors_indexed_before_the_change_log_existed_are_searched(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    conn = vector_connection(str(path), 1000)
    old = SqliteStore(conn, index=index_config())  # type: ignore[arg-type]
    old.setup()
    old.put(("o",), "a", {"text": "item 1"})
    old.put(("o",), "b", {"text": "item 2"})
    conn.close()
    storage = await open_storage(path)
    try:
        assert isinstance(storage.store, InlineSqliteStore)
        assert [k for _, k, _ in await search(storage.store, "item 2", ("o",))] == ["b", "a"]
    finally:
        await storage.close()
