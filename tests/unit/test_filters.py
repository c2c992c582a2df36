"""The metadata filter language and jsonb-style containment (storage.filters), plus the SQLite
compilation of the same language, which must agree with the Python reference row for row."""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest

from threadloom.errors import Unprocessable
from threadloom.serde import dumps
from threadloom.storage.filters import contains, json_equal, matches, merge, validate
from threadloom.storage.postgres import sqlfilter as pg_sqlfilter
from threadloom.storage.sqlite.sqlfilter import (
    compile_contains,
    compile_filter,
    register_functions,
)

DOC = {
    "owner": "alice",
    "n": 1,
    "f": 1.5,
    "flag": True,
    "none": None,
    "tags": ["a", "b", {"k": 1}],
    "nested": {"x": {"y": [1, 2]}, "z": "s"},
    "json_like": "[1]",
    'we"ird': "q",
}


@pytest.mark.parametrize(
    ("doc", "needle", "expected"),
    [
        ({"a": 1, "b": 2}, {"a": 1}, True),
        ({"a": 1}, {"a": 1, "b": 2}, False),
        ({"a": {"b": 1, "c": 2}}, {"a": {"b": 1}}, True),
        ([1, 2, 3], [3, 1], True),
        ([1, 2], [1, 4], False),
        ([[1, 2], 3], [[2]], True),
        ({"a": [1, 2]}, {"a": 1}, False),  # no array-contains-primitive below the top level
        (["a"], "a", False),
        (True, 1, False),
        (1, True, False),
        (1, 1.0, True),
        ("1", 1, False),
        (None, None, True),
        ({"a": None}, {"a": None}, True),
        ({}, {"a": None}, False),
        ([{"id": 1, "x": 2}], [{"id": 1}], True),
        ({"a": 1}, {}, True),
        ([], [], True),
        ({"a": 1}, [], False),
    ],
)
def test_contains(doc: Any, needle: Any, expected: bool) -> None:
    assert contains(doc, needle) is expected


def test_json_equal_is_type_strict() -> None:
    assert json_equal(True, True) and not json_equal(True, 1) and not json_equal(0, False)
    assert json_equal({"a": [1, 2.0]}, {"a": [1.0, 2]})
    assert not json_equal([1, 2], [2, 1]) and not json_equal({"a": 1}, {"a": 1, "b": 2})
    assert not json_equal(None, 0) and not json_equal("a", ["a"])


@pytest.mark.parametrize(
    ("filter", "expected"),
    [
        ({}, True),
        ({"owner": "alice"}, True),
        ({"owner": "bob"}, False),
        ({"owner": {"$eq": "alice"}}, True),
        ({"n": 1}, True),
        ({"n": 1.0}, True),
        ({"n": True}, False),
        ({"flag": True}, True),
        ({"flag": 1}, False),
        ({"flag": {"$eq": False}}, False),
        ({"none": None}, True),
        ({"missing": None}, False),
        ({"missing": {"$eq": None}}, False),
        ({"f": 1.5}, True),
        ({"tags": ["a"]}, True),
        ({"tags": "a"}, False),
        ({"tags": {"$contains": "a"}}, True),
        ({"tags": {"$contains": ["a", "b"]}}, True),
        ({"tags": {"$contains": ["a", "z"]}}, False),
        ({"tags": {"$contains": {"k": 1}}}, True),
        ({"owner": {"$contains": "a"}}, False),
        ({"tags": {"$eq": ["a", "b", {"k": 1}]}}, True),
        ({"tags": {"$eq": ["a"]}}, False),
        ({"nested": {"x": {"y": [2]}}}, True),
        ({"nested": {"z": "t"}}, False),
        ({"json_like": "[1]"}, True),
        ({"json_like": [1]}, False),
        ({'we"ird': "q"}, True),
        ({"owner": "alice", "n": 2}, False),
        ({"$and": [{"owner": "alice"}, {"n": 1}]}, True),
        ({"$and": [{"owner": "alice"}, {"n": 2}]}, False),
        ({"$and": []}, True),
        ({"$or": []}, False),
        ({"$or": [{"owner": "bob"}, {"n": 1}]}, True),
        ({"$or": [{"owner": "bob"}, {"n": 2}]}, False),
        ({"$or": [{"owner": "bob"}, {"$and": [{"n": 1}, {"flag": True}]}]}, True),
        ({"n": {"$eq": 1, "$contains": 1}}, False),
    ],
)
def test_matches_and_sql_agree(filter: dict[str, Any], expected: bool) -> None:
    assert matches(DOC, filter) is expected
    assert _sql_match(DOC, filter) is expected


def test_matches_non_object_doc() -> None:
    assert matches(None, {}) is True
    assert matches(["a"], {"a": 1}) is False
    assert matches({"a": 1}, None) is True


@pytest.mark.parametrize(
    "bad",
    [
        [],
        "owner",
        {"$and": {"a": 1}},
        {"$or": [1]},
        {"$not": [{"a": 1}]},
        {"a": {"$in": [1]}},
        {"a": {"$eq": 1, "b": 2}},
        {"$or": [{"a": {"$gt": 1}}]},
    ],
)
def test_malformed_filters_raise(bad: Any) -> None:
    with pytest.raises(Unprocessable, match="Invalid filter"):
        validate(bad)
    with pytest.raises(Unprocessable):
        matches({"a": 1}, bad)
    with pytest.raises(Unprocessable):
        compile_filter("doc", bad if isinstance(bad, dict) else {"$and": [bad]})


def test_postgres_compilation_refuses_malformed_filters() -> None:
    """PostgreSQL's compiler raises the same 422 as SQLite's (no database needed to compile)."""
    for bad in ({"$not": [{"a": 1}]}, {"a": {"$in": [1]}}, {"a": {"$eq": 1, "b": 2}}):
        with pytest.raises(Unprocessable):
            pg_sqlfilter.compile_filter("doc", bad)


def test_malformed_branch_is_caught_even_if_short_circuited() -> None:
    with pytest.raises(Unprocessable):
        matches({"a": 1}, {"$or": [{"a": 1}, {"b": {"$nope": 1}}]})


def test_merge() -> None:
    assert merge(None, {}) is None
    assert merge({"a": 1}, None) == {"a": 1}
    assert merge({"a": 1}, {"b": 2}) == {"$and": [{"a": 1}, {"b": 2}]}


@pytest.mark.parametrize(
    "needle",
    [
        {"owner": "alice"},
        {"owner": "alice", "n": 1},
        {"tags": ["b"]},
        {"nested": {"x": {}}},
        {"flag": False},
        {"none": None},
        {"json_like": "[1]"},
        {"n": True},
    ],
)
def test_sql_containment_agrees(needle: dict[str, Any]) -> None:
    conn = _conn()
    sql, params = compile_contains("doc", needle)
    row = conn.execute(f"SELECT {sql} FROM t", params).fetchone()
    assert bool(row[0]) is contains(DOC, needle)


def test_scalar_equality_needs_no_python() -> None:
    sql, _ = compile_filter("doc", {"owner": "alice", "$and": [{"n": {"$eq": 1}}]})
    assert "tl_match" not in sql
    sql, _ = compile_filter("doc", {"tags": {"$contains": "a"}})
    assert "tl_match" in sql


def _conn() -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:")
    register_functions(conn)
    conn.execute("CREATE TABLE t (doc TEXT)")
    conn.execute("INSERT INTO t VALUES (?)", (dumps(DOC).decode(),))
    return conn


def _sql_match(doc: Any, filter: dict[str, Any]) -> bool:
    conn = _conn()
    sql, params = compile_filter("doc", filter)
    (value,) = conn.execute(f"SELECT {sql} FROM t", params).fetchone()
    return bool(value)
