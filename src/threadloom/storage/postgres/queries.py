"""Every SQL statement of the PostgreSQL backend, by name (the procrastinate way).

Conventions: `%s` / `%(name)s` placeholders only (values never reach the SQL text); timestamps
come from the database clock (`now()`, the transaction's start) so every process of a cluster
agrees; a transaction that touches a thread's runs locks the thread row first
(`FOR NO KEY UPDATE`, which still lets inserts check their foreign key), so the lock order is
always thread → runs and concurrent API processes and workers serialise per thread.
"""

from __future__ import annotations

from threadloom.storage.postgres.rows import (
    ASSISTANT_COLUMNS,
    RUN_COLUMNS,
    RUN_FIELDS,
    THREAD_COLUMNS,
    VERSION_COLUMNS,
)

# --- assistants ---------------------------------------------------------------------------
GET_ASSISTANT = f"SELECT {ASSISTANT_COLUMNS} FROM assistants WHERE assistant_id = %s"
INSERT_ASSISTANT = (
    f"INSERT INTO assistants ({ASSISTANT_COLUMNS}) "
    "VALUES (%s, %s, %s, %s, %s, 1, %s, %s, now(), now()) "
    f"ON CONFLICT (assistant_id) DO NOTHING RETURNING {ASSISTANT_COLUMNS}"
)
COPY_CURRENT_TO_VERSIONS = (
    "INSERT INTO assistant_versions (assistant_id, version, graph_id, name, description, "
    "config, context, metadata, created_at) SELECT assistant_id, version, graph_id, name, "
    "description, config, context, metadata, updated_at FROM assistants WHERE assistant_id = %s"
)
REFRESH_SYSTEM_ASSISTANT = (
    "UPDATE assistants SET name = %(name)s, description = %(description)s, updated_at = now() "
    "WHERE assistant_id = %(assistant_id)s "
    "AND (name IS DISTINCT FROM %(name)s OR description IS DISTINCT FROM %(description)s) "
    f"RETURNING {ASSISTANT_COLUMNS}"
)
REFRESH_SYSTEM_VERSION = (
    "UPDATE assistant_versions SET name = %s, description = %s "
    "WHERE assistant_id = %s AND version = %s"
)
LOCK_ASSISTANT = "SELECT 1 FROM assistants WHERE assistant_id = %s FOR UPDATE"
MAX_VERSION = "SELECT max(version) AS v FROM assistant_versions WHERE assistant_id = %s"
INSERT_VERSION = (
    "INSERT INTO assistant_versions (assistant_id, version, graph_id, name, description, "
    "config, context, metadata, created_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, now())"
)
WRITE_CURRENT = (
    "UPDATE assistants SET graph_id = %s, config = %s, context = %s, metadata = %s, "
    "version = %s, name = %s, description = %s, updated_at = now() WHERE assistant_id = %s "
    f"RETURNING {ASSISTANT_COLUMNS}"
)
GET_VERSION = (
    f"SELECT {VERSION_COLUMNS} FROM assistant_versions WHERE assistant_id = %s AND version = %s"
)
LIST_VERSIONS = (
    "SELECT v.assistant_id, v.graph_id, v.config, v.context, v.metadata, v.version, v.name, "
    "v.description, v.created_at, v.created_at AS updated_at "
    "FROM assistant_versions v JOIN assistants a ON a.assistant_id = v.assistant_id "
    "WHERE v.assistant_id = %s AND ({access}) AND ({meta}) "
    "ORDER BY v.version DESC LIMIT %s OFFSET %s"
)

# --- threads ------------------------------------------------------------------------------
INFLIGHT_EXISTS = (
    "EXISTS (SELECT 1 FROM runs WHERE runs.thread_id = threads.thread_id "
    "AND runs.status IN ('pending', 'running'))"
)
STATUS_EXPR = f"CASE WHEN {INFLIGHT_EXISTS} THEN 'busy' ELSE snapshot_status END"
# activity pushes a thread's TTL expiry forward
TTL_REFRESH_EXPR = (
    "CASE WHEN ttl_minutes IS NULL THEN ttl_expires_at "
    "ELSE now() + ttl_minutes * interval '1 minute' END"
)
GET_THREAD = f"SELECT {THREAD_COLUMNS} FROM threads WHERE thread_id = %s"
LOCK_THREAD = f"SELECT {THREAD_COLUMNS} FROM threads WHERE thread_id = %s FOR NO KEY UPDATE"
# what a run's creation needs of its thread: not its state, which can be megabytes
LOCK_THREAD_METADATA = "SELECT metadata FROM threads WHERE thread_id = %s FOR NO KEY UPDATE"
LOCK_THREAD_WHERE = (
    f"SELECT {THREAD_COLUMNS} FROM threads WHERE thread_id = %s AND ({{where}}) FOR NO KEY UPDATE"
)
LOCK_THREADS = (
    "SELECT thread_id FROM threads WHERE thread_id = ANY(%s) ORDER BY thread_id FOR NO KEY UPDATE"
)
INSERT_THREAD = (
    f"INSERT INTO threads ({THREAD_COLUMNS}, snapshot_status) "
    "VALUES (%(thread_id)s, now(), now(), now(), %(metadata)s, '{}', %(status)s, NULL, '{}', "
    "NULL, %(ttl_strategy)s, %(ttl_minutes)s::float8, "
    "COALESCE(%(ttl_expires_at)s::timestamptz, now() + %(ttl_minutes)s::float8 * interval '1 minute'), 'idle') "
    f"ON CONFLICT (thread_id) DO NOTHING RETURNING {THREAD_COLUMNS}"
)
UPDATE_THREAD_TTL = (
    "UPDATE threads SET metadata = %(metadata)s, updated_at = now(), "
    "ttl_strategy = %(ttl_strategy)s, ttl_minutes = %(ttl_minutes)s, "
    "ttl_expires_at = COALESCE(%(ttl_expires_at)s::timestamptz, now() + %(ttl_minutes)s::float8 * interval '1 minute') "
    f"WHERE thread_id = %(thread_id)s RETURNING {THREAD_COLUMNS}"
)
UPDATE_THREAD_METADATA = (
    f"UPDATE threads SET metadata = %s, updated_at = now(), ttl_expires_at = {TTL_REFRESH_EXPR} "
    f"WHERE thread_id = %s RETURNING {THREAD_COLUMNS}"
)
REFRESH_STATUS = (
    f"UPDATE threads SET status = {STATUS_EXPR}, updated_at = now() WHERE thread_id = ANY(%s)"
)
WRITE_SNAPSHOT = (
    "UPDATE threads SET snapshot_status = %(status)s, "
    f"status = CASE WHEN {INFLIGHT_EXISTS} THEN 'busy' ELSE %(status)s END, "
    "state_values = %(values)s, interrupts = %(interrupts)s, error = %(error)s, "
    f"state_updated_at = now(), updated_at = now(), ttl_expires_at = {TTL_REFRESH_EXPR} "
    f"WHERE thread_id = %(thread_id)s RETURNING {THREAD_COLUMNS}"
)
# the TTL sweep (`PostgresThreadStore.sweep_expired`, after `sql_builders.expired_threads`)
PUSH_THREAD_EXPIRY = (
    "UPDATE threads SET ttl_expires_at = %s + ttl_minutes * interval '1 minute' "
    "WHERE thread_id = ANY(%s)"
)
DELETE_THREAD_RUNS = "DELETE FROM runs WHERE thread_id = ANY(%s) RETURNING thread_id, run_id"
DELETE_THREADS_WITH_CHECKPOINTS = (
    "DELETE FROM checkpoint_writes WHERE thread_id = ANY(%s)",
    "DELETE FROM checkpoint_blobs WHERE thread_id = ANY(%s)",
    "DELETE FROM checkpoints WHERE thread_id = ANY(%s)",
    "DELETE FROM threads WHERE thread_id = ANY(%s)",
)
MARK_THREAD_BUSY = (
    "UPDATE threads SET metadata = COALESCE(%s, metadata), status = 'busy', updated_at = now(), "
    f"ttl_expires_at = {TTL_REFRESH_EXPR} WHERE thread_id = %s"
)

# --- runs ---------------------------------------------------------------------------------
INSERT_RUN = f"INSERT INTO runs ({RUN_COLUMNS}) VALUES ({', '.join(['%s'] * len(RUN_FIELDS))})"
# Workers LISTEN on this channel (`PostgresStorage.listen_for_runs`). Only inserts that commit
# without waiting for the disk (/wait runs) NOTIFY: PostgreSQL serialises notifying commits on
# one lock held until they are flushed, so a durable insert wakes workers through Redis instead.
NOTIFY_CHANNEL = "threadloom_runs"
NOTIFY = f"SELECT pg_notify('{NOTIFY_CHANNEL}', '')"


# a run on a new thread in one statement and one round trip: the thread insert does nothing if
# the thread exists, and then neither does the run insert (the caller takes the general path);
# `sync` is synchronous_commit for this statement's implicit transaction ('on' or 'off'); the
# guard CTEs are MATERIALIZED and used in WHERE so the planner cannot drop them as unused
_NEW_THREAD_CTES = [
    f"t AS (INSERT INTO threads ({THREAD_COLUMNS}, snapshot_status) VALUES (%(thread_id)s, "
    "now(), now(), now(), %(metadata)s, '{}', 'busy', NULL, '{}', NULL, %(ttl_strategy)s, "
    "%(ttl_minutes)s::float8, now() + %(ttl_minutes)s::float8 * interval '1 minute', "
    "'idle') ON CONFLICT (thread_id) DO NOTHING RETURNING thread_id)",
    "s AS MATERIALIZED (SELECT set_config('synchronous_commit', %(sync)s, true) AS sync)",
    "a AS MATERIALIZED "
    "(SELECT threadloom_check_assistant(%(aid)s, %(aversion)s, %(aupdated)s) AS current)",
]
_NEW_THREAD_VALUES = [f"%(r{i})s" for i in range(len(RUN_FIELDS))]

INSERT_RUN_ON_NEW_THREAD = (
    f"WITH {', '.join(_NEW_THREAD_CTES)} INSERT INTO runs ({RUN_COLUMNS}) "
    f"SELECT {', '.join(_NEW_THREAD_VALUES)} FROM t, s, a WHERE s.sync IS NOT NULL AND a.current "
    "RETURNING run_id, worker_id"
)


def _assigned(field: str, value: str) -> str:
    index = RUN_FIELDS.index(field)
    return f"CASE WHEN o.worker_id IS NULL THEN %(r{index})s ELSE {value} END"


_ASSIGNED_VALUES = list(_NEW_THREAD_VALUES)
for _field, _value in (
    ("status", "'running'"),
    ("started_at", "now()"),
    ("attempt", "1"),
    ("worker_id", "o.worker_id"),
    ("lease_expires_at", "now() + %(lease)s * interval '1 second'"),
):
    _ASSIGNED_VALUES[RUN_FIELDS.index(_field)] = _assigned(_field, _value)

# a /wait run on a new thread (commit not waiting for the disk, see NOTIFY_CHANNEL): takes one
# live worker offer (migration 0006) if there is one and is inserted running, leased to that
# worker, whose own channel gets the run itself (just its id when too long for a payload);
# without an offer it is inserted pending and the workers' common channel is notified
INSERT_RUN_ON_NEW_THREAD_NOTIFY = (
    f"WITH {', '.join(_NEW_THREAD_CTES)}, "
    "o AS MATERIALIZED (UPDATE worker_slot_offers SET run_id = %(r0)s WHERE offer_id = ("
    "SELECT w.offer_id FROM worker_slot_offers w, t, a WHERE a.current AND w.run_id IS NULL "
    "AND w.expires_at > now() LIMIT 1 FOR UPDATE OF w SKIP LOCKED) RETURNING worker_id, channel), "
    f"ins AS (INSERT INTO runs ({RUN_COLUMNS}) SELECT {', '.join(_ASSIGNED_VALUES)} "
    "FROM t CROSS JOIN s CROSS JOIN a LEFT JOIN o ON true "
    "WHERE s.sync IS NOT NULL AND a.current RETURNING *) "
    "SELECT ins.run_id, ins.worker_id, pg_notify("
    f"COALESCE(o.channel, '{NOTIFY_CHANNEL}'), CASE WHEN o.channel IS NULL THEN '' "
    "WHEN octet_length(p.payload) < 7900 THEN p.payload ELSE ins.run_id::text END) "
    "FROM ins LEFT JOIN o ON true CROSS JOIN LATERAL (SELECT row_to_json(ins)::text AS payload) p"
)
SYNC_COMMIT_OFF = "SET LOCAL synchronous_commit TO off"
# raises SQLSTATE TL001 (→ StaleAssistant) unless the assistant is still at that version
CHECK_ASSISTANT = "SELECT threadloom_check_assistant(%s, %s, %s)"
STALE_ASSISTANT_SQLSTATE = "TL001"
INFLIGHT_RUNS = (
    f"SELECT {RUN_COLUMNS} FROM runs WHERE thread_id = %s "
    "AND status IN ('pending', 'running') ORDER BY created_at, seq"
)
# the finish is a function (migration 0003): run, thread (or its deletion), one round trip
_FINISH_CALL = "threadloom_finish(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
DELETE_PENDING_RUN = "DELETE FROM runs WHERE run_id = %s AND status = 'pending' RETURNING run_id"
CANCEL_PENDING_RUN = (
    "UPDATE runs SET status = 'interrupted', stop_reason = 'cancelled', ended_at = now(), "
    "updated_at = now(), cancel_requested = %s "
    f"WHERE run_id = %s AND status = 'pending' RETURNING {RUN_COLUMNS}"
)
FLAG_RUNNING_RUN = (
    "UPDATE runs SET cancel_requested = %s, updated_at = now() "
    f"WHERE run_id = %s AND status = 'running' RETURNING {RUN_COLUMNS}"
)
RECORD_PROGRESS = (
    "UPDATE runs SET first_token_at = COALESCE(first_token_at, %(first_token_at)s), "
    "usage = COALESCE(%(usage)s, usage), steps = COALESCE(%(steps)s, steps), "
    "model_snapshot = COALESCE(%(model_snapshot)s, model_snapshot), updated_at = now() "
    "WHERE run_id = %(run_id)s"
)
SET_WEBHOOK = "UPDATE runs SET webhook = %s WHERE run_id = %s"

# --- the queue ----------------------------------------------------------------------------
_THREAD_NOT_RUNNING = (
    "NOT EXISTS (SELECT 1 FROM runs x WHERE x.thread_id = r.thread_id AND x.status = 'running')"
)
# the claim is a function (migration 0003): two statements, two snapshots, one round trip
CLAIM = "SELECT * FROM threadloom_claim(%s, %s, %s, %s, %s)"
NEXT_DUE = (
    f"SELECT r.created_at FROM runs r WHERE r.status = 'pending' AND {_THREAD_NOT_RUNNING} "
    "ORDER BY r.created_at LIMIT 1"
)
HEARTBEAT = (
    "UPDATE runs SET lease_expires_at = now() + %s * interval '1 second' "
    "WHERE status = 'running' AND worker_id = %s AND run_id = ANY(%s) RETURNING run_id"
)
REQUEUE = (
    "UPDATE runs SET status = 'pending', worker_id = NULL, lease_expires_at = NULL, "
    "updated_at = now() WHERE status = 'running' AND run_id = ANY(%s) "
    "AND (%s::text IS NULL OR worker_id = %s) RETURNING run_id"
)
# --- worker offers (migration 0006) ---------------------------------------------------------
RENEW_OFFER = (
    "UPDATE worker_slot_offers SET expires_at = now() + %s * interval '1 second' "
    "WHERE worker_id = %s AND run_id IS NULL AND expires_at > now() RETURNING offer_id"
)
WITHDRAW_OFFER = "DELETE FROM worker_slot_offers WHERE worker_id = %s RETURNING run_id"
# the slot of a run that ends goes back on offer in the statement that finishes the run: the
# offer row the run took is opened again, or (a claim took that row back meanwhile, or the run
# was claimed) a new one is posted
_REOFFER_CTES = (
    "re AS (UPDATE worker_slot_offers SET run_id = NULL, "
    "expires_at = now() + %s * interval '1 second' "
    "WHERE worker_id = %s AND run_id = %s RETURNING offer_id), "
    "post AS (INSERT INTO worker_slot_offers (worker_id, channel, expires_at) "
    "SELECT %s, %s, now() + %s * interval '1 second' WHERE NOT EXISTS (SELECT 1 FROM re))"
)
# synchronous_commit off for the statement's own implicit transaction; a statement using it
# reads `relaxed.off` in its WHERE, so the planner keeps the CTE
RELAXED = "relaxed AS MATERIALIZED (SELECT set_config('synchronous_commit', 'off', true) AS off)"


def _finish(*, reoffer: bool, relaxed: bool) -> str:
    """A run's end (`threadloom_finish`); `reoffer`: its slot goes back on offer in the same
    statement (params first); `relaxed`: the commit does not wait for the disk (a stateless
    run's end, which only deletes: docs/deployment.md, "Stateless runs checkpoint late")."""
    ctes = ([_REOFFER_CTES] if reoffer else []) + ([RELAXED] if relaxed else [])
    head = f"WITH {', '.join(ctes)} " if ctes else ""
    if relaxed:
        return head + f"SELECT f.* FROM relaxed, {_FINISH_CALL} AS f WHERE relaxed.off IS NOT NULL"
    return head + f"SELECT * FROM {_FINISH_CALL}"


# keyed by (reoffer, relaxed)
FINISH = {(o, r): _finish(reoffer=o, relaxed=r) for o in (False, True) for r in (False, True)}
DROP_EXPIRED_OFFERS = "DELETE FROM worker_slot_offers WHERE expires_at < now()"
REAP_EXPIRED = (
    "UPDATE runs SET status = 'pending', worker_id = NULL, lease_expires_at = NULL, "
    "updated_at = now() WHERE status = 'running' AND lease_expires_at < %s "
    f"RETURNING {RUN_COLUMNS}, seq"
)

# --- checkpoints (tables owned by langgraph-checkpoint-postgres) ---------------------------
DELETE_RUN_CHECKPOINTS = """
WITH deleted AS (
    DELETE FROM checkpoints
    WHERE thread_id = %(thread_id)s AND metadata ->> 'run_id' = %(run_id)s
    RETURNING checkpoint_ns, checkpoint_id, checkpoint -> 'channel_versions' AS versions
), writes AS (
    DELETE FROM checkpoint_writes w USING deleted d
    WHERE w.thread_id = %(thread_id)s AND w.checkpoint_ns = d.checkpoint_ns
      AND w.checkpoint_id = d.checkpoint_id
)
SELECT DISTINCT d.checkpoint_ns, v.key AS channel, v.value AS version
FROM deleted d CROSS JOIN LATERAL jsonb_each_text(d.versions) AS v
"""
# blobs the deleted checkpoints used that no remaining checkpoint of the thread uses
DELETE_UNUSED_BLOBS = """
DELETE FROM checkpoint_blobs b
USING unnest(%(ns)s::text[], %(channels)s::text[], %(versions)s::text[]) AS g(ns, channel, version)
WHERE b.thread_id = %(thread_id)s AND b.checkpoint_ns = g.ns AND b.channel = g.channel
  AND b.version = g.version
  AND NOT EXISTS (
      SELECT 1 FROM checkpoints c
      WHERE c.thread_id = b.thread_id AND c.checkpoint_ns = b.checkpoint_ns
        AND c.checkpoint -> 'channel_versions' ->> b.channel = b.version
  )
"""
COPY_CHECKPOINTS = """
INSERT INTO checkpoints (thread_id, checkpoint_ns, checkpoint_id, parent_checkpoint_id, type,
                         checkpoint, metadata)
SELECT %(target)s, checkpoint_ns, checkpoint_id, parent_checkpoint_id, type, checkpoint,
       CASE WHEN metadata ? 'thread_id'
            THEN jsonb_set(metadata, '{thread_id}', to_jsonb(%(target)s::text))
            ELSE metadata END
FROM checkpoints WHERE thread_id = %(source)s
ON CONFLICT DO NOTHING
"""
COPY_BLOBS = """
INSERT INTO checkpoint_blobs (thread_id, checkpoint_ns, channel, version, type, blob)
SELECT %(target)s, checkpoint_ns, channel, version, type, blob
FROM checkpoint_blobs WHERE thread_id = %(source)s
ON CONFLICT DO NOTHING
"""
COPY_WRITES = """
INSERT INTO checkpoint_writes (thread_id, checkpoint_ns, checkpoint_id, task_id, task_path, idx,
                               channel, type, blob)
SELECT %(target)s, checkpoint_ns, checkpoint_id, task_id, task_path, idx, channel, type, blob
FROM checkpoint_writes WHERE thread_id = %(source)s
ON CONFLICT DO NOTHING
"""


# --- long-term memory store ------------------------------------------------------------------
TRY_STORE_SWEEP_LOCK = "SELECT pg_try_advisory_xact_lock(%(key)s) AS locked"
DELETE_EXPIRED_STORE_ITEMS = "DELETE FROM store WHERE expires_at IS NOT NULL AND expires_at < NOW()"


def store_sweep_lock_key(schema: str | None) -> int:
    """The advisory lock one store sweep holds (per schema), so processes sweep in turn."""
    import hashlib

    digest = hashlib.blake2b(f"threadloom-store-sweep:{schema or ''}".encode(), digest_size=8)
    return int.from_bytes(digest.digest(), "big", signed=True)
