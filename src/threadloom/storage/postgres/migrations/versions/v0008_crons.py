"""Crons: schedules that create runs (`/runs/crons*`). A thread's or an assistant's crons go
with it (ON DELETE CASCADE, as the reference deletes them); `crons_due` serves the scheduler's
claim (enabled crons by due time).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE crons (
            cron_id TEXT PRIMARY KEY,
            assistant_id TEXT NOT NULL REFERENCES assistants (assistant_id) ON DELETE CASCADE,
            thread_id TEXT REFERENCES threads (thread_id) ON DELETE CASCADE,
            user_id TEXT,
            schedule TEXT NOT NULL,
            timezone TEXT,
            end_time TIMESTAMPTZ,
            next_run_date TIMESTAMPTZ NOT NULL,
            payload JSONB NOT NULL DEFAULT '{}',
            metadata JSONB NOT NULL DEFAULT '{}',
            on_run_completed TEXT,
            enabled BOOLEAN NOT NULL DEFAULT TRUE,
            created_at TIMESTAMPTZ NOT NULL,
            updated_at TIMESTAMPTZ NOT NULL,
            auth_user JSONB
        )
        """
    )
    op.execute("CREATE INDEX crons_due ON crons (next_run_date) WHERE enabled")
    op.execute("CREATE INDEX crons_thread ON crons (thread_id)")
    op.execute("CREATE INDEX crons_assistant ON crons (assistant_id)")


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS crons")
