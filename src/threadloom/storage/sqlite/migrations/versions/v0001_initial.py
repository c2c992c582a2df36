"""Initial schema: assistants and their versions, threads, runs.

Timestamps are INTEGER microseconds since the Unix epoch (UTC): exact round trips, cheap
comparisons, and plain integer indexes. JSON columns are TEXT written by `threadloom.serde`.

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

UPGRADE = [
    """
    CREATE TABLE assistants (
        assistant_id TEXT PRIMARY KEY,
        graph_id TEXT NOT NULL,
        version INTEGER NOT NULL,
        name TEXT NOT NULL,
        description TEXT,
        config TEXT NOT NULL,
        context TEXT NOT NULL,
        metadata TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
    )
    """,
    "CREATE INDEX assistants_graph_id ON assistants (graph_id, created_at)",
    "CREATE INDEX assistants_name ON assistants (name)",
    "CREATE INDEX assistants_created_at ON assistants (created_at)",
    "CREATE INDEX assistants_updated_at ON assistants (updated_at)",
    """
    CREATE TABLE assistant_versions (
        assistant_id TEXT NOT NULL REFERENCES assistants (assistant_id) ON DELETE CASCADE,
        version INTEGER NOT NULL,
        graph_id TEXT NOT NULL,
        name TEXT NOT NULL,
        description TEXT,
        config TEXT NOT NULL,
        context TEXT NOT NULL,
        metadata TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        PRIMARY KEY (assistant_id, version)
    ) WITHOUT ROWID
    """,
    """
    CREATE TABLE threads (
        thread_id TEXT PRIMARY KEY,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        state_updated_at INTEGER NOT NULL,
        metadata TEXT NOT NULL,
        config TEXT NOT NULL,
        status TEXT NOT NULL,
        snapshot_status TEXT NOT NULL,
        state_values TEXT,
        interrupts TEXT NOT NULL,
        error TEXT,
        ttl_strategy TEXT,
        ttl_minutes REAL,
        ttl_expires_at INTEGER
    )
    """,
    "CREATE INDEX threads_status ON threads (status, created_at)",
    "CREATE INDEX threads_created_at ON threads (created_at)",
    "CREATE INDEX threads_updated_at ON threads (updated_at)",
    "CREATE INDEX threads_state_updated_at ON threads (state_updated_at)",
    "CREATE INDEX threads_ttl ON threads (ttl_expires_at) WHERE ttl_expires_at IS NOT NULL",
    """
    CREATE TABLE runs (
        run_id TEXT PRIMARY KEY,
        thread_id TEXT NOT NULL REFERENCES threads (thread_id) ON DELETE CASCADE,
        assistant_id TEXT NOT NULL,
        status TEXT NOT NULL,
        multitask_strategy TEXT NOT NULL,
        metadata TEXT NOT NULL,
        kwargs TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        started_at INTEGER,
        ended_at INTEGER,
        attempt INTEGER NOT NULL DEFAULT 0,
        worker_id TEXT,
        lease_expires_at INTEGER,
        stop_reason TEXT,
        error TEXT,
        background INTEGER NOT NULL,
        temporary INTEGER NOT NULL,
        cancel_requested TEXT,
        first_token_at INTEGER,
        usage TEXT NOT NULL,
        steps TEXT NOT NULL,
        model_snapshot TEXT,
        webhook TEXT
    )
    """,
    "CREATE INDEX runs_thread ON runs (thread_id, created_at)",
    "CREATE INDEX runs_queue ON runs (status, created_at)",
    # the inflight check of every create_run/finish and the claim's busy-thread test
    """
    CREATE INDEX runs_inflight ON runs (thread_id, status)
    WHERE status IN ('pending', 'running')
    """,
]

DOWNGRADE = [
    "DROP TABLE runs",
    "DROP TABLE threads",
    "DROP TABLE assistant_versions",
    "DROP TABLE assistants",
]


def upgrade() -> None:
    for statement in UPGRADE:
        op.execute(statement)


def downgrade() -> None:
    for statement in DOWNGRADE:
        op.execute(statement)
