"""What differs between the SQL of the SQLite and PostgreSQL backends, as one small object.

The shared query builders (`storage/sql_builders.py`) take a `Dialect` and return `(sql,
params)`; each backend defines its own instance (`DIALECT` in its `sqlfilter.py`, so the
embedded shape never imports psycopg) and only executes what the builders return.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

Predicate = tuple[str, list[Any]]


@dataclass(frozen=True, slots=True)
class Dialect:
    param: str
    """The placeholder: `?` or `%s`."""
    true: str
    """The predicate that is always true, as the backend's filter compiler writes it."""
    insertion_order: str
    """The run table's column that breaks ties of `created_at` in insertion order."""
    false: str
    """The predicate that is always false."""
    any_array: bool
    """`col = ANY(%s)` with one list parameter (PostgreSQL) instead of `col IN (?, ?, …)`."""
    is_distinct: str
    """The NULL-safe inequality operator."""
    time: Callable[[datetime], Any]
    """A timestamp as the backend stores it (SQLite: integer microseconds)."""
    boolean: Callable[[bool], Any]
    """A boolean parameter."""
    icontains: str
    """Case-insensitive substring match with `{column}` and `{param}` (the pattern escaped by
    `like_pattern`)."""
    filter: Callable[[str, Mapping[str, Any] | None], Predicate]
    """The metadata filter language (`storage.filters`) compiled for a JSON column."""
    contains: Callable[[str, Any], Predicate]
    """Containment (`filters.contains`) compiled for a JSON column."""
    combine: Callable[..., Predicate]
    """AND of predicates, dropping trivially true ones."""
    ms_between: Callable[[str, str], str] = lambda start, end: ""
    """Milliseconds from one timestamp expression to another, as a number."""
    ms_since_text: Callable[[str, str], str] = lambda start, text: ""
    """Milliseconds from a timestamp expression to an ISO 8601 text expression."""
    json_text: Callable[[str, str], str] = lambda column, path: ""
    """The text at a dotted path (`0.ended_at`: first element's key) of a JSON column."""
    json_number: Callable[[str, str], str] = lambda column, key: ""
    """The number at a top-level key of a JSON column (NULL when absent)."""
    skip_locked: str = ""
    """Appended to a SELECT that claims rows: lock them, skip rows others hold (PostgreSQL;
    SQLite has one writer at a time)."""

    def member(self, column: str, values: Sequence[Any]) -> tuple[str, list[Any]]:
        """`column` is one of `values` (never empty)."""
        if self.any_array:
            return f"{column} = ANY({self.param})", [list(values)]
        return f"{column} IN ({', '.join(self.param for _ in values)})", list(values)


def like_pattern(text: str) -> str:
    """`%text%` with LIKE's wildcards escaped (backslash is the escape character)."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"
