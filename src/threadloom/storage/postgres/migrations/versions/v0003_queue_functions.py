"""The per-run hot paths as PL/pgSQL functions: claim and finish, one round trip each.

Before, a claim was a pipelined transaction of five statements and a finish one of four to six;
each statement costs the worker a driver round of its own (and the database a parse/bind), and
every run pays both. As functions they are one call each, in an implicit autocommit
transaction. A volatile PL/pgSQL function takes a fresh snapshot for every statement, which is
what the two-step claim relies on (see `storage/postgres/queue.py`).

A temporary thread's run (stateless, on_completion=delete) is read, not rewritten, before the
cascade deletes it with its thread: the update would rewrite the row and all its index entries
for nothing.

Also drops two indexes that the keyset indexes of 0002 cover (`runs_created_at` by
`runs_keyset`, `runs_assistant` by `runs_assistant_keyset`): every run insert and status change
maintained them for nothing.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_NOT_RUNNING = (
    "NOT EXISTS (SELECT 1 FROM runs x WHERE x.thread_id = r.thread_id AND x.status = 'running')"
)

CLAIM = f"""
CREATE OR REPLACE FUNCTION threadloom_claim(p_worker TEXT, p_limit INTEGER, p_lease FLOAT8)
RETURNS SETOF runs LANGUAGE plpgsql VOLATILE AS $fn$
-- Claims up to p_limit due runs, at most one per thread and none on a thread already running
-- one. When fewer than p_limit were claimed it adds one more row whose run_id is NULL and whose
-- created_at is when the next pending run falls due (no such row: nothing is pending), so the
-- worker knows how long it may sleep without asking again.
DECLARE
    v_threads TEXT[];
    v_claimed INTEGER := 0;
    v_due TIMESTAMPTZ;
    v_next runs;
BEGIN
    -- lease bookkeeping: lost in a database crash, the run is simply pending again
    PERFORM set_config('synchronous_commit', 'off', true);
    -- step 1: lock (SKIP LOCKED) the threads of the oldest due runs whose thread looks free
    SELECT array_agg(l.thread_id) INTO v_threads FROM (
        SELECT t.thread_id FROM threads t JOIN (
            SELECT DISTINCT ON (r.thread_id) r.thread_id, r.created_at, r.seq
            FROM (
                SELECT r.thread_id, r.created_at, r.seq FROM runs r
                WHERE r.status = 'pending' AND r.created_at <= now() AND {_NOT_RUNNING}
                ORDER BY r.created_at, r.seq
                LIMIT greatest(p_limit * 8, 64)
            ) r
            ORDER BY r.thread_id, r.created_at, r.seq
        ) due ON due.thread_id = t.thread_id
        ORDER BY due.created_at, due.seq
        LIMIT p_limit
        FOR NO KEY UPDATE OF t SKIP LOCKED
    ) l;
    -- step 2, a new snapshot taken after the locks were granted: whoever started a run on these
    -- threads before us has committed, so "no running run" is now exact
    IF v_threads IS NOT NULL THEN
        RETURN QUERY
        WITH pick AS (
            SELECT DISTINCT ON (r.thread_id) r.run_id FROM runs r
            WHERE r.thread_id = ANY(v_threads) AND r.status = 'pending'
              AND r.created_at <= now() AND {_NOT_RUNNING}
            ORDER BY r.thread_id, r.created_at, r.seq
        ), claimed AS (
            UPDATE runs SET status = 'running', attempt = runs.attempt + 1, worker_id = p_worker,
                lease_expires_at = now() + p_lease * interval '1 second',
                started_at = COALESCE(runs.started_at, now()), updated_at = now()
            FROM pick WHERE runs.run_id = pick.run_id AND runs.status = 'pending'
            RETURNING runs.*
        )
        SELECT * FROM claimed ORDER BY claimed.created_at, claimed.seq;
        GET DIAGNOSTICS v_claimed = ROW_COUNT;
    END IF;
    IF v_claimed < p_limit THEN
        SELECT r.created_at INTO v_due FROM runs r
        WHERE r.status = 'pending' AND {_NOT_RUNNING}
        ORDER BY r.created_at LIMIT 1;
        IF FOUND THEN
            v_next.created_at := v_due;
            RETURN NEXT v_next;
        END IF;
    END IF;
END
$fn$
"""

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

UPGRADE = [
    CLAIM,
    FINISH,
    "DROP INDEX IF EXISTS runs_created_at",
    "DROP INDEX IF EXISTS runs_assistant",
]

DOWNGRADE = [
    "CREATE INDEX IF NOT EXISTS runs_assistant ON runs (assistant_id, created_at)",
    "CREATE INDEX IF NOT EXISTS runs_created_at ON runs (created_at)",
    "DROP FUNCTION IF EXISTS threadloom_finish(TEXT, TEXT, TEXT, JSONB, BOOLEAN, TEXT, JSONB, "
    "JSONB, JSONB, BOOLEAN, BOOLEAN)",
    "DROP FUNCTION IF EXISTS threadloom_claim(TEXT, INTEGER, FLOAT8)",
]


def upgrade() -> None:
    connection = op.get_bind()
    for statement in UPGRADE:
        connection.exec_driver_sql(statement)


def downgrade() -> None:
    connection = op.get_bind()
    for statement in DOWNGRADE:
        connection.exec_driver_sql(statement)
