"""`RunStore.search_all` on PostgreSQL: the keyset run list across threads (Letta, SeekrFlow).

Row-value comparisons on `(created_at, run_id)` let PostgreSQL start the index scan at the
cursor (indexes `runs_keyset` and `runs_assistant_keyset`, migration 0002).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from threadloom.storage.base import Filters, RunCursor, RunStatusClause, SortOrder
from threadloom.storage.postgres.rows import RUN_FIELDS
from threadloom.storage.postgres.sqlfilter import compile_filter, page_bounds


def search_all_sql(
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
    filters: Filters,
) -> tuple[str, list[Any]]:
    where: list[str] = []
    params: list[Any] = []
    join = ""
    if filters:
        access_sql, access_params = compile_filter("t.metadata", filters)
        join = "JOIN threads t ON t.thread_id = r.thread_id "
        where.append(f"({access_sql})")
        params.extend(access_params)
    if assistant_ids is not None:
        ids = list(dict.fromkeys(assistant_ids))
        where.append("r.assistant_id = ANY(%s)" if ids else "FALSE")
        if ids:
            params.append(ids)
    if thread_id is not None:
        where.append("r.thread_id = %s")
        params.append(thread_id)
    if status_clauses is not None:
        ors: list[str] = []
        for clause in status_clauses:
            if clause.stop_reason is None:
                ors.append("r.status = %s")
                params.append(clause.status)
            elif clause.exclude_stop_reason:
                ors.append("(r.status = %s AND r.stop_reason IS DISTINCT FROM %s)")
                params.extend((clause.status, clause.stop_reason))
            else:
                ors.append("(r.status = %s AND r.stop_reason = %s)")
                params.extend((clause.status, clause.stop_reason))
        where.append(f"({' OR '.join(ors)})" if ors else "FALSE")
    if stop_reason is not None:
        where.append("r.stop_reason = %s")
        params.append(stop_reason)
    if background is not None:
        where.append("r.background = %s")
        params.append(background)
    forward, backward = (">", "<") if order == "asc" else ("<", ">")
    if after is not None:
        where.append(f"(r.created_at, r.run_id) {forward} (%s, %s)")
        params.extend((after.created_at, after.run_id))
    if before is not None:
        where.append(f"(r.created_at, r.run_id) {backward} (%s, %s)")
        params.extend((before.created_at, before.run_id))
    direction = "ASC" if order == "asc" else "DESC"
    limit, offset = page_bounds(limit, offset)
    columns = ", ".join(f"r.{f}" for f in RUN_FIELDS)
    sql = f"SELECT {columns} FROM runs r {join}"
    if where:
        sql += "WHERE " + " AND ".join(where)
    sql += f" ORDER BY r.created_at {direction}, r.run_id {direction} LIMIT %s OFFSET %s"
    params.extend((limit, offset))
    return sql, params
