"""Keyset indexes for the cross-thread run lists (Letta `GET /v1/runs/`): each page is an index
range scan from its cursor `(created_at, run_id)`, so page 1,000 costs what page 1 costs.

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
    op.execute("CREATE INDEX IF NOT EXISTS runs_keyset ON runs (created_at, run_id)")
    op.execute(
        "CREATE INDEX IF NOT EXISTS runs_assistant_keyset ON runs (assistant_id, created_at, run_id)"
    )


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS runs_assistant_keyset")
    op.execute("DROP INDEX IF EXISTS runs_keyset")
