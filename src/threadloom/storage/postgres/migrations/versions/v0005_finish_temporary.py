"""`threadloom_finish` for a temporary thread (stateless run, on_completion=delete) no longer
updates the run it is about to delete with the thread: it locks and reads the run instead, and
returns it as finished. The update rewrote the run row and every one of its index entries only
for the cascade to remove them a moment later.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23
"""

from __future__ import annotations

from alembic import op

from threadloom.storage.postgres.migrations.versions.v0003_queue_functions import (
    FINISH as FINISH_0003,
)

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

FINISH = """
CREATE OR REPLACE FUNCTION threadloom_finish(
    p_run_id TEXT, p_status TEXT, p_stop_reason TEXT, p_error JSONB,
    p_snapshot BOOLEAN, p_snapshot_status TEXT, p_values JSONB, p_interrupts JSONB,
    p_snapshot_error JSONB, p_delete_run BOOLEAN, p_delete_thread BOOLEAN
) RETURNS SETOF runs LANGUAGE plpgsql VOLATILE AS $fn$
-- A run's terminal status together with its thread: the snapshot (or a status refresh), or the
-- thread itself (and its checkpoints and runs) deleted for a temporary run, or the run deleted
-- (rollback). Returns the finished run; nothing when the run is gone or no longer inflight.
DECLARE
    v_thread TEXT;
    v_run runs;
BEGIN
    SELECT t.thread_id INTO v_thread FROM threads t
    WHERE t.thread_id = (SELECT r.thread_id FROM runs r WHERE r.run_id = p_run_id)
    FOR NO KEY UPDATE;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    IF p_delete_thread THEN
        SELECT * INTO v_run FROM runs
        WHERE run_id = p_run_id AND status IN ('pending', 'running') FOR UPDATE;
        IF NOT FOUND THEN
            RETURN;
        END IF;
        DELETE FROM checkpoint_writes WHERE thread_id = v_thread;
        DELETE FROM checkpoint_blobs WHERE thread_id = v_thread;
        DELETE FROM checkpoints WHERE thread_id = v_thread;
        DELETE FROM threads WHERE thread_id = v_thread;
        v_run.status := p_status;
        v_run.stop_reason := p_stop_reason;
        v_run.error := p_error;
        v_run.ended_at := now();
        v_run.updated_at := now();
        v_run.lease_expires_at := NULL;
        RETURN NEXT v_run;
        RETURN;
    END IF;
    UPDATE runs SET status = p_status, stop_reason = p_stop_reason, error = p_error,
        ended_at = now(), updated_at = now(), lease_expires_at = NULL
    WHERE run_id = p_run_id AND status IN ('pending', 'running')
    RETURNING * INTO v_run;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    IF p_delete_run THEN
        DELETE FROM runs WHERE run_id = p_run_id;
    END IF;
    IF p_snapshot THEN
        UPDATE threads SET snapshot_status = p_snapshot_status,
            status = CASE WHEN EXISTS (
                SELECT 1 FROM runs x WHERE x.thread_id = v_thread
                AND x.status IN ('pending', 'running')) THEN 'busy' ELSE p_snapshot_status END,
            state_values = p_values, interrupts = p_interrupts, error = p_snapshot_error,
            state_updated_at = now(), updated_at = now(),
            ttl_expires_at = CASE WHEN ttl_minutes IS NULL THEN ttl_expires_at
                ELSE now() + ttl_minutes * interval '1 minute' END
        WHERE thread_id = v_thread;
    ELSE
        UPDATE threads SET status = CASE WHEN EXISTS (
                SELECT 1 FROM runs x WHERE x.thread_id = v_thread
                AND x.status IN ('pending', 'running')) THEN 'busy' ELSE snapshot_status END,
            updated_at = now()
        WHERE thread_id = v_thread;
    END IF;
    RETURN NEXT v_run;
END
$fn$
"""


def upgrade() -> None:
    op.get_bind().exec_driver_sql(FINISH)


def downgrade() -> None:
    op.get_bind().exec_driver_sql(FINISH_0003)
