"""Column lists and row → record conversion for the SQLite tables.

Rows are plain tuples (no sqlite3.Row) selected in the fixed column order named here, which is
the cheapest way to read them.
"""

from __future__ import annotations

from typing import Any

from threadloom.storage.columns import (  # noqa: F401 - re-exported for the repositories
    RUN_COLUMNS,
    RUN_FIELDS,
    THREAD_COLUMNS,
    THREAD_FIELDS,
    qualified,
)
from threadloom.storage.records import Assistant, Run, Thread, ThreadTTL
from threadloom.storage.sqlite.db import from_us, from_us_req, jdump, jdump_opt, jload, to_us

ASSISTANT_COLUMNS = (
    "assistant_id, graph_id, config, context, metadata, version, name, description, "
    "created_at, updated_at"
)
VERSION_COLUMNS = (
    "assistant_id, graph_id, config, context, metadata, version, name, description, "
    "created_at, created_at"
)


def assistant_from_row(row: tuple[Any, ...]) -> Assistant:
    return Assistant(
        assistant_id=row[0],
        graph_id=row[1],
        config=jload(row[2]),
        context=jload(row[3]),
        metadata=jload(row[4]),
        version=row[5],
        name=row[6],
        description=row[7],
        created_at=from_us_req(row[8]),
        updated_at=from_us_req(row[9]),
    )


def thread_from_row(row: tuple[Any, ...]) -> Thread:
    ttl = None
    if row[10] is not None:
        ttl = ThreadTTL(strategy=row[10], ttl_minutes=row[11], expires_at=from_us(row[12]))
    return Thread(
        thread_id=row[0],
        created_at=from_us_req(row[1]),
        updated_at=from_us_req(row[2]),
        state_updated_at=from_us_req(row[3]),
        metadata=jload(row[4]),
        config=jload(row[5]),
        status=row[6],
        values=jload(row[7]),
        interrupts=jload(row[8]),
        error=jload(row[9]),
        ttl=ttl,
    )


def run_from_row(row: tuple[Any, ...]) -> Run:
    return Run(
        run_id=row[0],
        thread_id=row[1],
        assistant_id=row[2],
        status=row[3],
        multitask_strategy=row[4],
        metadata=jload(row[5]),
        kwargs=jload(row[6]),
        created_at=from_us_req(row[7]),
        updated_at=from_us_req(row[8]),
        started_at=from_us(row[9]),
        ended_at=from_us(row[10]),
        attempt=row[11],
        worker_id=row[12],
        lease_expires_at=from_us(row[13]),
        stop_reason=row[14],
        error=jload(row[15]),
        background=bool(row[16]),
        temporary=bool(row[17]),
        cancel_requested=jload(row[18]),
        first_token_at=from_us(row[19]),
        usage=jload(row[20]),
        steps=jload(row[21]),
        model_snapshot=jload(row[22]),
        webhook=jload(row[23]),
    )


def run_to_row(run: Run) -> tuple[Any, ...]:
    """A run's values in RUN_FIELDS order, for INSERT."""
    return (
        run.run_id,
        run.thread_id,
        run.assistant_id,
        run.status,
        run.multitask_strategy,
        jdump(run.metadata or {}),
        jdump(run.kwargs or {}),
        to_us(run.created_at),
        to_us(run.updated_at),
        to_us(run.started_at),
        to_us(run.ended_at),
        run.attempt,
        run.worker_id,
        to_us(run.lease_expires_at),
        run.stop_reason,
        jdump_opt(run.error),
        int(run.background),
        int(run.temporary),
        jdump_opt(run.cancel_requested),
        to_us(run.first_token_at),
        jdump(run.usage or {}),
        jdump(run.steps or []),
        jdump_opt(run.model_snapshot),
        jdump_opt(run.webhook),
    )


def ttl_columns(ttl: ThreadTTL | None, now: int) -> tuple[str | None, float | None, int | None]:
    """(strategy, minutes, expires_at); expires_at defaults to now + ttl."""
    if ttl is None:
        return None, None, None
    expires = to_us(ttl.expires_at)
    if expires is None:
        expires = now + int(ttl.ttl_minutes * 60_000_000)
    return ttl.strategy, float(ttl.ttl_minutes), expires
