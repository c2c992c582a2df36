"""An index for a thread's runs filtered by status (`GET /threads/{id}/runs?status=…`): the
equality on `(thread_id, status)` and the newest-first order are one index range, instead of
every run of the thread read and filtered (46 ms at 50,000 runs).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "CREATE INDEX IF NOT EXISTS runs_thread_status ON runs (thread_id, status, created_at)"
    )


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS runs_thread_status")
