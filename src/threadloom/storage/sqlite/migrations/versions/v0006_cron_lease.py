"""A cron's lease (`lease_until`, integer microseconds), the twin of PostgreSQL's 0010: a
claimed firing is held without moving `next_run_date`, which advances only with its run.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE crons ADD COLUMN lease_until INTEGER")


def downgrade() -> None:
    op.execute("ALTER TABLE crons DROP COLUMN lease_until")
