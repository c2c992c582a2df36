"""Initial schema: assistants and their versions, threads, runs.

JSONB for every JSON column, with GIN (jsonb_path_ops) indexes where searches use containment
(`@>`), and a btree index for every sort and filter the list/search endpoints offer. The queue
lives in `runs`: a partial index on pending runs by created_at is the claim's scan, and a unique
partial index on running runs per thread makes "one running run per thread" a database fact.

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
        config JSONB NOT NULL DEFAULT '{}',
        context JSONB NOT NULL DEFAULT '{}',
        metadata JSONB NOT NULL DEFAULT '{}',
        created_at TIMESTAMPTZ NOT NULL,
        updated_at TIMESTAMPTZ NOT NULL
    )
    """,
    "CREATE INDEX assistants_graph_id ON assistants (graph_id, created_at)",
    "CREATE INDEX assistants_name ON assistants (name)",
    "CREATE INDEX assistants_created_at ON assistants (created_at)",
    "CREATE INDEX assistants_updated_at ON assistants (updated_at)",
    "CREATE INDEX assistants_metadata ON assistants USING GIN (metadata jsonb_path_ops)",
    """
    CREATE TABLE assistant_versions (
        assistant_id TEXT NOT NULL REFERENCES assistants (assistant_id) ON DELETE CASCADE,
        version INTEGER NOT NULL,
        graph_id TEXT NOT NULL,
        name TEXT NOT NULL,
        description TEXT,
        config JSONB NOT NULL DEFAULT '{}',
        context JSONB NOT NULL DEFAULT '{}',
        metadata JSONB NOT NULL DEFAULT '{}',
        created_at TIMESTAMPTZ NOT NULL,
        PRIMARY KEY (assistant_id, version)
    )
    """,
    """
    CREATE TABLE threads (
        thread_id TEXT PRIMARY KEY,
        created_at TIMESTAMPTZ NOT NULL,
        updated_at TIMESTAMPTZ NOT NULL,
        state_updated_at TIMESTAMPTZ NOT NULL,
        metadata JSONB NOT NULL DEFAULT '{}',
        config JSONB NOT NULL DEFAULT '{}',
        status TEXT NOT NULL,
        snapshot_status TEXT NOT NULL,
        state_values JSONB,
        interrupts JSONB NOT NULL DEFAULT '{}',
        error JSONB,
        ttl_strategy TEXT,
        ttl_minutes DOUBLE PRECISION,
        ttl_expires_at TIMESTAMPTZ
    )
    """,
    "CREATE INDEX threads_status ON threads (status, created_at)",
    "CREATE INDEX threads_created_at ON threads (created_at)",
    "CREATE INDEX threads_updated_at ON threads (updated_at)",
    "CREATE INDEX threads_state_updated_at ON threads (state_updated_at)",
    "CREATE INDEX threads_ttl ON threads (ttl_expires_at) WHERE ttl_expires_at IS NOT NULL",
    "CREATE INDEX threads_metadata ON threads USING GIN (metadata jsonb_path_ops)",
    "CREATE INDEX threads_values ON threads USING GIN (state_values jsonb_path_ops)",
    """
    CREATE TABLE runs (
        run_id TEXT PRIMARY KEY,
        -- insertion order: the tiebreak of runs created in the same microsecond
        seq BIGINT GENERATED ALWAYS AS IDENTITY,
        thread_id TEXT NOT NULL REFERENCES threads (thread_id) ON DELETE CASCADE,
        assistant_id TEXT NOT NULL,
        status TEXT NOT NULL,
        multitask_strategy TEXT NOT NULL,
        metadata JSONB NOT NULL DEFAULT '{}',
        kwargs JSONB NOT NULL DEFAULT '{}',
        created_at TIMESTAMPTZ NOT NULL,
        updated_at TIMESTAMPTZ NOT NULL,
        started_at TIMESTAMPTZ,
        ended_at TIMESTAMPTZ,
        attempt INTEGER NOT NULL DEFAULT 0,
        worker_id TEXT,
        lease_expires_at TIMESTAMPTZ,
        stop_reason TEXT,
        error JSONB,
        background BOOLEAN NOT NULL DEFAULT TRUE,
        temporary BOOLEAN NOT NULL DEFAULT FALSE,
        cancel_requested JSONB,
        first_token_at TIMESTAMPTZ,
        usage JSONB NOT NULL DEFAULT '{}',
        steps JSONB NOT NULL DEFAULT '[]',
        model_snapshot JSONB,
        webhook JSONB
    )
    """,
    "CREATE INDEX runs_thread ON runs (thread_id, created_at DESC, seq DESC)",
    "CREATE INDEX runs_assistant ON runs (assistant_id, created_at)",
    "CREATE INDEX runs_created_at ON runs (created_at)",
    # the claim's scan: due pending runs, oldest first
    "CREATE INDEX runs_pending ON runs (created_at, seq) WHERE status = 'pending'",
    # the inflight check of create_run / finish / thread status
    """
    CREATE INDEX runs_inflight ON runs (thread_id, created_at, seq)
    WHERE status IN ('pending', 'running')
    """,
    # at most one running run per thread, whatever a buggy claim might try
    "CREATE UNIQUE INDEX runs_one_running ON runs (thread_id) WHERE status = 'running'",
    # the lease reaper
    "CREATE INDEX runs_lease ON runs (lease_expires_at) WHERE status = 'running'",
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
