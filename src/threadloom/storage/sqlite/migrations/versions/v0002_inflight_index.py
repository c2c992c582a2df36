"""Inflight index ordered by created_at, so the per-thread inflight list reads only inflight runs
instead of the thread's whole run history.

Revision ID: 0002
Revises: 0001
Create Date: 2025-01-02
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("DROP INDEX IF EXISTS runs_inflight")
    op.execute(
        "CREATE INDEX runs_inflight ON runs (thread_id, created_at, status) "
        "WHERE status IN ('pending', 'running')"
    )


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS runs_inflight")
    op.execute(
        "CREATE INDEX runs_inflight ON runs (thread_id, status) "
        "WHERE status IN ('pending', 'running')"
    )
