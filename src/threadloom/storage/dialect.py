"""SQL text shared by the SQLite and PostgreSQL backends, written once and told the dialect.

A builder here takes a `Dialect` for the few places the two differ (placeholders, list
membership, the true literal, the insertion-order column) and returns `(sql, params)`; each
backend only executes it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Dialect:
    param: str
    """The placeholder: `?` or `%s`."""
    true: str
    """The predicate that is always true, as the backend's filter compiler writes it."""
    insertion_order: str
    """The run table's column that breaks ties of `created_at` in insertion order."""
    any_array: bool
    """`col = ANY(%s)` with one list parameter (PostgreSQL) instead of `col IN (?, ?, …)`."""

    def member(self, column: str, values: Sequence[Any]) -> tuple[str, list[Any]]:
        """`column` is one of `values` (never empty)."""
        if self.any_array:
            return f"{column} = ANY({self.param})", [list(values)]
        return f"{column} IN ({', '.join(self.param for _ in values)})", list(values)


SQLITE = Dialect(param="?", true="1", insertion_order="rowid", any_array=False)
POSTGRES = Dialect(param="%s", true="TRUE", insertion_order="seq", any_array=True)


def select_inflight_runs(
    dialect: Dialect,
    columns: Sequence[str],
    *,
    run_ids: Sequence[str] | None,
    thread_id: str | None,
    status: str | None,
    access: tuple[str, Sequence[Any]],
) -> tuple[str, list[Any]]:
    """The inflight runs a bulk cancel selects (criteria from `run_rules.cancel_selection`),
    oldest first; `access` is the compiled predicate on their thread's metadata."""
    p = dialect.param
    clauses = ["r.status IN ('pending', 'running')"]
    params: list[Any] = []
    if run_ids is not None:
        clause, values = dialect.member("r.run_id", run_ids)
        clauses.append(clause)
        params.extend(values)
    if thread_id is not None:
        clauses.append(f"r.thread_id = {p}")
        params.append(thread_id)
    if status is not None:
        clauses.append(f"r.status = {p}")
        params.append(status)
    join = ""
    if access[0] != dialect.true:
        join = "JOIN threads t ON t.thread_id = r.thread_id"
        clauses.append(f"({access[0]})")
        params.extend(access[1])
    sql = (
        f"SELECT {', '.join('r.' + c for c in columns)} FROM runs r {join} "
        f"WHERE {' AND '.join(clauses)} ORDER BY r.created_at, r.{dialect.insertion_order}"
    )
    return sql, params
