"""`threadloom_check_assistant`: a run insert's guard that the assistant it was built from (read
from the API process's cache) is still the current version; raises SQLSTATE TL001 otherwise, so
the guarded statement or transaction writes nothing (see `storage/postgres/assistant_cache.py`).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

CHECK = """
CREATE OR REPLACE FUNCTION threadloom_check_assistant(
    p_assistant_id TEXT, p_version INTEGER, p_updated_at TIMESTAMPTZ
) RETURNS BOOLEAN LANGUAGE plpgsql STABLE AS $fn$
BEGIN
    IF p_assistant_id IS NULL OR EXISTS (
        SELECT 1 FROM assistants a
        WHERE a.assistant_id = p_assistant_id AND a.version = p_version
          AND a.updated_at = p_updated_at
    ) THEN
        RETURN TRUE;
    END IF;
    RAISE EXCEPTION USING ERRCODE = 'TL001',
        MESSAGE = 'assistant ' || p_assistant_id || ' is no longer at version ' || p_version;
END
$fn$
"""


def upgrade() -> None:
    op.get_bind().exec_driver_sql(CHECK)


def downgrade() -> None:
    op.get_bind().exec_driver_sql(
        "DROP FUNCTION IF EXISTS threadloom_check_assistant(TEXT, INTEGER, TIMESTAMPTZ)"
    )
