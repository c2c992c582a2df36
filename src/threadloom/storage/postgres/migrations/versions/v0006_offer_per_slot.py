"""Worker offers per free slot, re-opened by the run that ends.

Migration 0005 let a worker offer one free slot. Under load that left most stateless `/wait`
runs on the queue path (inserted pending, a wake-up, a claim round trip) and cost a claim after
every run to offer the slot again. Now:
- a worker offers each free slot it asks for (`p_offers`, at most its free slots after the
  claim): one `worker_slot_offers` row each, keyed by `offer_id`;
- the statement that inserts a stateless `/wait` run takes any one open offer (`SKIP LOCKED`), as
  before;
- a run that ends re-opens its slot in the statement that finishes it (`REOPEN_OFFER_AND_FINISH`
  in queries.py): the row its run took is opened again, or a new row is posted if a claim took
  the row back meanwhile — so a busy worker's slots go straight back on offer without a claim.

Every claim still takes all of its worker's offers back first and returns the runs that took
them (the worker dedupes). Offers remain soft state (UNLOGGED).

Additive, for rolling upgrades: the new offers live in a new table and the new claim is an
overload with one more argument. Processes from before this migration keep using
`worker_offers` and the four-argument claim among themselves; an API process hands runs over
only to workers of its own release, and all of them share the queue.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23
"""

from __future__ import annotations

from alembic import op

from threadloom.storage.postgres.migrations.versions.v0005_worker_offers import (
    CLAIM_STEPS,
    NEXT_DUE_ROW,
)

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

CLAIM = f"""
CREATE OR REPLACE FUNCTION threadloom_claim(
    p_worker TEXT, p_limit INTEGER, p_lease FLOAT8, p_offer_channel TEXT, p_offers INTEGER
)
RETURNS SETOF runs LANGUAGE plpgsql VOLATILE AS $fn$
-- Claims up to p_limit due runs, at most one per thread and none on a thread already running
-- one. When fewer than p_limit were claimed it adds one more row whose run_id is NULL and whose
-- created_at is when the next pending run falls due (no such row: nothing is pending), so the
-- worker knows how long it may sleep without asking again. With p_offer_channel it then offers
-- up to p_offers of the slots left: the next stateless /wait runs are inserted already assigned
-- to this worker and announced on that channel.
DECLARE
    v_threads TEXT[];
    v_taken TEXT[];
    v_claimed INTEGER := 0;
    v_n INTEGER;
    v_due TIMESTAMPTZ;
    v_next runs;
BEGIN
    -- lease bookkeeping: lost in a database crash, the run is simply pending again
    PERFORM set_config('synchronous_commit', 'off', true);
    -- step 0: take back this worker's offers; runs that took one (still running here) are
    -- returned first (the worker may not have heard of them yet: it dedupes) and count
    -- against p_limit
    WITH gone AS (DELETE FROM worker_slot_offers WHERE worker_id = p_worker RETURNING run_id)
    SELECT array_agg(run_id) INTO v_taken FROM gone WHERE run_id IS NOT NULL;
    IF v_taken IS NOT NULL THEN
        RETURN QUERY SELECT * FROM runs
        WHERE run_id = ANY(v_taken) AND status = 'running' AND worker_id = p_worker;
        GET DIAGNOSTICS v_n = ROW_COUNT;
        v_claimed := v_n;
    END IF;
{CLAIM_STEPS}    IF p_offer_channel IS NOT NULL AND v_claimed < p_limit AND p_offers > 0 THEN
        INSERT INTO worker_slot_offers (worker_id, channel, expires_at)
        SELECT p_worker, p_offer_channel, now() + p_lease * interval '1 second'
        FROM generate_series(1, least(p_offers, p_limit - v_claimed));
    END IF;
{NEXT_DUE_ROW}END
$fn$
"""

UPGRADE = [
    "CREATE UNLOGGED TABLE IF NOT EXISTS worker_slot_offers (offer_id BIGINT GENERATED ALWAYS "
    "AS IDENTITY PRIMARY KEY, worker_id TEXT NOT NULL, channel TEXT NOT NULL, "
    "expires_at TIMESTAMPTZ NOT NULL, run_id TEXT)",
    "CREATE INDEX IF NOT EXISTS worker_slot_offers_worker ON worker_slot_offers (worker_id)",
    CLAIM,
]

DOWNGRADE = [
    "DROP FUNCTION IF EXISTS threadloom_claim(TEXT, INTEGER, FLOAT8, TEXT, INTEGER)",
    "DROP TABLE IF EXISTS worker_slot_offers",
]


def upgrade() -> None:
    connection = op.get_bind()
    for statement in UPGRADE:
        connection.exec_driver_sql(statement)


def downgrade() -> None:
    connection = op.get_bind()
    for statement in DOWNGRADE:
        connection.exec_driver_sql(statement)
