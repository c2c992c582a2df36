"""Column names shared by the SQLite and PostgreSQL schemas (both backends select records in
this order, so one list keeps them from drifting apart)."""

from __future__ import annotations

THREAD_FIELDS = (
    "thread_id",
    "created_at",
    "updated_at",
    "state_updated_at",
    "metadata",
    "config",
    "status",
    "state_values",
    "interrupts",
    "error",
    "ttl_strategy",
    "ttl_minutes",
    "ttl_expires_at",
)
THREAD_COLUMNS = ", ".join(THREAD_FIELDS)
RUN_FIELDS = (
    "run_id",
    "thread_id",
    "assistant_id",
    "status",
    "multitask_strategy",
    "metadata",
    "kwargs",
    "created_at",
    "updated_at",
    "started_at",
    "ended_at",
    "attempt",
    "worker_id",
    "lease_expires_at",
    "stop_reason",
    "error",
    "background",
    "temporary",
    "cancel_requested",
    "first_token_at",
    "usage",
    "steps",
    "model_snapshot",
    "webhook",
)
RUN_COLUMNS = ", ".join(RUN_FIELDS)


def qualified(columns: str, alias: str) -> str:
    """`a, b` → `r.a, r.b` for joins."""
    return ", ".join(f"{alias}.{c.strip()}" for c in columns.split(","))
