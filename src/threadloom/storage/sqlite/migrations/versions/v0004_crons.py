"""Crons: schedules that create runs (`/runs/crons*`). A thread's or an assistant's crons go
with it (ON DELETE CASCADE, as the reference deletes them). Times are integer microseconds.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE IF NOT EXISTS crons (
            cron_id TEXT PRIMARY KEY,
            assistant_id TEXT NOT NULL REFERENCES assistants (assistant_id) ON DELETE CASCADE,
            thread_id TEXT REFERENCES threads (thread_id) ON DELETE CASCADE,
            user_id TEXT,
            schedule TEXT NOT NULL,
            timezone TEXT,
            end_time INTEGER,
            next_run_date INTEGER NOT NULL,
            payload TEXT NOT NULL DEFAULT '{}',
            metadata TEXT NOT NULL DEFAULT '{}',
            on_run_completed TEXT,
            enabled INTEGER NOT NULL DEFAULT 1,
            created_at INTEGER NOT NULL,
            updated_at INTEGER NOT NULL,
            auth_user TEXT
        )
        """
    )
    op.execute("CREATE INDEX IF NOT EXISTS crons_due ON crons (enabled, next_run_date)")
    op.execute("CREATE INDEX IF NOT EXISTS crons_thread ON crons (thread_id)")
    op.execute("CREATE INDEX IF NOT EXISTS crons_assistant ON crons (assistant_id)")


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS crons")
