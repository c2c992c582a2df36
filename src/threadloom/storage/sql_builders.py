"""SQL shared by the SQLite and PostgreSQL backends, written once and told the dialect.

Each builder takes the backend's `Dialect` (storage/dialect.py) and returns a query or a
predicate as `(sql, params)`; the backends only execute them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from threadloom.serde import utcnow
from threadloom.storage.dialect import Dialect, Predicate, like_pattern
from threadloom.storage.paging import page_bounds

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

if TYPE_CHECKING:
    from threadloom.storage.base import Filters, SortOrder
    from threadloom.storage.operations import RunCursor, RunStatusClause


def assistant_search(
    d: Dialect,
    graph_id: str | None,
    name: str | None,
    metadata: dict[str, Any] | None,
    filters: Filters,
) -> Predicate:
    """Which assistants `AssistantStore.search` / `count` match: metadata containment, the
    caller's filters, an exact graph id, a case-insensitive name substring."""
    parts: list[Predicate] = [d.contains("metadata", metadata), d.filter("metadata", filters)]
    if graph_id is not None:
        parts.append((f"graph_id = {d.param}", [graph_id]))
    if name:
        parts.append((d.icontains.format(column="name", param=d.param), [like_pattern(name)]))
    return d.combine(*parts)


def live_thread(d: Dialect, now: datetime | None = None) -> Predicate:
    """A thread whose TTL has not run out: one with strategy `delete` whose expiry passed is
    gone for every reader from that moment, whether or not the sweeper has deleted it yet
    (a `keep_latest` thread stays: only its old checkpoints go; a busy one stays until its run
    ends, which starts its clock again)."""
    return (
        f"(ttl_expires_at IS NULL OR ttl_strategy {d.is_distinct} 'delete' "
        f"OR ttl_expires_at > {d.param} OR status = 'busy')",
        [d.time(now or utcnow())],
    )


def expired_threads(d: Dialect, now: datetime, limit: int) -> tuple[str, list[Any]]:
    """The threads a TTL sweep takes: expiry passed by `now`, no pending or running run (a busy
    thread waits until it is idle), oldest expiry first, at most `limit`; PostgreSQL locks them
    and skips ones another sweeper holds."""
    sql = (
        "SELECT thread_id, ttl_strategy, ttl_minutes FROM threads "
        f"WHERE ttl_expires_at IS NOT NULL AND ttl_expires_at <= {d.param} "
        "AND NOT EXISTS (SELECT 1 FROM runs WHERE runs.thread_id = threads.thread_id "
        "AND runs.status IN ('pending', 'running')) "
        f"ORDER BY ttl_expires_at LIMIT {d.param}{d.skip_locked}"
    )
    return sql, [d.time(now), limit]


def thread_search(
    d: Dialect,
    ids: Sequence[str] | None,
    metadata: dict[str, Any] | None,
    values: dict[str, Any] | None,
    status: str | None,
    filters: Filters,
    narrow: Predicate | None = None,
) -> Predicate:
    """Which threads `ThreadStore.search` / `count` match (expired ones never do). `narrow`:
    a backend's index of the candidates, checked before the exact containment (SQLite's
    `thread_metadata_index`; PostgreSQL's containment is its GIN index itself)."""
    parts: list[Predicate] = [
        live_thread(d),
        d.contains("metadata", metadata),
        d.contains("state_values", values or None),
        d.filter("metadata", filters),
    ]
    if narrow is not None:
        parts.insert(1, narrow)
    if status is not None:
        parts.append((f"status = {d.param}", [status]))
    if ids is not None:
        parts.append(d.member("thread_id", list(ids)) if ids else (d.false, []))
    return d.combine(*parts)


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
    `runs_assistant_keyset`).
    """
    p = dialect.param
    limit, offset = page_bounds(limit, offset)
    where: list[str] = []
    params: list[Any] = []
    join = ""
    if filters:
        access_sql, access_params = dialect.filter("t.metadata", filters)
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


def _run_access(dialect: Dialect, filters: Any) -> tuple[str, list[str], list[Any]]:
    """(join, where clauses, params) that keep runs whose thread passes `filters`."""
    if filters:
        access_sql, access_params = dialect.filter("t.metadata", filters)
        if access_sql != dialect.true:
            return (
                "JOIN threads t ON t.thread_id = r.thread_id ",
                [f"({access_sql})"],
                access_params,
            )
    return "", [], []


def run_activity(
    dialect: Dialect,
    *,
    since: datetime,
    limit: int,
    filters: Any,
    newer_than: datetime | None = None,
    recheck: Sequence[str] = (),
) -> tuple[str, list[Any]]:
    """`RunStore.activity`'s measures, newest first, at most `limit` (`limit + 1` rows are asked
    so the caller can tell the cap was hit): per run, (age after `since`, duration, TTFT, status,
    total tokens) as numbers. TTFT is to `first_token_at`, else (a model that was not streamed)
    to the end of the run's first step when that step is an LLM call."""
    p = dialect.param
    ms, text, number = dialect.ms_between, dialect.json_text, dialect.json_number
    first_step_end = dialect.ms_since_text("r.created_at", text("r.steps", "0.ended_at"))
    tokens = (
        f"COALESCE(NULLIF({number('r.usage', 'total_tokens')}, 0), "
        f"COALESCE({number('r.usage', 'input_tokens')}, 0) "
        f"+ COALESCE({number('r.usage', 'output_tokens')}, 0))"
    )
    columns = [
        "r.run_id AS run_id",
        f"{ms(p, 'r.created_at')} AS created_ms",
        f"{ms('r.created_at', 'r.ended_at')} AS duration_ms",
        f"CASE WHEN r.first_token_at IS NOT NULL THEN {ms('r.created_at', 'r.first_token_at')} "
        f"WHEN {text('r.steps', '0.type')} = 'llm' THEN {first_step_end} END AS ttft_ms",
        "r.status AS status",
        f"{tokens} AS total_tokens",
    ]
    params: list[Any] = [dialect.time(EPOCH)]
    join, where, access = _run_access(dialect, filters)
    params.extend(access)
    order = "ORDER BY r.created_at DESC "
    if newer_than is None:
        where.append(f"r.created_at >= {p}")
        params.append(dialect.time(since))
    else:
        # each branch on its own index (the OR becomes a union of index reads, not a scan of
        # the hour): the newest runs, those in flight, those asked about by id
        inflight, values = dialect.member("r.status", ["pending", "running"])
        ors = [f"r.created_at >= {p}", f"({inflight} AND r.created_at >= {p})"]
        params.extend((dialect.time(newer_than), *values, dialect.time(since)))
        if recheck:
            named, ids = dialect.member("r.run_id", list(recheck))
            ors.append(f"({named} AND r.created_at >= {p})")
            params.extend((*ids, dialect.time(since)))
        where.append(f"({' OR '.join(ors)})")
        order = ""  # a few rows, in any order
    sql = (
        f"SELECT {', '.join(columns)} FROM runs r {join}"
        f"WHERE {' AND '.join(where)} {order}LIMIT {p}"
    )
    params.append(limit + 1)
    return sql, params


def inflight_counts(dialect: Dialect, *, filters: Any) -> tuple[str, list[Any]]:
    """`RunStore.activity`'s queue: (status, count) for pending and running runs."""
    join, where, params = _run_access(dialect, filters)
    member, values = dialect.member("r.status", ["pending", "running"])
    where.append(member)
    params.extend(values)
    sql = (
        f"SELECT r.status, count(*) FROM runs r {join}WHERE {' AND '.join(where)} GROUP BY r.status"
    )
    return sql, params


def queue_stats(dialect: Dialect, now: datetime) -> tuple[str, list[Any]]:
    """One row: `n_pending`, `n_running`, `n_due` (pending and due now), `oldest_due` (the
    `created_at` of the longest-waiting due run) and `oldest_unblocked` (the same among runs
    whose thread has no running run) — the queue gauges of `/metrics` (each an index walk:
    the pending/running indexes, ordered by `created_at`, stopping at the first hit)."""
    p = dialect.param
    t = dialect.time(now)
    sql = (
        "SELECT"
        " (SELECT COUNT(*) FROM runs WHERE status = 'pending') AS n_pending,"
        " (SELECT COUNT(*) FROM runs WHERE status = 'running') AS n_running,"
        f" (SELECT COUNT(*) FROM runs WHERE status = 'pending' AND created_at <= {p}) AS n_due,"
        " (SELECT created_at FROM runs WHERE status = 'pending'"
        f" AND created_at <= {p} ORDER BY created_at LIMIT 1) AS oldest_due,"
        " (SELECT r.created_at FROM runs r WHERE r.status = 'pending'"
        f" AND r.created_at <= {p} AND NOT EXISTS (SELECT 1 FROM runs x"
        " WHERE x.thread_id = r.thread_id AND x.status = 'running')"
        " ORDER BY r.created_at LIMIT 1) AS oldest_unblocked"
    )
    return sql, [t, t, t]


def median_due_created_at(dialect: Dialect, now: datetime, n_due: int) -> tuple[str, list[Any]]:
    """The `created_at` of the median due pending run (`n_due` from `queue_stats`)."""
    p = dialect.param
    sql = (
        "SELECT created_at FROM runs WHERE status = 'pending'"
        f" AND created_at <= {p} ORDER BY created_at LIMIT 1 OFFSET {p}"
    )
    return sql, [dialect.time(now), n_due // 2]
