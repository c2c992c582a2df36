"""Filters and containment as SQLite predicates over JSON TEXT columns.

The common case — top-level equality on a scalar (`{"owner": "alice"}`) — compiles to SQLite's
own `json_extract`/`json_type`, so no Python runs per row. Anything else (nested objects,
arrays, `$contains`) goes to the `tl_match` / `tl_contains` SQL functions, which call
`storage.filters` so the semantics stay exactly those documented there.
"""

from __future__ import annotations

import functools
import math
import sqlite3
from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from threadloom.errors import Unprocessable
from threadloom.storage import filters as flt
from threadloom.storage.dialect import Dialect
from threadloom.storage.paging import order_by, page_bounds  # noqa: F401 - re-exported
from threadloom.storage.records import search_count_cap
from threadloom.storage.sqlite.db import jdump, to_us

Predicate = tuple[str, list[Any]]
TRUE: Predicate = ("1", [])


@functools.lru_cache(maxsize=256)
def _parsed(text: str) -> Any:
    return orjson.loads(text)


def _tl_match(doc: str | None, filter_text: str) -> int:
    return int(flt.evaluate(orjson.loads(doc) if doc else {}, _parsed(filter_text)))


def _tl_contains(doc: str | None, needle_text: str) -> int:
    return int(flt.contains(orjson.loads(doc) if doc else None, _parsed(needle_text)))


def register_functions(conn: sqlite3.Connection) -> None:
    """Install the Python fallbacks on a connection (call on the connection's thread)."""
    conn.create_function("tl_match", 2, _tl_match, deterministic=True)
    conn.create_function("tl_contains", 2, _tl_contains, deterministic=True)


def _path(key: str) -> str | None:
    if '"' in key or "\\" in key:
        return None
    return f'$."{key}"'


def _scalar_equal(column: str, key: str, value: Any) -> Predicate | None:
    """`doc[key]` equals a scalar, in pure SQL; None when it cannot be expressed that way."""
    path = _path(key)
    if path is None:
        return None
    if value is None:
        return f"json_type({column}, ?) = 'null'", [path]
    if isinstance(value, bool):
        return f"json_type({column}, ?) = ?", [path, "true" if value else "false"]
    if isinstance(value, (int, float)):
        if isinstance(value, int) and not -(2**63) <= value < 2**63:
            return None
        return (
            f"(json_extract({column}, ?) = ? AND json_type({column}, ?) IN ('integer', 'real'))",
            [path, value, path],
        )
    if isinstance(value, str):
        if value.startswith(("[", "{")):
            # json_extract returns arrays/objects as JSON text: check the type too
            return (
                f"(json_extract({column}, ?) = ? AND json_type({column}, ?) = 'text')",
                [path, value, path],
            )
        return f"json_extract({column}, ?) = ?", [path, value]
    return None


def _and(parts: list[Predicate]) -> Predicate:
    if not parts:
        return TRUE
    if len(parts) == 1:
        return parts[0]
    return " AND ".join(f"({sql})" for sql, _ in parts), [p for _, ps in parts for p in ps]


def _compile(column: str, filter: Mapping[str, Any]) -> Predicate:
    parts: list[Predicate] = []
    rest: dict[str, Any] = {}
    for key, operand in filter.items():
        if key == "$and":
            parts.extend(_compile(column, sub) for sub in operand)
            continue
        if key == "$or":
            if not operand:
                parts.append(("0", []))
                continue
            subs = [_compile(column, sub) for sub in operand]
            sql = " OR ".join(f"({s})" for s, _ in subs)
            parts.append((sql, [p for _, ps in subs for p in ps]))
            continue
        scalar = operand
        if isinstance(operand, Mapping) and list(operand) == ["$eq"]:
            scalar = operand["$eq"]
        compiled = (
            None
            if isinstance(scalar, (Mapping, list, tuple))
            else _scalar_equal(column, key, scalar)
        )
        if compiled is None:
            rest[key] = operand
        else:
            parts.append(compiled)
    if rest:
        parts.append((f"tl_match({column}, ?)", [jdump(rest)]))
    return _and(parts)


def compile_filter(column: str, filter: Mapping[str, Any] | None) -> Predicate:
    """A predicate for `filters.matches(column's JSON, filter)`; validates the filter."""
    if not filter:
        return TRUE
    return _compile(column, flt.validate(filter))


def compile_contains(column: str, needle: Any) -> Predicate:
    """A predicate for `filters.contains(column's JSON, needle)` (search `metadata`/`values`)."""
    if needle is None:
        return TRUE
    if not isinstance(needle, Mapping):
        return f"tl_contains({column}, ?)", [jdump(needle)]
    parts: list[Predicate] = []
    rest: dict[str, Any] = {}
    for key, value in needle.items():
        if not isinstance(key, str):
            raise Unprocessable(f"Invalid containment filter: key {key!r} is not a string")
        compiled = (
            None if isinstance(value, (Mapping, list, tuple)) else _scalar_equal(column, key, value)
        )
        if compiled is None:
            rest[key] = value
        else:
            parts.append(compiled)
    if rest:
        parts.append((f"tl_contains({column}, ?)", [jdump(rest)]))
    return _and(parts)


_PROBE = "thread_id IN (SELECT thread FROM thread_metadata_index WHERE key = ? AND atom = ?)"
_CANDIDATES = (
    "SELECT COUNT(*) FROM (SELECT 1 FROM thread_metadata_index WHERE key = ? AND atom = ? LIMIT ?)"
)


def _indexed_entries(needle: Any) -> list[tuple[str, Any]]:
    """The scalar top-level entries of a metadata containment `needle` that
    `thread_metadata_index` holds (migration 0007); booleans as SQLite's JSON gives them."""
    if not isinstance(needle, Mapping):
        return []
    out: list[tuple[str, Any]] = []
    for key, value in needle.items():
        if not isinstance(key, str) or value is None:
            continue
        if isinstance(value, bool):
            value = int(value)
        elif isinstance(value, int):
            if not -(2**63) <= value < 2**63:
                continue
        elif not isinstance(value, (float, str)):
            continue
        out.append((key, value))
    return out


INDEXED_FROM = (
    "thread_metadata_index JOIN threads ON threads.thread_id = thread_metadata_index.thread"
)
"""Threads through their metadata entries (migration 0007). The index's columns (`key`, `atom`,
`created`, `thread`) are named apart from the threads', so a search's predicates stay valid."""


def metadata_driver(conn: sqlite3.Connection, needle: Any) -> Predicate | None:
    """The index entries a metadata search can walk (`key = ? AND atom = ?` over
    INDEXED_FROM): its rarest indexed scalar, counted up to DRIVER_COUNT_CAP on the covering
    index when there are several; None when it has none (nested values, arrays, nulls only)."""
    entries = _indexed_entries(needle)
    if not entries:
        return None
    if len(entries) > 1:
        counts = [
            conn.execute(_CANDIDATES, (k, v, DRIVER_COUNT_CAP)).fetchone()[0] for k, v in entries
        ]
        entries = [entries[counts.index(min(counts))]]
    key, value = entries[0]
    return "key = ? AND atom = ?", [key, value]


DRIVER_COUNT_CAP = 1000


def indexed_order(sort_order: str) -> str:
    """The default order (`created_at`, then `thread_id`), in the index's own columns, so the
    walk needs no sort and stops when the page is full."""
    direction = "asc" if str(sort_order).lower() == "asc" else "desc"
    return (
        f"ORDER BY thread_metadata_index.created {direction}, "
        f"thread_metadata_index.thread {direction}"
    )


def metadata_narrowing(
    conn: sqlite3.Connection, needle: Any, *, page: int | None
) -> Predicate | None:
    """The threads a metadata containment can match, from `thread_metadata_index`: a superset,
    which the exact check after it narrows. None: reading the threads in the page's order and
    checking each is cheaper.

    Reading the candidates costs about their number; scanning in the page's order costs about
    threads x `page` / candidates rows until the page is full. So the index is used when the
    rarest wanted entry has fewer than ~sqrt(threads x page / 4) candidates (counted up to
    that, on the covering index), and always for a count (`page=None`), which reads every
    match either way."""
    entries = _indexed_entries(needle)
    if not entries:
        return None
    if page is not None:
        (threads,) = conn.execute("SELECT COALESCE(MAX(rowid), 0) FROM threads").fetchone()
        cap = max(64, math.isqrt(threads * page // 4))
        counts = [conn.execute(_CANDIDATES, (k, v, cap)).fetchone()[0] for k, v in entries]
        best = min(counts)
        if best >= cap:
            return None
        entries = [entries[counts.index(best)]]
    return _and([(_PROBE, [key, value]) for key, value in entries])


def combine(*predicates: Predicate) -> Predicate:
    """AND predicates, dropping trivially true ones."""
    return _and([p for p in predicates if p[0] != "1"])


def _time(dt: Any) -> int | None:
    return to_us(dt)


def _json_path(path: str) -> str:
    """`0.ended_at` → `$[0].ended_at` (keys are the code's own, never user input)."""
    out = "$"
    for part in path.split("."):
        out += f"[{part}]" if part.isdigit() else f".{part}"
    return out


DIALECT = Dialect(
    param="?",
    true="1",
    false="0",
    insertion_order="rowid",
    any_array=False,
    is_distinct="IS NOT",
    time=_time,
    boolean=int,
    # LIKE is case-insensitive for ASCII in SQLite
    icontains="{column} LIKE {param} ESCAPE '\\'",
    filter=compile_filter,
    contains=compile_contains,
    combine=combine,
    # timestamps are integer microseconds
    ms_between=lambda start, end: f"(({end}) - ({start})) / 1000.0",
    ms_since_text=lambda start, text: (
        f"((julianday({text}) - 2440587.5) * 86400000.0 - ({start}) / 1000.0)"
    ),
    json_text=lambda column, path: f"json_extract({column}, '{_json_path(path)}')",
    json_number=lambda column, key: f"json_extract({column}, '$.{key}')",
)


def read_page(
    conn: sqlite3.Connection,
    table: str,
    columns: str,
    where: str,
    params: Sequence[Any],
    order: str,
    limit: int,
    offset: int,
    counted: tuple[str, Predicate] | None = None,
) -> tuple[list[tuple[Any, ...]], int]:
    """One page of rows and the search total, counted only up to the cap (a short first page
    is its own total, so most searches cost one query). `counted`: a FROM clause and a WHERE
    predicate that count the same matches faster (an index joined to `table`)."""
    rows = conn.execute(
        f"SELECT {columns} FROM {table} WHERE {where} {order} LIMIT ? OFFSET ?",
        [*params, limit, offset],
    ).fetchall()
    if offset == 0 and len(rows) < limit:
        return rows, len(rows)
    source, (count_where, count_params) = counted or (table, (where, list(params)))
    (total,) = conn.execute(
        f"SELECT COUNT(*) FROM (SELECT 1 FROM {source} WHERE {count_where} LIMIT ?)",
        [*count_params, search_count_cap(limit, offset)],
    ).fetchone()
    return rows, total
