"""An index for a thread's runs filtered by status (`GET /threads/{id}/runs?status=…`), the
twin of SQLite's 0005: `(thread_id, status)` then the list's order, one index range.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "CREATE INDEX IF NOT EXISTS runs_thread_status "
        "ON runs (thread_id, status, created_at DESC, seq DESC)"
    )


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS runs_thread_status")
