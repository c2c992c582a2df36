"""SQL text shared by the SQLite and PostgreSQL backends, written once and told the dialect.

A builder here takes a `Dialect` for the few places the two differ (placeholders, list
membership, the true literal, the insertion-order column) and returns `(sql, params)`; each
backend only executes it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from threadloom.storage.paging import page_bounds

if TYPE_CHECKING:
    from threadloom.storage.base import RunCursor, RunStatusClause, SortOrder


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

    def member(self, column: str, values: Sequence[Any]) -> tuple[str, list[Any]]:
        """`column` is one of `values` (never empty)."""
        if self.any_array:
            return f"{column} = ANY({self.param})", [list(values)]
        return f"{column} IN ({', '.join(self.param for _ in values)})", list(values)


def _sqlite_time(dt: datetime) -> Any:
    from threadloom.storage.sqlite.db import to_us

    return to_us(dt)


SQLITE = Dialect(
    param="?",
    true="1",
    false="0",
    insertion_order="rowid",
    any_array=False,
    is_distinct="IS NOT",
    time=_sqlite_time,
    boolean=int,
)
POSTGRES = Dialect(
    param="%s",
    true="TRUE",
    false="FALSE",
    insertion_order="seq",
    any_array=True,
    is_distinct="IS DISTINCT FROM",
    time=lambda dt: dt,
    boolean=bool,
)


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
        member, values = dialect.member("r.run_id", run_ids)
        clauses.append(member)
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


def search_all_runs(
    dialect: Dialect,
    columns: Sequence[str],
    compile_filter: Callable[[str, Any], tuple[str, Sequence[Any]]],
    *,
    assistant_ids: Sequence[str] | None,
    thread_id: str | None,
    status_clauses: Sequence[RunStatusClause] | None,
    stop_reason: str | None,
    background: bool | None,
    order: SortOrder,
    after: RunCursor | None,
    before: RunCursor | None,
    limit: int,
    offset: int,
    filters: Any,
) -> tuple[str, list[Any]]:
    """`RunStore.search_all`, the keyset run list across threads (Letta, SeekrFlow).

    Row-value comparisons on `(created_at, run_id)` let either database start the index scan
    at the cursor instead of counting rows up to it (indexes `runs_keyset` and
    `runs_assistant_keyset`). `compile_filter` is the backend's metadata filter compiler.
    """
    p = dialect.param
    limit, offset = page_bounds(limit, offset)
    where: list[str] = []
    params: list[Any] = []
    join = ""
    if filters:
        access_sql, access_params = compile_filter("t.metadata", filters)
        if access_sql != dialect.true:
            join = "JOIN threads t ON t.thread_id = r.thread_id "
            where.append(f"({access_sql})")
            params.extend(access_params)
    if assistant_ids is not None:
        ids = list(dict.fromkeys(assistant_ids))
        if ids:
            member, values = dialect.member("r.assistant_id", ids)
            where.append(member)
            params.extend(values)
        else:
            where.append(dialect.false)
    if thread_id is not None:
        where.append(f"r.thread_id = {p}")
        params.append(thread_id)
    if status_clauses is not None:
        ors: list[str] = []
        for clause in status_clauses:
            if clause.stop_reason is None:
                ors.append(f"r.status = {p}")
                params.append(clause.status)
            else:
                op = dialect.is_distinct if clause.exclude_stop_reason else "="
                ors.append(f"(r.status = {p} AND r.stop_reason {op} {p})")
                params.extend((clause.status, clause.stop_reason))
        where.append(f"({' OR '.join(ors)})" if ors else dialect.false)
    if stop_reason is not None:
        where.append(f"r.stop_reason = {p}")
        params.append(stop_reason)
    if background is not None:
        where.append(f"r.background = {p}")
        params.append(dialect.boolean(background))
    forward, backward = (">", "<") if order == "asc" else ("<", ">")
    if after is not None:
        where.append(f"(r.created_at, r.run_id) {forward} ({p}, {p})")
        params.extend((dialect.time(after.created_at), after.run_id))
    if before is not None:
        where.append(f"(r.created_at, r.run_id) {backward} ({p}, {p})")
        params.extend((dialect.time(before.created_at), before.run_id))
    direction = "ASC" if order == "asc" else "DESC"
    sql = f"SELECT {', '.join('r.' + c for c in columns)} FROM runs r {join}"
    if where:
        sql += "WHERE " + " AND ".join(where)
    sql += f" ORDER BY r.created_at {direction}, r.run_id {direction} LIMIT {p} OFFSET {p}"
    params.extend((limit, offset))
    return sql, params
