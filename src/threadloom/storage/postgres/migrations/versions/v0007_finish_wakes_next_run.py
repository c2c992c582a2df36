"""A run's end wakes the workers itself, and only when another run waits on its thread.

Until now every worker process woke every other one (through Redis) whenever a run on a thread
ended, in case a run queued behind it on that thread could start; each woken worker then ran a
claim. Usually nothing waits, and with N workers that was N claims for nothing per run — the
claim being the most expensive statement of a run's life.

`threadloom_finish` now looks, after it has locked and updated the thread, for a pending run on
that thread and NOTIFYs the workers' common channel (`queries.NOTIFY_CHANNEL`) only then. The
look is a statement of its own, so it sees every run inserted before the thread lock was granted
(run inserts take that lock too); a run inserted afterwards finds the thread free and wakes the
workers itself. The wake-up now also rides the commit: a worker that dies right after finishing
can no longer lose it. Workers from an earlier release still wake through Redis as well, which
costs nothing but the claims it always cost; the signature is unchanged, so mixed releases work.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23
"""

from __future__ import annotations

from alembic import op

from threadloom.storage.postgres.migrations.versions import v0003_queue_functions

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_TAIL = "    RETURN NEXT v_run;\nEND\n$fn$"
_WAKE = """    -- another run waits on this thread: wake the workers (its own wake-up found the thread
    -- busy). The channel is queries.NOTIFY_CHANNEL.
    IF EXISTS (SELECT 1 FROM runs x WHERE x.thread_id = v_thread AND x.status = 'pending') THEN
        PERFORM pg_notify('threadloom_runs', '');
    END IF;
"""
assert v0003_queue_functions.FINISH.count(_TAIL) == 1
FINISH = v0003_queue_functions.FINISH.replace(_TAIL, _WAKE + _TAIL)


def upgrade() -> None:
    op.get_bind().exec_driver_sql(FINISH)


def downgrade() -> None:
    op.get_bind().exec_driver_sql(v0003_queue_functions.FINISH)
