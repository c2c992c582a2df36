"""The run list's fast path reads exactly the queries it can answer as the route would, and
leaves every other one to FastAPI (whose answer, errors included, stays the route's)."""

from __future__ import annotations

import pytest

from threadloom.api.run_list_fast_path import match, parse_query


def test_it_matches_only_a_threads_run_list() -> None:
    assert match("GET", "/threads/abc/runs") == "abc"
    assert match("POST", "/threads/abc/runs") is None
    assert match("GET", "/threads/abc/runs/r1") is None
    assert match("GET", "/threads//runs") is None
    assert match("GET", "/threads/a/b/runs") is None
    assert match("GET", "/runs") is None


@pytest.mark.parametrize(
    ("query", "parsed"),
    [
        (b"", (10, 0, None, None)),
        (b"limit=0", (0, 0, None, None)),
        (b"limit=1000&offset=9223372036854775807", (1000, 2**63 - 1, None, None)),
        (b"status=success&select=run_id&select=status", (10, 0, "success", ["run_id", "status"])),
        (b"limit=010&other=x", (10, 0, None, None)),  # unknown parameters are ignored
    ],
)
def test_plain_queries_are_read_as_the_route_reads_them(
    query: bytes, parsed: tuple[int, int, str | None, list[str] | None]
) -> None:
    assert parse_query(query) == parsed


@pytest.mark.parametrize(
    "query",
    [
        b"limit=-1",
        b"limit=1001",
        b"limit=",
        b"limit=1.5",
        b"limit=%2B5",
        b"offset=9223372036854775808",
        b"status=done",
        b"select=nope",
        b"limit=5&limit=6",
    ],
)
def test_anything_else_is_left_to_fastapi(query: bytes) -> None:
    assert parse_query(query) is None
