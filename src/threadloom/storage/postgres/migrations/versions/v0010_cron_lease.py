"""A cron's lease (`lease_until`): the scheduler that claimed a due firing holds it until then
without moving `next_run_date`, which advances only in the transaction that inserts the
firing's run, so a scheduler killed between claim and insert loses no firing
(`storage/cron_sql.py`).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE crons ADD COLUMN IF NOT EXISTS lease_until TIMESTAMPTZ")


def downgrade() -> None:
    op.execute("ALTER TABLE crons DROP COLUMN IF EXISTS lease_until")
