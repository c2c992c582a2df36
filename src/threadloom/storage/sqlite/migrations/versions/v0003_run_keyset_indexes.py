"""Keyset indexes for the cross-thread run lists (Letta `GET /v1/runs/`): every page is an index
range scan from the cursor, so page 1,000 reads what page 1 reads.

Revision ID: 0003
Revises: 0002
Create Date: 2025-01-03
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE INDEX IF NOT EXISTS runs_created ON runs (created_at, run_id)")
    op.execute(
        "CREATE INDEX IF NOT EXISTS runs_assistant ON runs (assistant_id, created_at, run_id)"
    )


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS runs_assistant")
    op.execute("DROP INDEX IF EXISTS runs_created")
