"""A thread search by metadata reads the matching threads through `thread_metadata_index`
(migration 0007) instead of parsing every thread's JSON, and the index follows every way a
thread's metadata changes: create, patch, a run's stamps, delete."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from threadloom.storage.sqlite import SqliteStorage


def _index(conn: sqlite3.Connection, thread_id: str) -> set[tuple[str, object]]:
    rows = conn.execute(
        "SELECT key, atom FROM thread_metadata_index WHERE thread = ?", (thread_id,)
    )
    return {(k, a) for k, a in rows}


async def test_metadata_search_walks_the_index_newest_first(tmp_path: Path) -> None:
    storage = SqliteStorage(tmp_path / "threadloom.db")
    await storage.open()
    try:
        for i in range(40):
            await storage.threads.create(
                thread_id=f"t{i}", metadata={"user": i % 10, "tier": "pro" if i % 2 else "free"}
            )
        conn: sqlite3.Connection = storage._db.conn  # type: ignore[union-attr]
        statements: list[str] = []
        conn.set_trace_callback(statements.append)
        page = await storage.threads.search(metadata={"user": 7, "tier": "pro"}, limit=10, offset=0)
        conn.set_trace_callback(None)
        assert [t.thread_id for t in page.items] == ["t37", "t27", "t17", "t7"]
        searched = [s for s in statements if "FROM thread_metadata_index JOIN threads" in s]
        assert searched, statements
        plan = [row[3] for row in conn.execute(f"EXPLAIN QUERY PLAN {searched[0]}")]
        # the rarest entry (`user`, 4 threads, against 20 for `tier`) drives, in index order
        assert "key = 'user'" in searched[0], searched[0]
        assert any("USING COVERING INDEX thread_metadata_index_entry" in p for p in plan), plan
        assert not any("TEMP B-TREE" in p for p in plan), plan
        assert not any(p.startswith("SCAN threads") for p in plan), plan
    finally:
        await storage.close()


async def test_the_index_is_a_superset_and_the_answer_stays_exact(tmp_path: Path) -> None:
    storage = SqliteStorage(tmp_path / "threadloom.db")
    await storage.open()
    try:
        # true and 1 share an index entry, "7" and 7 do not; the exact check tells them apart
        await storage.threads.create(thread_id="bool", metadata={"flag": True, "n": "7"})
        await storage.threads.create(thread_id="int", metadata={"flag": 1, "n": 7})
        await storage.threads.create(thread_id="nested", metadata={"flag": {"x": 1}, "n": 7.0})

        async def found(metadata: dict[str, object]) -> list[str]:
            page = await storage.threads.search(metadata=metadata, limit=10, offset=0)
            return sorted(t.thread_id for t in page.items)

        assert await found({"flag": True}) == ["bool"]
        assert await found({"flag": 1}) == ["int"]
        assert await found({"n": 7}) == ["int", "nested"]
        assert await found({"n": "7"}) == ["bool"]
        assert await found({"flag": {"x": 1}}) == ["nested"]  # not indexed: scanned
        assert await storage.threads.count(metadata={"n": 7}) == 2
    finally:
        await storage.close()


async def test_the_index_follows_the_metadata(tmp_path: Path) -> None:
    storage = SqliteStorage(tmp_path / "threadloom.db")
    await storage.open()
    try:
        conn: sqlite3.Connection = storage._db.conn  # type: ignore[union-attr]
        await storage.threads.create(thread_id="t", metadata={"user": 1, "deep": {"a": 1}})
        assert _index(conn, "t") == {("user", 1)}
        await storage.threads.update("t", metadata={"user": 2, "team": "x"})
        assert _index(conn, "t") == {("user", 2), ("team", "x")}
        page = await storage.threads.search(metadata={"user": 1}, limit=10, offset=0)
        assert page.items == []
        await storage.threads.delete("t")
        assert _index(conn, "t") == set()
    finally:
        await storage.close()


async def test_other_orders_narrow_or_scan_and_count_through_the_index(
    tmp_path: Path,
) -> None:
    storage = SqliteStorage(tmp_path / "threadloom.db")
    await storage.open()
    try:
        for i in range(300):
            await storage.threads.create(thread_id=f"t{i:03}", metadata={"all": 1, "n": i})
        conn: sqlite3.Connection = storage._db.conn  # type: ignore[union-attr]

        async def traced(metadata: dict[str, object]) -> tuple[list[str], int, list[str]]:
            statements: list[str] = []
            conn.set_trace_callback(statements.append)
            page = await storage.threads.search(
                metadata=metadata, limit=10, offset=0, sort_by="thread_id", sort_order="asc"
            )
            conn.set_trace_callback(None)
            selects = [s for s in statements if s.startswith("SELECT") and "threads" in s]
            return [t.thread_id for t in page.items], page.total, selects

        ids, total, selects = await traced({"all": 1})
        assert ids == [f"t{i:03}" for i in range(10)]
        assert total == 210  # the capped count: offset + limit + 200
        page_sql, count_sql = selects[-2], selects[-1]
        assert "thread_metadata_index" not in page_sql  # 300 candidates: the scan is cheaper
        assert count_sql.startswith("SELECT COUNT") and "thread_metadata_index JOIN" in count_sql
        ids, total, selects = await traced({"n": 5})
        assert (ids, total) == (["t005"], 1)
        assert "thread_id IN (SELECT thread FROM thread_metadata_index" in selects[-1]
        assert await storage.threads.count(metadata={"all": 1}) == 300
        newest = await storage.threads.search(metadata={"all": 1}, limit=5, offset=295)
        assert [t.thread_id for t in newest.items] == [f"t{i:03}" for i in range(4, -1, -1)]
    finally:
        await storage.close()
