"""The jsonb compilation of the filter language agrees with `filters.matches` / `contains`.

Every (document, filter) pair of a small corpus is evaluated both in Python and by PostgreSQL.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from typing import Any

import psycopg
import pytest

from tests.support.pg import require_postgres
from threadloom.storage.filters import contains, matches
from threadloom.storage.postgres.sqlfilter import compile_contains, compile_filter, jsonb

DOCS: list[Any] = [
    {
        "owner": "alice",
        "n": 1,
        "f": 1.5,
        "flag": True,
        "none": None,
        "tags": ["a", "b", {"k": 1}],
        "nested": {"x": {"y": [1, 2]}, "z": "s"},
        "json_like": "[1]",
        'we"ird': "q",
        "pct%": "100%",
    },
    {"owner": "bob", "n": 1.0, "flag": False, "tags": [], "nested": {"x": 1}},
    {"owner": ["alice"], "n": "1", "tags": "a"},
    {},
]

FILTERS: list[dict[str, Any]] = [
    {},
    {"owner": "alice"},
    {"owner": "bob"},
    {"owner": {"$eq": "alice"}},
    {"owner": ["alice"]},
    {"owner": {"$eq": ["alice"]}},
    {"owner": {"$contains": "alice"}},
    {"n": 1},
    {"n": 1.0},
    {"n": "1"},
    {"n": True},
    {"n": {"$eq": 1}},
    {"flag": True},
    {"flag": 1},
    {"flag": {"$eq": False}},
    {"none": None},
    {"missing": None},
    {"missing": {"$eq": None}},
    {"f": 1.5},
    {"tags": ["a"]},
    {"tags": []},
    {"tags": "a"},
    {"tags": {"$contains": "a"}},
    {"tags": {"$contains": ["a", "b"]}},
    {"tags": {"$contains": ["a", "z"]}},
    {"tags": {"$contains": {"k": 1}}},
    {"tags": {"$contains": []}},
    {"tags": {"$eq": ["a", "b", {"k": 1}]}},
    {"tags": {"$eq": []}},
    {"nested": {"x": {"y": [2]}}},
    {"nested": {"x": {}}},
    {"nested": {"z": "t"}},
    {"nested": {"$eq": {"x": 1}}},
    {"json_like": "[1]"},
    {"json_like": [1]},
    {'we"ird': "q"},
    {"pct%": "100%"},
    {"owner": "alice", "n": 2},
    {"$and": [{"owner": "alice"}, {"n": 1}]},
    {"$and": []},
    {"$or": []},
    {"$or": [{"owner": "bob"}, {"n": 1}]},
    {"$or": [{"owner": "bob"}, {"$and": [{"n": 1}, {"flag": True}]}]},
    {"n": {"$eq": 1, "$contains": 1}},
    {"owner": "alice", "$or": [{"flag": False}, {"tags": {"$contains": "b"}}]},
]

NEEDLES: list[Any] = [
    None,
    {},
    {"owner": "alice"},
    {"owner": "alice", "n": 1},
    {"tags": ["b"]},
    {"nested": {"x": {}}},
    {"none": None},
    {"n": True},
    ["a"],
    "alice",
    1,
]


@pytest.fixture(scope="module")
async def conn() -> AsyncIterator[psycopg.AsyncConnection[Any]]:
    async with await psycopg.AsyncConnection.connect(require_postgres(), autocommit=True) as c:
        yield c


async def _eval(conn: psycopg.AsyncConnection[Any], doc: Any, sql: str, params: list[Any]) -> bool:
    cur = await conn.execute(
        f"SELECT ({sql}) FROM (SELECT %s::jsonb AS doc) t", [*params, jsonb(doc)]
    )
    row = await cur.fetchone()
    assert row is not None
    return bool(row[0])


@pytest.mark.parametrize("filter", FILTERS, ids=[str(f) for f in FILTERS])
async def test_filter_agrees_with_matches(
    conn: psycopg.AsyncConnection[Any], filter: dict[str, Any]
) -> None:
    sql, params = compile_filter("doc", filter)
    assert "alice" not in sql  # values travel as parameters
    for doc in DOCS:
        assert await _eval(conn, doc, sql, params) is matches(doc, filter), doc


async def test_containment_agrees_with_contains(conn: psycopg.AsyncConnection[Any]) -> None:
    values: list[Any] = [*DOCS, ["a", "b"], "alice", 1, None]
    for doc, needle in itertools.product(values, NEEDLES):
        if doc is None or needle is None:
            continue
        sql, params = compile_contains("doc", needle)
        assert await _eval(conn, doc, sql, params) is contains(doc, needle), (doc, needle)
