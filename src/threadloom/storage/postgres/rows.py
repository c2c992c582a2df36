"""Column lists and row → record conversion for the PostgreSQL tables (rows are dicts)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from threadloom.storage.columns import (  # noqa: F401 - re-exported for the repositories
    RUN_COLUMNS,
    RUN_FIELDS,
    THREAD_COLUMNS,
    THREAD_FIELDS,
    qualified,
)
from threadloom.storage.postgres.sqlfilter import jsonb
from threadloom.storage.records import Assistant, Run, Thread, ThreadTTL

ASSISTANT_FIELDS = (
    "assistant_id",
    "graph_id",
    "config",
    "context",
    "metadata",
    "version",
    "name",
    "description",
    "created_at",
    "updated_at",
)
ASSISTANT_COLUMNS = ", ".join(ASSISTANT_FIELDS)
# a version row in the same shape: its updated_at is its created_at
VERSION_COLUMNS = (
    "assistant_id, graph_id, config, context, metadata, version, name, description, "
    "created_at, created_at AS updated_at"
)


def assistant_from_row(row: dict[str, Any]) -> Assistant:
    return Assistant(
        assistant_id=row["assistant_id"],
        graph_id=row["graph_id"],
        config=row["config"],
        context=row["context"],
        metadata=row["metadata"],
        version=row["version"],
        name=row["name"],
        description=row["description"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def thread_from_row(row: dict[str, Any]) -> Thread:
    ttl = None
    if row["ttl_strategy"] is not None:
        ttl = ThreadTTL(
            strategy=row["ttl_strategy"],
            ttl_minutes=row["ttl_minutes"],
            expires_at=row["ttl_expires_at"],
        )
    return Thread(
        thread_id=row["thread_id"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        state_updated_at=row["state_updated_at"],
        metadata=row["metadata"],
        config=row["config"],
        status=row["status"],
        values=row["state_values"],
        interrupts=row["interrupts"],
        error=row["error"],
        ttl=ttl,
    )


def run_from_row(row: dict[str, Any]) -> Run:
    return Run(
        run_id=row["run_id"],
        thread_id=row["thread_id"],
        assistant_id=row["assistant_id"],
        status=row["status"],
        multitask_strategy=row["multitask_strategy"],
        metadata=row["metadata"],
        kwargs=row["kwargs"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        started_at=row["started_at"],
        ended_at=row["ended_at"],
        attempt=row["attempt"],
        worker_id=row["worker_id"],
        lease_expires_at=row["lease_expires_at"],
        stop_reason=row["stop_reason"],
        error=row["error"],
        background=row["background"],
        temporary=row["temporary"],
        cancel_requested=row["cancel_requested"],
        first_token_at=row["first_token_at"],
        usage=row["usage"],
        steps=row["steps"],
        model_snapshot=row["model_snapshot"],
        webhook=row["webhook"],
    )


_RUN_TIMES = (
    "created_at",
    "updated_at",
    "started_at",
    "ended_at",
    "lease_expires_at",
    "first_token_at",
)


def run_from_json(data: dict[str, Any]) -> Run:
    """A run row as PostgreSQL's `row_to_json` writes it (a NOTIFY payload): timestamps are
    ISO strings there."""
    for name in _RUN_TIMES:
        value = data.get(name)
        if value is not None:
            data[name] = datetime.fromisoformat(value)
    return run_from_row(data)


def _opt(value: Any) -> Any:
    return None if value is None else jsonb(value)


def run_to_params(run: Run) -> tuple[Any, ...]:
    """A run's values in RUN_FIELDS order, for INSERT."""
    return (
        run.run_id,
        run.thread_id,
        run.assistant_id,
        run.status,
        run.multitask_strategy,
        jsonb(run.metadata or {}),
        jsonb(run.kwargs or {}),
        run.created_at,
        run.updated_at,
        run.started_at,
        run.ended_at,
        run.attempt,
        run.worker_id,
        run.lease_expires_at,
        run.stop_reason,
        _opt(run.error),
        bool(run.background),
        bool(run.temporary),
        _opt(run.cancel_requested),
        run.first_token_at,
        jsonb(run.usage or {}),
        jsonb(run.steps or []),
        _opt(run.model_snapshot),
        _opt(run.webhook),
    )


def opt_jsonb(value: Any) -> Any:
    """A nullable jsonb parameter: SQL NULL for None."""
    return _opt(value)
