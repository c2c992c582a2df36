"""Worker offers: a stateless `/wait` run is inserted already assigned to an idle worker.

A worker with a free slot offers it: one row in `worker_offers`, posted by its claim when the
claim leaves a slot free. The statement that inserts a stateless `/wait` run takes one open
offer (`SKIP LOCKED`), writes its run_id into it, inserts the run running and leased to that
worker, and NOTIFYs the worker's own channel with the run itself: the worker starts it without
a claim round trip. Without an open offer the run is inserted pending and claimed as usual.

Every claim first takes its worker's offer back, returning the run that took it (if any) with
the claimed runs — the worker dedupes by run_id — so a lost notification costs nothing but the
wait for the next claim, which the heartbeat triggers when it finds the offer taken. An offer
lives one lease and is renewed by the heartbeat; a dead worker's offer expires, and a run
handed to a worker that died before starting it is re-queued by the reaper when its lease runs
out, like any run of a dead worker. UNLOGGED: offers are soft state, re-posted by the next
claim.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_NOT_RUNNING = (
    "NOT EXISTS (SELECT 1 FROM runs x WHERE x.thread_id = r.thread_id AND x.status = 'running')"
)

# steps 1 and 2 of the claim, and its trailing "next due" row: shared with migration 0006
CLAIM_STEPS = f"""    -- step 1: lock (SKIP LOCKED) the threads of the oldest due runs whose thread looks free
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
        LIMIT greatest(p_limit - v_claimed, 0)
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
        GET DIAGNOSTICS v_n = ROW_COUNT;
        v_claimed := v_claimed + v_n;
    END IF;
"""

NEXT_DUE_ROW = f"""    IF v_claimed < p_limit THEN
        SELECT r.created_at INTO v_due FROM runs r
        WHERE r.status = 'pending' AND {_NOT_RUNNING}
        ORDER BY r.created_at LIMIT 1;
        IF FOUND THEN
            v_next.created_at := v_due;
            RETURN NEXT v_next;
        END IF;
    END IF;
"""

CLAIM = f"""
CREATE OR REPLACE FUNCTION threadloom_claim(
    p_worker TEXT, p_limit INTEGER, p_lease FLOAT8, p_offer_channel TEXT
)
RETURNS SETOF runs LANGUAGE plpgsql VOLATILE AS $fn$
-- Claims up to p_limit due runs, at most one per thread and none on a thread already running
-- one. When fewer than p_limit were claimed it adds one more row whose run_id is NULL and whose
-- created_at is when the next pending run falls due (no such row: nothing is pending), so the
-- worker knows how long it may sleep without asking again. With p_offer_channel, and fewer
-- than p_limit claimed (a slot left), it also offers that slot: the next stateless /wait run
-- is inserted already assigned to this worker and announced on that channel.
DECLARE
    v_threads TEXT[];
    v_claimed INTEGER := 0;
    v_taken TEXT;
    v_n INTEGER;
    v_due TIMESTAMPTZ;
    v_next runs;
BEGIN
    -- lease bookkeeping: lost in a database crash, the run is simply pending again
    PERFORM set_config('synchronous_commit', 'off', true);
    -- step 0: take back this worker's offer; if a run took it, that run is returned first (the
    -- worker may not have heard of it yet: it dedupes by run_id) and counts against p_limit
    DELETE FROM worker_offers WHERE worker_id = p_worker RETURNING run_id INTO v_taken;
    IF v_taken IS NOT NULL THEN
        RETURN QUERY SELECT * FROM runs
        WHERE run_id = v_taken AND status = 'running' AND worker_id = p_worker;
        GET DIAGNOSTICS v_n = ROW_COUNT;
        v_claimed := v_n;
    END IF;
{CLAIM_STEPS}    IF p_offer_channel IS NOT NULL AND v_claimed < p_limit THEN
        INSERT INTO worker_offers (worker_id, channel, expires_at)
        VALUES (p_worker, p_offer_channel, now() + p_lease * interval '1 second');
    END IF;
{NEXT_DUE_ROW}END
$fn$
"""

UPGRADE = [
    "CREATE UNLOGGED TABLE IF NOT EXISTS worker_offers (worker_id TEXT PRIMARY KEY, "
    "channel TEXT NOT NULL, expires_at TIMESTAMPTZ NOT NULL, run_id TEXT)",
    "DROP FUNCTION IF EXISTS threadloom_claim(TEXT, INTEGER, FLOAT8)",
    CLAIM,
]

DOWNGRADE = [
    "DROP FUNCTION IF EXISTS threadloom_claim(TEXT, INTEGER, FLOAT8, TEXT)",
    "DROP TABLE IF EXISTS worker_offers",
]


def upgrade() -> None:
    connection = op.get_bind()
    for statement in UPGRADE:
        connection.exec_driver_sql(statement)


def downgrade() -> None:
    from threadloom.storage.postgres.migrations.versions import v0003_queue_functions

    connection = op.get_bind()
    for statement in DOWNGRADE:
        connection.exec_driver_sql(statement)
    connection.exec_driver_sql(v0003_queue_functions.CLAIM)
